package seccompprofile

import (
	"os"
	"slices"
	"strings"
	"testing"

	seccomp "github.com/elastic/go-seccomp-bpf"
)

func TestShippedProfile(t *testing.T) {
	data, err := os.ReadFile("../../../deploy/seccomp/ai-model-registry.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := p.Policy()
	if err != nil {
		t.Fatalf("the shipped profile cannot be enforced: %v", err)
	}
	if pol.DefaultAction != seccomp.ActionErrno {
		t.Errorf("default action %v, want errno", pol.DefaultAction)
	}
	names := p.Names()
	// What the store's promises rest on (README: Durable, Fast).
	for _, want := range []string{"fdatasync", "fsync", "linkat", "renameat", "flock", "sendfile", "execve"} {
		if !slices.Contains(names, want) {
			t.Errorf("profile lacks %s", want)
		}
	}
	// What a registry never needs.
	for _, never := range []string{"ptrace", "mount", "unshare", "setns", "bpf", "init_module", "kexec_load", "keyctl", "ioctl"} {
		if slices.Contains(names, never) {
			t.Errorf("profile allows %s", never)
		}
	}
	t.Logf("%d system calls allowed", len(names))
}

func TestProfileRefusesWhatItCannotEnforce(t *testing.T) {
	const rule = `{"names": ["read"], "action": "SCMP_ACT_ALLOW"}`
	profile := func(defaultAction, extra, rules string) string {
		return `{"defaultAction": "` + defaultAction + `", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]` + extra + `, "syscalls": [` + rules + `]}`
	}
	cases := []struct {
		name, json, want string
	}{
		{"allow by default", profile("SCMP_ACT_ALLOW", "", rule), "only SCMP_ACT_ERRNO"},
		{"another errno", profile("SCMP_ACT_ERRNO", `, "defaultErrnoRet": 38`, rule), "only 1 (EPERM)"},
		{"another architecture", `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_S390X"], "syscalls": [` + rule + `]}`, "this machine's"},
		{"log action", profile("SCMP_ACT_ERRNO", "", `{"names": ["read"], "action": "SCMP_ACT_LOG"}`), "only SCMP_ACT_ALLOW"},
		{"unknown field", profile("SCMP_ACT_ERRNO", "", `{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}`), "unknown field"},
		{"unknown syscall", profile("SCMP_ACT_ERRNO", "", `{"names": ["no_such_call"], "action": "SCMP_ACT_ALLOW"}`), "unknown syscalls"},
		{"masked compare to non-zero", profile("SCMP_ACT_ERRNO", "", `{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 255, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}]}`), "not supported"},
		{"seventh argument", profile("SCMP_ACT_ERRNO", "", `{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 2, "op": "SCMP_CMP_EQ"}]}`), "six arguments"},
		{"trailing data", profile("SCMP_ACT_ERRNO", "", rule) + "{}", "after the JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.json))
			if err == nil {
				_, err = p.Policy()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestProfileArgumentRules(t *testing.T) {
	p, err := Parse([]byte(`{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"], "syscalls": [
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]},
		{"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
		{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := p.Policy()
	if err != nil {
		t.Fatal(err)
	}
	g := pol.Syscalls[0]
	if !slices.Equal(g.Names, []string{"read"}) || len(g.NamesWithCondtions) != 2 ||
		g.NamesWithCondtions[1].Conditions[0] != (seccomp.Condition{Argument: 0, Operation: seccomp.Equal, Value: 10}) {
		t.Errorf("policy %+v: want read unconditionally and socket for AF_INET or AF_INET6", g)
	}
	if got := p.Names(); !slices.Equal(got, []string{"socket", "read"}) {
		t.Errorf("Names() = %v, want [socket read]", got)
	}
}
