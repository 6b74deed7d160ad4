package policy

import (
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// v1 is a policy of version "1" followed by lines, the first of them on
// line 2.
func v1(lines ...string) string {
	return "version: \"1\"\n" + strings.Join(lines, "\n") + "\n"
}

// sigs is v1 with a signatures list of the given keys, named k0, k1, ...,
// each taking 2 + the PEM's lines, then extra.
func sigs(keys []string, extra ...string) string {
	lines := []string{"signatures:"}
	for i, k := range keys {
		lines = append(lines, fmt.Sprintf("  - name: k%d", i), "    public_key: "+block("      ", k))
	}
	return v1(append(lines, extra...)...)
}

// truncated cuts the DER inside a PEM block short, keeping the PEM valid.
func truncated(pemText string) string {
	b, _ := pem.Decode([]byte(pemText))
	b.Bytes = b.Bytes[:len(b.Bytes)-8]
	return string(pem.EncodeToMemory(b))
}

func mustParse(t testing.TB, text string) *Policy {
	t.Helper()
	p, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return p
}

// wantErr checks that err is an *Error at line with msg in its message,
// and that its text starts with the documented prefix.
func wantErr(t *testing.T, err error, file string, line int, msg string) {
	t.Helper()
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("want *Error at line %d containing %q, got %T %v", line, msg, err, err)
	}
	if pe.Line != line || !strings.Contains(pe.Msg, msg) {
		t.Fatalf("want line %d containing %q\n got %v", line, msg, err)
	}
	prefix := file + ": "
	if line > 0 {
		prefix = fmt.Sprintf("%s line %d: ", file, line)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("error %q does not start with %q", err, prefix)
	}
}

func TestParseRejects(t *testing.T) {
	long := strings.Repeat("x", 300)
	many := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf("f%d", i)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		// Unknown fields, at every level.
		{"unknown top-level field", v1("require_quarantene: true"), 2, `unknown field "require_quarantene" at the top level`},
		{"hash_verified is not a key", v1("hash_verified: false"), 2, `unknown field "hash_verified" at the top level`},
		{"dev mode is not a key", v1("dev_mode: true"), 2, `unknown field "dev_mode"`},
		{"unknown scanner field", v1("scanners:", "  - name: modelscan", "    resul: pass"), 4, `unknown field "resul" in scanners[0]`},
		{"unknown signature field", sigs([]string{pubECDSA}, "    key_id: x"), 9, `unknown field "key_id" in signatures[0]`},

		// Duplicate keys.
		{"duplicate top-level key", v1("require_quarantine: true", "require_quarantine: false"), 3, `duplicate key "require_quarantine" in top level (first on line 2)`},
		{"duplicate version", v1(`version: "2"`), 2, `duplicate key "version" in top level (first on line 1)`},
		{"duplicate key quoted differently", v1(`"min_passing_scanners": 1`, "min_passing_scanners: 2"), 3, `duplicate key "min_passing_scanners"`},
		{"duplicate scanner key", v1("scanners:", "  - name: a", "    required: true", "    required: false"), 5, `duplicate key "required" in scanners[0] (first on line 4)`},
		{"duplicate flow key", v1("scanners: [{name: a, name: b}]"), 2, `duplicate key "name" in scanners[0]`},

		// Anchors, aliases, merge keys, tags.
		{"anchor", v1("formats: &f [gguf]"), 2, "formats: anchor &f: anchors and aliases are not allowed"},
		{"anchor before alias", v1("formats: &f [gguf]", "licenses: *f"), 2, "anchor &f"},
		{"alias to nothing", v1("licenses: *f"), 2, "alias *f refers to no anchor"},
		{"anchor on the top level", "&top\nversion: \"1\"\n", 1, "top level: anchor &top"},
		{"anchor in a scanner", v1("scanners:", "  - name: a", "    result: &r pass"), 4, "scanners[0].result: anchor &r"},
		{"merge key", v1("<<: {require_quarantine: true}"), 2, `top level: key must be a string, got merge "<<"`},
		{"str tag", "version: !!str 1\n", 1, `version: explicit tag "!!str" is not allowed`},
		{"seq tag", v1("formats: !!seq [gguf]"), 2, `formats: explicit tag "!!seq"`},
		{"custom tag", v1("require_quarantine: !yes true"), 2, `require_quarantine: explicit tag "!yes"`},
		{"binary tag", v1("sources: [!!binary aGVsbG8=]"), 2, `sources[0]: explicit tag "!!binary"`},

		// Documents.
		{"empty file", "", 0, "no YAML document"},
		{"comments only", "# a policy\n", 0, "no YAML document"},
		{"bare document start", "---\n", 1, "the top level must be a mapping with at least version, got null"},
		{"second document", v1("require_quarantine: true", "---", `version: "2"`), 3, "a second YAML document starts here"},
		{"empty second document", v1("---"), 2, "a second YAML document starts here"},
		{"top-level sequence", "- version: \"1\"\n", 1, "the top level must be a mapping with at least version, got a sequence"},
		{"top-level scalar", "\n\npolicy\n", 3, `the top level must be a mapping with at least version, got string "policy"`},
		{"missing version", "# p\nrequire_quarantine: true\n", 2, "missing version"},

		// Values of the wrong YAML type.
		{"version int", "version: 1\n", 1, `version: want a string, got int "1" (quote it if it is meant as text)`},
		{"version float", "version: 1.0\n", 1, `version: want a string, got float "1.0"`},
		{"version null", "version:\n", 1, "version: want a string, got null"},
		{"version date", "version: 2026-05-01\n", 1, `version: want a string, got timestamp "2026-05-01"`},
		{"bool quoted", v1(`require_quarantine: "true"`), 2, `require_quarantine: want true or false, got string "true"`},
		{"bool yes", v1("allow_one_step_promote: yes"), 2, `allow_one_step_promote: want true or false, got string "yes"`},
		{"bool int", v1("require_tensor_manifest: 1"), 2, `require_tensor_manifest: want true or false, got int "1"`},
		{"scanners not a list", v1("scanners: modelscan"), 2, `scanners: want a sequence, got string "modelscan"`},
		{"scanner not a mapping", v1("scanners: [modelscan]"), 2, `scanners[0]: want a mapping, got string "modelscan"`},
		{"formats a mapping", v1("formats: {gguf: true}"), 2, "formats: want a sequence, got a mapping"},
		{"format int", v1("formats: [gguf, 1]"), 2, `formats[1]: want a string, got int "1"`},
		{"size quoted", v1(`max_size_bytes: "10"`), 2, `max_size_bytes: want an integer, got string "10"`},
		{"size float", v1("max_size_bytes: 1.5e9"), 2, `max_size_bytes: want an integer, got float "1.5e9"`},
		{"size hex", v1("max_size_bytes: 0x10"), 2, `max_size_bytes: want a plain decimal integer, got "0x10"`},
		{"size octal-looking", v1("max_size_bytes: 010"), 2, `want a plain decimal integer, got "010"`},
		{"size beyond int64", v1("max_size_bytes: 9223372036854775808"), 2, `max_size_bytes: integer "9223372036854775808" out of range`},
		{"count float", v1("min_passing_scanners: 1.0"), 2, `min_passing_scanners: want an integer, got float "1.0"`},
		{"versions not a list", v1("scanners:", "  - name: a", `    versions: "0.8.8"`), 4, `scanners[0].versions: want a sequence, got string "0.8.8"`},
		{"version float in versions", v1("scanners:", "  - name: a", "    versions: [0.8]"), 4, `scanners[0].versions[0]: want a string, got float "0.8"`},
		{"min_version float", v1("scanners:", "  - name: a", "    min_version: 1.2"), 4, `scanners[0].min_version: want a string, got float "1.2"`},
		{"key int", v1("1: x"), 2, `top level: key must be a string, got int "1"`},

		// Numbers out of range.
		{"negative size", v1("max_size_bytes: -1"), 2, "max_size_bytes: -1 would refuse every artifact"},
		{"zero size", v1("max_size_bytes: 0"), 2, "max_size_bytes: 0 would refuse every artifact"},
		{"negative passing scanners", v1("min_passing_scanners: -1"), 2, "min_passing_scanners: -1 is out of range; want 0 to 64"},
		{"too many passing scanners", v1("min_passing_scanners: 65"), 2, "min_passing_scanners: 65 is out of range"},

		// Lists.
		{"empty list", v1("formats: []"), 2, "formats: empty list; leave the key out"},
		{"empty scanners", v1("scanners: []"), 2, "scanners: empty list"},
		{"duplicate format", v1("formats: [gguf, GGUF]"), 2, `formats[1]: "GGUF" is already listed on line 2`},
		{"too many formats", v1("formats: " + many(MaxListEntries+1)), 2, "formats: 257 entries, more than the limit of 256"},
		{"bad format", v1(`formats: ["gg uf"]`), 2, `formats[0]: "gg uf" may hold only ASCII letters, digits and "._+-"`},
		{"bad license", v1(`licenses: ["MIT License"]`), 2, `licenses[0]: "MIT License" may hold only`},
		{"license starting with a dash", v1(`licenses: ["-MIT"]`), 2, "must start with an ASCII letter or digit"},

		// Sources (globs).
		{"source doublestar", v1(`sources: ["https://huggingface.co/**"]`), 2, `sources[0]: "https://huggingface.co/**" contains "**"`},
		{"source backslash", v1(`sources: ["https://huggingface.co/TheBloke\\*"]`), 2, `sources[0]: "https://huggingface.co/TheBloke\\*" contains '\'`},
		{"source space", v1(`sources: ["https://example.com/a b"]`), 2, "sources[0]: \"https://example.com/a b\" contains a space"},
		{"source NBSP", v1(`sources: ["https://example.com/a\u00a0b"]`), 2, "contains a space"},
		{"source escaped tab", v1(`sources: ["https://example.com/\t"]`), 2, "contains control character U+0009"},
		{"source empty", v1(`sources: [""]`), 2, `sources[0]: "" is empty`},
		{"duplicate source", v1("sources:", `  - "https://a.example/"`, `  - "https://a.example/"`), 4, `sources[1]: "https://a.example/" is already listed on line 3`},

		// Media types.
		{"media type without subtype", v1(`media_types: ["application"]`), 2, `media_types[0]: "application" is not of the form type/subtype`},
		{"media type bad pattern", v1(`media_types: ["application/[x"]`), 2, `media_types[0]: "application/[x" is not a valid pattern`},
		{"media type with space", v1(`media_types: ["application/ x"]`), 2, "may hold only printable ASCII without spaces"},
		{"media type non-ASCII", v1(`media_types: ["application/é"]`), 2, "may hold only printable ASCII"},

		// Scanners.
		{"scanner without name", v1("scanners:", "  - result: pass"), 3, "scanners[0]: missing name"},
		{"scanner name empty", v1("scanners:", `  - name: ""`), 3, `scanners[0].name: "" is empty`},
		{"scanner name with space", v1("scanners:", `  - name: "model scan"`), 3, `scanners[0].name: "model scan" may hold only ASCII letters, digits and "._-"`},
		{"duplicate scanner", v1("scanners:", "  - name: a", "  - name: a"), 4, `scanners[1].name: scanner "a" is already listed on line 3`},
		{"scanner result empty", v1("scanners:", "  - name: a", `    result: ""`), 4, `scanners[0].result: "" is empty`},
		{"scanner result spaced", v1("scanners:", "  - name: a", `    result: " pass"`), 4, `scanners[0].result: " pass" has leading or trailing space`},
		{"scanner result newline", v1("scanners:", "  - name: a", `    result: "pass\n"`), 4, "scanners[0].result: \"pass\\n\" contains control character U+000A"},
		{"scanner result too long", v1("scanners:", "  - name: a", "    result: "+long), 4, "is longer than 64 bytes"},
		{"scanner result bool", v1("scanners:", "  - name: a", "    result: true"), 4, `scanners[0].result: want a string, got bool "true"`},
		{"versions and min_version", v1("scanners:", "  - name: a", `    versions: ["1"]`, `    min_version: "1.0"`), 5, "scanners[0]: versions and min_version together; use one"},
		{"min_version and versions", v1("scanners:", "  - name: a", `    min_version: "1.0"`, `    versions: ["1"]`), 5, "versions and min_version together"},
		{"min_version pre-release", v1("scanners:", "  - name: a", `    min_version: "1.2.0-rc1"`), 4, `scanners[0].min_version: "1.2.0-rc1" is not a dotted version number`},
		{"min_version word", v1("scanners:", "  - name: a", `    min_version: "latest"`), 4, "is not a dotted version number"},
		{"exact version with space", v1("scanners:", "  - name: a", `    versions: ["0.8 .8"]`), 4, `scanners[0].versions[0]: "0.8 .8" contains a space`},
		{"duplicate exact version", v1("scanners:", "  - name: a", `    versions: ["1", "1"]`), 4, `scanners[0].versions[1]: "1" is already listed`},

		// Signatures.
		{"min_signatures above the keys", sigs([]string{pubECDSA, pubEd25519}, "min_signatures: 3"), 14, "min_signatures: 3, but signatures lists only 2 keys"},
		{"min_signatures without signatures", v1("min_signatures: 1"), 2, "min_signatures without signatures"},
		{"min_signatures zero", sigs([]string{pubECDSA}, "min_signatures: 0"), 9, "min_signatures: 0 is out of range; want 1 to 32"},
		{"key not PEM", v1("signatures:", "  - name: a", "    public_key: ssh-ed25519 AAAA"), 4, "signatures[0].public_key: no PEM block"},
		{"key bad base64", v1("signatures:", "  - name: a", "    public_key: "+block("      ", strings.Replace(pubECDSA, "MFkw", "M!kw", 1))), 4, "signatures[0].public_key: not a valid PEM block"},
		{"key truncated", v1("signatures:", "  - name: a", "    public_key: "+block("      ", truncated(pubECDSA))), 4, "signatures[0].public_key: not a valid public key"},
		{"private key", v1("signatures:", "  - name: a", "    public_key: "+block("      ", privEd25519)), 4, `signatures[0].public_key: this is a private key ("PRIVATE KEY")`},
		{"weak RSA key", v1("signatures:", "  - name: a", "    public_key: "+block("      ", pubRSA1024)), 4, "RSA key of 1024 bits; want at least 2048"},
		{"two PEM blocks", v1("signatures:", "  - name: a", "    public_key: "+block("      ", pubECDSA+pubEd25519)), 4, "text after the PEM block"},
		{"text before PEM", v1("signatures:", "  - name: a", "    public_key: "+block("      ", "key:\n"+pubECDSA)), 4, "text before the PEM block"},
		{"certificate", v1("signatures:", "  - name: a", "    public_key: "+block("      ", strings.ReplaceAll(pubECDSA, "PUBLIC KEY", "CERTIFICATE"))), 4, `PEM block of type "CERTIFICATE"; want PUBLIC KEY`},
		{"same key twice", sigs([]string{pubECDSA, pubECDSA}), 10, "signatures[1]: the same public key is already listed on line 4"},
		{"duplicate key name", v1("signatures:", "  - name: a", "    public_key: "+block("      ", pubECDSA), "  - name: a"), 9, `signatures[1].name: key name "a" is already listed on line 3`},
		{"key without name", v1("signatures:", "  - public_key: "+block("      ", pubECDSA)), 3, "signatures[0]: missing name"},
		{"name without key", v1("signatures:", "  - name: a"), 3, "signatures[0]: missing public_key (inline PEM) or public_key_file"},
		{"public_key_file in Parse", v1("signatures:", "  - name: a", "    public_key_file: keys/a.pub"), 4, "signatures[0].public_key_file: a policy given as bytes (Parse) cannot read key files; use Load"},
		{"public_key_file empty", v1("signatures:", "  - name: a", `    public_key_file: ""`), 4, `signatures[0].public_key_file: "" is empty`},

		// Raw bytes: exact lines where the YAML parser gives none.
		{"control character", v1("# a\x01b"), 2, "control character U+0001 is not allowed in a policy file"},
		{"NUL", v1("sources: [\"a\x00\"]"), 2, "control character U+0000"},
		{"escaped control in version", "version: \"a\\x01b\"\n", 1, `version: "a\x01b" contains the unprintable character U+0001`},
		{"bidi override in a comment", v1("require_quarantine: true # \u202eeslaf"), 2, "bidirectional formatting character U+202E is not allowed in a policy file"},
		{"bidi isolate in a value", v1("formats: [\"gguf\u2066\"]"), 2, "U+2066"},
		{"escaped bidi in version", "version: \"a\\u202eb\"\n", 1, "unprintable character U+202E"},
		{"line separator", v1("# \u2028"), 2, "character U+2028 is not allowed"},
		{"BOM inside", v1("# \ufeff"), 2, "character U+FEFF is not allowed"},
		{"invalid UTF-8", v1("# \xff"), 2, "not valid UTF-8 (byte 0xff)"},
		{"lone CR", "version: \"1\"\rrequire_quarantine: true\n", 1, "carriage return not followed by a line feed"},
		{"too large", v1(strings.Repeat("#", MaxFileBytes)), 0, "more than the limit of 1048576"},

		// Version text.
		{"version empty", `version: ""` + "\n", 1, `version: "" is empty`},
		{"version spaced", `version: " 1"` + "\n", 1, "has leading or trailing space"},
		{"version too long", `version: "` + long + `"` + "\n", 1, "is longer than 128 characters"},

		// Syntax errors: the line of the offending text.
		{"tab indentation", v1("scanners:", "\t- name: a"), 3, "YAML syntax error: found character that cannot start any token"},
		{"unterminated flow sequence", v1("formats: [gguf", "licenses: [MIT]"), 2, "YAML syntax error: did not find expected ',' or ']'"},
		{"unterminated quote", v1(`sources: ["https://a.example/`), 2, "YAML syntax error: found unexpected end of stream"},
		{"key without value", v1("require_quarantine"), 2, "YAML syntax error: could not find expected ':'"},
		{"under-indented key", v1("scanners:", "  - name: a", "  result: pass"), 4, "YAML syntax error: did not find expected '-' indicator"},
		{"over-indented key", v1("require_quarantine: true", "  formats: [gguf]"), 3, "YAML syntax error: mapping values are not allowed in this context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted:\n%s", p.YAML())
			}
			wantErr(t, err, DefaultFileName, tc.line, tc.msg)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(r *rules) bool
	}{
		{"version only", `version: "1"` + "\n", func(r *rules) bool {
			// An absent key is no rule: nothing but hash_verified.
			return !r.RequireQuarantine && !r.AllowOneStepPromote && r.MinPassingScanners == 0 && r.Scanners == nil
		}},
		{"plain version", "version: prod-v1\n", func(r *rules) bool { return r.Version == "prod-v1" }},
		{"unicode version", `version: "prod 模型 v1"` + "\n", func(r *rules) bool { return r.Version == "prod 模型 v1" }},
		{"BOM and CRLF", "\ufeffversion: \"1\"\r\nrequire_quarantine: True\r\n", func(r *rules) bool { return r.RequireQuarantine }},
		{"document markers", "%YAML 1.1\n---\nversion: \"1\"\n...\n# end\n", nil},
		{"flow style", `{version: "1", scanners: [{name: modelscan, versions: ["0.8.8"]}], formats: [gguf]}`, func(r *rules) bool {
			s := r.Scanners[0]
			return s.Name == "modelscan" && s.Result == "pass" && s.Required && s.Versions[0] == "0.8.8"
		}},
		{"scanner defaults", v1("scanners:", "  - name: a", "    required: false", "    result: clean"), func(r *rules) bool {
			return !r.Scanners[0].Required && r.Scanners[0].Result == "clean"
		}},
		{"size max", v1("max_size_bytes: 9223372036854775807"), nil},
		{"all key types", sigs([]string{pubECDSA, pubEd25519, pubRSA2048}, "min_signatures: 3"), func(r *rules) bool {
			return len(r.Signatures) == 3 && r.MinSignatures == 3
		}},
		{"key with CRLF and spaces", v1("signatures:", "  - name: a", `    public_key: "\n`+strings.ReplaceAll(pubEd25519, "\n", `\r\n`)+`  "`), func(r *rules) bool {
			return string(r.Signatures[0].PEM) == pubEd25519
		}},
		{"source with bracket", v1(`sources: ["https://[::1]:8080/"]`), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.in)
			if tc.check != nil && !tc.check(&p.r) {
				t.Fatalf("%+v", p.r)
			}
		})
	}
}

func TestParseExampleFile(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, string(data))
	r := p.r
	if r.Version != "2026-05-example-1" || !r.RequireQuarantine || r.AllowOneStepPromote || len(r.Scanners) != 2 ||
		r.Scanners[1].MinVersion != "1.2.0" || r.Scanners[1].Required || r.MinPassingScanners != 1 ||
		len(r.Formats) != 2 || len(r.MediaTypes) != 2 || r.MaxSizeBytes != 21474836480 || len(r.Sources) != 3 ||
		!r.RequireTensorManifest || len(r.Signatures) != 2 || r.MinSignatures != 1 || len(r.Licenses) != 3 {
		t.Fatalf("%+v", r)
	}
	if p.URI() != "" || p.Digest() != digest.FromBytes(data) {
		t.Fatalf("uri %q digest %s", p.URI(), p.Digest())
	}
	keys := p.SignatureKeys()
	if len(keys) != 2 || keys[0].Name != "release" || keys[1].Name != "security-team" || keys[0].Public == nil {
		t.Fatalf("%+v", keys)
	}
	// SignatureKeys hands out copies.
	keys[0].PEM[0] = 'X'
	if p.SignatureKeys()[0].PEM[0] != '-' {
		t.Fatal("SignatureKeys shares the policy's PEM bytes")
	}
}

func TestParseCRLFLines(t *testing.T) {
	in := strings.ReplaceAll(v1("require_quarantine: true", "formats: [gguf]", "require_quarantene: true"), "\n", "\r\n")
	_, err := Parse([]byte(in))
	wantErr(t, err, DefaultFileName, 4, `unknown field "require_quarantene"`)
}

// The line of an error is never past the end of the input, even where
// libyaml places it on the line after a final "---" without newline.
func TestParseLineWithinInput(t *testing.T) {
	_, err := Parse([]byte(`version: "1"` + "\n---"))
	wantErr(t, err, DefaultFileName, 2, "a second YAML document")
}

func TestErrorText(t *testing.T) {
	_, err := Parse([]byte(v1("require_quarantene: true")))
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	pe.File = "/etc/secure-ai/policy/policy.yaml"
	if got := pe.Error(); got != `/etc/secure-ai/policy/policy.yaml line 2: unknown field "require_quarantene" at the top level` {
		t.Fatal(got)
	}
	if got := (&Error{Msg: "x"}).Error(); got != "policy.yaml: x" {
		t.Fatal(got)
	}
	_, err = Parse([]byte(`version: "` + strings.Repeat("é", 200) + `"`))
	if !strings.Contains(err.Error(), `"`+strings.Repeat("é", 40)+`"...`) {
		t.Fatalf("values in errors are not cut: %v", err)
	}
}
