package token

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFile(t *testing.T) {
	h1, h2 := Hash(strings.Repeat("a", 40)), Hash(strings.Repeat("b", 40))
	ok := "version: 1\ntokens:\n  - name: scanner\n    role: reader\n    sha256: \"" + h1 + "\"\n  - name: ci.push-1\n    role: pusher\n    sha256: " + h2 + "\n"
	s, err := ParseFile([]byte(ok))
	if err != nil || s.Len() != 2 {
		t.Fatalf("ParseFile = %v, %v", s, err)
	}
	if n, found := s.Match(strings.Repeat("b", 40)); !found || n.Name != "ci.push-1" || n.Role != Pusher {
		t.Errorf("Match = %+v %v", n, found)
	}
	if _, found := s.Match(strings.Repeat("c", 40)); found {
		t.Error("an unknown token matched")
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown field", "version: 1\ntokens:\n  - name: a\n    role: reader\n    sha256: " + h1 + "\n    expires: never\n", "line 6: field expires not found"},
		{"duplicate key", "version: 1\ntokens:\n  - name: a\n    name: b\n    role: reader\n    sha256: " + h1 + "\n", "already defined"},
		{"bad role", "version: 1\ntokens:\n  - name: a\n    role: root\n    sha256: " + h1 + "\n", `role "root"`},
		{"bad hash", "version: 1\ntokens:\n  - name: a\n    role: reader\n    sha256: abc\n", "64 lowercase hex"},
		{"upper hash", "version: 1\ntokens:\n  - name: a\n    role: reader\n    sha256: " + strings.ToUpper(h1) + "\n", "64 lowercase hex"},
		{"same token twice", "version: 1\ntokens:\n  - name: a\n    role: reader\n    sha256: " + h1 + "\n  - name: b\n    role: admin\n    sha256: " + h1 + "\n", "listed twice"},
		{"same name twice", "version: 1\ntokens:\n  - name: a\n    role: reader\n    sha256: " + h1 + "\n  - name: a\n    role: admin\n    sha256: " + h2 + "\n", `name "a" is listed twice`},
		{"reserved name", "version: 1\ntokens:\n  - name: system\n    role: admin\n    sha256: " + h1 + "\n", "reserved"},
		{"bad name", "version: 1\ntokens:\n  - name: \"Bad Name\"\n    role: admin\n    sha256: " + h1 + "\n", "name"},
		{"wrong version", "version: 2\ntokens: []\n", "version 2"},
		{"second document", "version: 1\ntokens: []\n---\nversion: 1\n", "one YAML document"},
		{"empty", "", "empty"},
	} {
		if _, err := ParseFile([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadFileRefusesWritableFiles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(p, []byte("version: 1\ntokens: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("world-writable tokens file: %v", err)
	}
}
