package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")
	text := v1("signatures:", "  - name: ci", "    public_key_file: keys/ci.pub", "  - name: release", "    public_key_file: "+filepath.Join(dir, "abs.pub"))
	writeFile(t, path, text)
	writeFile(t, filepath.Join(dir, "keys", "ci.pub"), pubEd25519)
	writeFile(t, filepath.Join(dir, "abs.pub"), "\n"+pubECDSA+"\n")

	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.URI() != path || p.Digest() != digest.FromBytes([]byte(text)) || p.Version() != "1" {
		t.Fatalf("uri %q digest %s version %q", p.URI(), p.Digest(), p.Version())
	}
	keys := p.SignatureKeys()
	if len(keys) != 2 || string(keys[0].PEM) != pubEd25519 || string(keys[1].PEM) != pubECDSA {
		t.Fatalf("%+v", keys)
	}
	// YAML inlines the keys, so the text stands on its own.
	q := mustParse(t, string(p.YAML()))
	if !equalRules(p.r, q.r) {
		t.Fatalf("inlined keys differ:\n%s", p.YAML())
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "private.pem"), privEd25519)
	writeFile(t, filepath.Join(dir, "big.pub"), strings.Repeat("#", MaxKeyFileBytes+1))
	writeFile(t, filepath.Join(dir, "a.pub"), pubECDSA)
	if err := os.Mkdir(filepath.Join(dir, "keydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		{"key file missing", v1("signatures:", "  - name: a", "    public_key_file: nowhere.pub"), 4, `signatures[0].public_key_file: cannot read "nowhere.pub"`},
		{"key file is private", v1("signatures:", "  - name: a", "    public_key_file: private.pem"), 4, `"private.pem": this is a private key`},
		{"key file too big", v1("signatures:", "  - name: a", "    public_key_file: big.pub"), 4, "more than the limit of 65536"},
		{"key file a directory", v1("signatures:", "  - name: a", "    public_key_file: keydir"), 4, "is not a regular file"},
		{"key inline and as a file", v1("signatures:", "  - name: a", "    public_key_file: a.pub", "    public_key: "+block("      ", pubEd25519)), 5, "signatures[0]: public_key and public_key_file together"},
		{"same key inline and as a file", v1("signatures:", "  - name: a", "    public_key_file: a.pub", "  - name: b", "    public_key: "+block("      ", pubECDSA)), 6, "signatures[1]: the same public key is already listed on line 4"},
		{"content error", v1("max_size_bytes: -5"), 2, "max_size_bytes: -5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "policy.yaml")
			writeFile(t, path, tc.in)
			p, err := Load(path)
			if err == nil {
				t.Fatalf("accepted:\n%s", p.YAML())
			}
			wantErr(t, err, path, tc.line, tc.msg)
		})
	}
}

func TestLoadFileProblems(t *testing.T) {
	dir := t.TempDir()

	_, err := Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	var pe *Error
	if errors.As(err, &pe) {
		t.Fatalf("an unreadable file is not a content *Error: %v", err)
	}

	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("directory: %v", err)
	}

	big := filepath.Join(dir, "big.yaml")
	writeFile(t, big, v1(strings.Repeat("#", MaxFileBytes)))
	_, err = Load(big)
	wantErr(t, err, big, 0, "more than the limit of 1048576")

	empty := filepath.Join(dir, "empty.yaml")
	writeFile(t, empty, "")
	_, err = Load(empty)
	wantErr(t, err, empty, 0, "no YAML document")
}
