// Package seccompprofile reads a seccomp profile in the OCI/Docker JSON
// format (deploy/seccomp/ai-model-registry.json) and turns it into a BPF
// filter policy for github.com/elastic/go-seccomp-bpf, so that the e2e
// tests run the registry under exactly the profile a container runtime
// would load.
//
// It must never approximate: a field or operator it cannot enforce as a
// runtime would (includes, excludes, other actions, other errnos) is
// refused, not skipped, since a test under a looser filter than the one
// shipped proves nothing.
package seccompprofile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"

	seccomp "github.com/elastic/go-seccomp-bpf"
)

// Profile is the part of the OCI/Docker seccomp profile format this
// package enforces.
type Profile struct {
	DefaultAction   string   `json:"defaultAction"`
	DefaultErrnoRet *uint    `json:"defaultErrnoRet,omitempty"`
	Architectures   []string `json:"architectures"`
	Syscalls        []Rule   `json:"syscalls"`
}

// Rule is one entry of the profile's syscalls list.
type Rule struct {
	Names   []string `json:"names"`
	Action  string   `json:"action"`
	Args    []Arg    `json:"args,omitempty"`
	Comment string   `json:"comment,omitempty"`
}

// Arg is a condition on one argument of the syscalls of a rule, as
// libseccomp compares it: op(argument[Index], Value[, ValueTwo]).
type Arg struct {
	Index    uint32 `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// eperm is the errno of SCMP_ACT_ERRNO when defaultErrnoRet is absent,
// and the only one go-seccomp-bpf returns.
const eperm = 1

// nativeArch maps GOARCH to the profile's name of it.
var nativeArch = map[string]string{
	"amd64": "SCMP_ARCH_X86_64",
	"arm64": "SCMP_ARCH_AARCH64",
}

// Parse decodes a profile strictly: unknown fields are refused.
func Parse(data []byte) (*Profile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("seccomp profile: data after the JSON object")
	}
	return &p, nil
}

// Names returns every syscall name the profile mentions, in profile order.
func (p *Profile) Names() []string {
	var names []string
	for _, r := range p.Syscalls {
		for _, n := range r.Names {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// Policy returns the filter policy that enforces p on this machine's
// architecture, or an error naming what it cannot enforce exactly.
func (p *Profile) Policy() (seccomp.Policy, error) {
	var pol seccomp.Policy
	if p.DefaultAction != "SCMP_ACT_ERRNO" {
		return pol, fmt.Errorf("defaultAction %q: only SCMP_ACT_ERRNO (an allow-list) is supported", p.DefaultAction)
	}
	if p.DefaultErrnoRet != nil && *p.DefaultErrnoRet != eperm {
		return pol, fmt.Errorf("defaultErrnoRet %d: only 1 (EPERM) is supported", *p.DefaultErrnoRet)
	}
	arch, ok := nativeArch[runtime.GOARCH]
	if !ok || !slices.Contains(p.Architectures, arch) {
		return pol, fmt.Errorf("architectures %v do not include this machine's (%s, GOARCH=%s)", p.Architectures, arch, runtime.GOARCH)
	}
	allow := seccomp.SyscallGroup{Action: seccomp.ActionAllow}
	for i, r := range p.Syscalls {
		if r.Action != "SCMP_ACT_ALLOW" {
			return pol, fmt.Errorf("syscalls[%d] (%v): action %q: only SCMP_ACT_ALLOW is supported", i, r.Names, r.Action)
		}
		if len(r.Names) == 0 {
			return pol, fmt.Errorf("syscalls[%d]: no names", i)
		}
		if len(r.Args) == 0 {
			allow.Names = append(allow.Names, r.Names...)
			continue
		}
		conds := make(seccomp.ArgumentConditions, 0, len(r.Args))
		for _, a := range r.Args {
			c, err := condition(a)
			if err != nil {
				return pol, fmt.Errorf("syscalls[%d] (%v): %w", i, r.Names, err)
			}
			conds = append(conds, c)
		}
		// Rules with conditions for the same syscall are alternatives,
		// as in libseccomp; go-seccomp-bpf ORs them the same way.
		for _, n := range r.Names {
			allow.NamesWithCondtions = append(allow.NamesWithCondtions, seccomp.NameWithConditions{Name: n, Conditions: conds})
		}
	}
	pol.DefaultAction = seccomp.ActionErrno
	pol.Syscalls = []seccomp.SyscallGroup{allow}
	// Assemble checks every name against this architecture's table.
	if _, err := pol.Assemble(); err != nil {
		return pol, fmt.Errorf("seccomp profile: %w", err)
	}
	return pol, nil
}

// condition maps a libseccomp comparison to go-seccomp-bpf's.
func condition(a Arg) (seccomp.Condition, error) {
	c := seccomp.Condition{Argument: a.Index, Value: a.Value}
	if a.Index > 5 {
		return c, fmt.Errorf("args index %d: a syscall has six arguments", a.Index)
	}
	ops := map[string]seccomp.Operation{
		"SCMP_CMP_EQ": seccomp.Equal, "SCMP_CMP_NE": seccomp.NotEqual,
		"SCMP_CMP_LT": seccomp.LessThan, "SCMP_CMP_LE": seccomp.LessOrEqual,
		"SCMP_CMP_GT": seccomp.GreaterThan, "SCMP_CMP_GE": seccomp.GreaterOrEqual,
	}
	if op, ok := ops[a.Op]; ok {
		if a.ValueTwo != 0 {
			return c, fmt.Errorf("%s takes no valueTwo", a.Op)
		}
		c.Operation = op
		return c, nil
	}
	// (arg & value) == 0 is the one masked comparison the library has.
	if a.Op == "SCMP_CMP_MASKED_EQ" && a.ValueTwo == 0 {
		c.Operation = seccomp.BitsNotSet
		return c, nil
	}
	return c, fmt.Errorf("args op %q (valueTwo %d) is not supported", a.Op, a.ValueTwo)
}
