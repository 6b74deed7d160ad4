package token

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	good := strings.Repeat("a1", 32)
	for _, tc := range []struct {
		name    string
		content string
		mode    os.FileMode
		want    string // error substring, "" for success
	}{
		{"ok with newline", good + "\n", 0o600, ""},
		{"group readable is accepted", good, 0o640, ""},
		{"too short", "abc", 0o600, "at least 32"},
		{"empty", "", 0o600, "at least 32"},
		{"inner whitespace", good[:20] + " " + good[20:], 0o600, "whitespace"},
		{"group writable", good, 0o620, "writable by group or others"},
		{"world writable", good, 0o606, "writable by group or others"},
		{"too large", strings.Repeat("a", 5000), 0o600, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "tok")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			tok, err := Read(p)
			if tc.want == "" {
				if err != nil || tok != strings.TrimSpace(tc.content) {
					t.Fatalf("Read = %q, %v", tok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read error = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), good) {
				t.Fatal("error message leaks the token")
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
	if _, err := Read(t.TempDir()); err == nil {
		t.Fatal("directory accepted")
	}
}

func TestGenerateNeverOverwrites(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "tok")
	created, err := Generate(p)
	if err != nil || !created {
		t.Fatalf("Generate = %v, %v", created, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v", fi.Mode().Perm())
	}
	tok, err := Read(p)
	if err != nil || len(tok) != 64 {
		t.Fatalf("generated token unreadable: %q %v", tok, err)
	}
	if err := os.WriteFile(p, []byte("operator's own"), 0o600); err != nil {
		t.Fatal(err)
	}
	if created, err := Generate(p); err != nil || created {
		t.Fatalf("second Generate = %v, %v", created, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "operator's own" {
		t.Fatal("existing token file overwritten")
	}
}
