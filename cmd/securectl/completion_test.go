package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// completionScript prints the script for shell and writes it to a file.
func completionScript(t *testing.T, shell string) (string, string) {
	t.Helper()
	t.Setenv("REGISTRY_URL", "http://10.0.0.5:1") // unusable, and not needed
	script := ok(t, "completion", shell)
	path := filepath.Join(t.TempDir(), "securectl."+shell)
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range compVerbs() {
		for _, n := range v.names {
			if !strings.Contains(script, n) {
				t.Errorf("the %s script lacks the verb %q", shell, n)
			}
		}
	}
	return script, path
}

func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, path := completionScript(t, "bash")
	if out, err := exec.Command(bash, "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	for _, c := range commands {
		if !strings.Contains(script, "\t"+strings.Join(c.names, "|")+")\n") {
			t.Errorf("no case for %q", c.names)
		}
	}

	// Complete command lines as bash would: the last word is the one being
	// completed.
	cases := []struct{ line, want string }{
		{"securectl ''", strings.Join(allNames(compVerbs()), " ")},
		{"securectl in", "info integrity"},
		{"securectl --json integ", "integrity"},
		{"securectl -", "--json --help"},
		{"securectl ls --w", "--wide"},
		{"securectl rm --", "--json --reason"},
		{"securectl integrity ''", "run status"},
		{"securectl integrity run ''", ""},
		{"securectl acquire --so", "--source --source-revision"},
		{"securectl acquire --reason ''", ""},                 // a flag's value
		{"securectl policy --scan a=pass ''", "show check"},   // the value is skipped
		{"securectl policy --scan = a=pass ''", "show check"}, // --scan=a=pass, as bash splits it
		{"securectl help pro", "promote"},
		{"securectl completion ''", "bash zsh fish"},
		{"securectl revoke -- -", ""},
		{"securectl frobnicate ''", ""},
	}
	var harness strings.Builder
	harness.WriteString("source " + path + "\n" +
		`t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _securectl 2>/dev/null; echo "${COMPREPLY[*]}"; }` + "\n")
	for _, tc := range cases {
		harness.WriteString("t " + tc.line + "\n")
	}
	out, err := exec.Command(bash, "-c", harness.String()).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(cases) {
		t.Fatalf("%d answers for %d cases:\n%s", len(got), len(cases), out)
	}
	for i, tc := range cases {
		if got[i] != tc.want {
			t.Errorf("%s: completed %q, want %q", tc.line, got[i], tc.want)
		}
	}
}

// TestCompletionZshFish checks the other scripts parse, where the shells
// are installed (they are not in CI), and completes a few lines with fish.
func TestCompletionZshFish(t *testing.T) {
	for _, shell := range []string{"zsh", "fish"} {
		t.Run(shell, func(t *testing.T) {
			_, path := completionScript(t, shell)
			bin, err := exec.LookPath(shell)
			if err != nil {
				t.Skipf("no %s to parse the script with", shell)
			}
			if out, err := exec.Command(bin, "-n", path).CombinedOutput(); err != nil {
				t.Fatalf("%s -n: %v\n%s", shell, err, out)
			}
			if shell != "fish" {
				return
			}
			for line, want := range map[string][]string{
				"securectl integ":        {"integrity"},
				"securectl integrity ":   {"run", "status"},
				"securectl acquire --so": {"--source", "--source-revision"},
				"securectl lock -":       {"--json", "-o"},
			} {
				out, err := exec.Command(bin, "-c", "source "+path+"; complete -C '"+line+"'").CombinedOutput()
				if err != nil {
					t.Fatalf("fish: %v\n%s", err, out)
				}
				var got []string
				for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
					got = append(got, strings.SplitN(l, "\t", 2)[0])
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("%q: completed %q, want %q", line, got, want)
				}
			}
		})
	}
}

func TestCompletionUsage(t *testing.T) {
	fails(t, 2, []string{"completion takes bash, zsh or fish"}, "completion", "tcsh")
	fails(t, 2, []string{"exactly one argument"}, "completion")
}

// TestCompletionWords: the scripts put verb, choice and flag names in
// unquoted; they must be plain words.
func TestCompletionWords(t *testing.T) {
	plain := func(s string) bool {
		return s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
	}
	for _, v := range compVerbs() {
		for _, n := range slices.Concat(v.names, v.choices) {
			if !plain(n) {
				t.Errorf("%q is not a plain word", n)
			}
		}
		for _, f := range v.flags {
			if !plain(f.name) {
				t.Errorf("flag %q is not a plain word", f.name)
			}
		}
	}
}
