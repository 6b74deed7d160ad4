package lockfile

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// hexA is the digest of the predecessor's minimal example.
const hexA = "47b0c3f4ec0bf93659ab2fc92cf2041374ef78bf1cb5b8c790421f463e7b7979"

// minimalExample is the predecessor's minimal lock (reference §5).
const minimalExample = `version: 1
models:
  - name: "ShieldGemma 2B (Q4_K_M)"
    format: "gguf"
    source: "https://huggingface.co/QuantFactory/shieldgemma-2b-GGUF"
    source_revision: "8755ece4b20dd84d7564131e385d9c205d03621a"
    filename: "shieldgemma-2b.Q4_K_M.gguf"
    object_path: "objects/sha256/47/47b0c3f4ec0bf93659ab2fc92cf2041374ef78bf1cb5b8c790421f463e7b7979.gguf"
    sha256: "47b0c3f4ec0bf93659ab2fc92cf2041374ef78bf1cb5b8c790421f463e7b7979"
    size_bytes: 1708583104
    # state omitted => "trusted"
    # optional: promoted_at (RFC3339), scan_results, scanner_versions, policy_version,
    #           gguf_guard_fingerprint, gguf_guard_manifest
`

// applianceExample has the appliance's blocked entry (reference §5) and a
// second, unblocked entry in the same style.
const applianceExample = `version: 1
models:
  - name: "Phi-3 Mini 3.8B (Q4_K_M)"
    format: "gguf"
    source: "https://huggingface.co/microsoft/Phi-3-mini-4k-instruct-gguf"
    filename: "Phi-3-mini-4k-instruct-q4.gguf"
    sha256: "8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef"
    size_bytes: 2393231072
    blocked: true
    blocked_reason: "Rejected by behavioral smoke test on 2026-05-15: 15/41 prompts flagged, including 4 critical prompts."

  - name: "ShieldGemma 2B (Q4_K_M)"
    format: "gguf"
    source: "https://huggingface.co/QuantFactory/shieldgemma-2b-GGUF"
    filename: "shieldgemma-2b.Q4_K_M.gguf"
    sha256: "47b0c3f4ec0bf93659ab2fc92cf2041374ef78bf1cb5b8c790421f463e7b7979"
    size_bytes: 1708583104
`

// firstCommitEmpty is the first commit's shape: an empty list with the
// example entry commented out.
const firstCommitEmpty = `version: 1

# Pinned model artifacts.

models: []
  # - name: "mistral-7b-instruct-v0.3"
  #   scan_results:
  #     smoke_test_score: 0.0
`

// firstCommitExample is the first commit's commented example entry,
// uncommented: a float inside scan_results, a map of strings.
const firstCommitExample = `version: 1

# Pinned model artifacts.

models:
  - name: "mistral-7b-instruct-v0.3"
    format: "gguf"
    source: "https://huggingface.co/TheBloke/Mistral-7B-Instruct-v0.3-GGUF"
    filename: "mistral-7b-instruct-v0.3.Q5_K_M.gguf"
    sha256: ""
    size_bytes: 0
    promoted_at: ""
    scan_results:
      modelscan: "pass"
      format_gate: "pass"
      smoke_test_score: 0.0
`

func TestParseMinimalExample(t *testing.T) {
	l, err := Parse([]byte(minimalExample))
	if err != nil {
		t.Fatal(err)
	}
	want := &Lock{Version: 1, Models: []Entry{{
		Name:           "ShieldGemma 2B (Q4_K_M)",
		Format:         "gguf",
		Source:         "https://huggingface.co/QuantFactory/shieldgemma-2b-GGUF",
		SourceRevision: "8755ece4b20dd84d7564131e385d9c205d03621a",
		Filename:       "shieldgemma-2b.Q4_K_M.gguf",
		ObjectPath:     "objects/sha256/47/" + hexA + ".gguf",
		SHA256:         hexA,
		SizeBytes:      1708583104,
	}}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("got %+v\nwant %+v", l, want)
	}
	if l.Models[0].State != StateUnset {
		t.Fatal("a missing state must stay unset, never become trusted")
	}
}

func TestParseApplianceExample(t *testing.T) {
	l, err := Parse([]byte(applianceExample))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Models) != 2 {
		t.Fatalf("%d models", len(l.Models))
	}
	phi := l.Models[0] // sorted by name: "Phi-3…" < "ShieldGemma…"
	if phi.Name != "Phi-3 Mini 3.8B (Q4_K_M)" || !phi.Blocked || phi.State != StateUnset || phi.SizeBytes != 2393231072 ||
		!strings.HasPrefix(phi.BlockedReason, "Rejected by behavioral smoke test on 2026-05-15") {
		t.Fatalf("blocked entry: %+v", phi)
	}
	if l.Models[1].Blocked || l.Models[1].BlockedReason != "" {
		t.Fatalf("unblocked entry: %+v", l.Models[1])
	}
}

func TestParseFirstCommit(t *testing.T) {
	l, err := Parse([]byte(firstCommitEmpty))
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != 1 || l.Models != nil {
		t.Fatalf("%+v", l)
	}
	// The uncommented example: the float is reported at its own line,
	// before the empty sha256 two keys earlier (type errors come first).
	_, err = Parse([]byte(firstCommitExample))
	wantErr(t, err, 16, `models[0].scan_results["smoke_test_score"]: want a string, got float "0.0"`)
	if got, want := err.Error(), `models.lock.yaml line 16: models[0].scan_results["smoke_test_score"]: want a string, got float "0.0" (quote it if it is meant as text)`; got != want {
		t.Fatalf("error text\n got %s\nwant %s", got, want)
	}
}

// wantErr checks that err is an *Error at line with msg in its message,
// and that its text starts with the documented prefix.
func wantErr(t *testing.T, err error, line int, msg string) {
	t.Helper()
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("want *Error at line %d containing %q, got %v", line, msg, err)
	}
	if le.Line != line || !strings.Contains(le.Msg, msg) {
		t.Fatalf("want line %d containing %q\n got %v", line, msg, err)
	}
	prefix := "models.lock.yaml: "
	if line > 0 {
		prefix = fmt.Sprintf("models.lock.yaml line %d: ", line)
	}
	if !strings.HasPrefix(err.Error(), prefix) {
		t.Fatalf("error %q does not start with %q", err, prefix)
	}
}

// entry renders a lock with one entry: the valid base keys (lines 3–7)
// with the first line of the same key replacing it in place, then the
// other lines from line 8 on. A line "-key" drops that base key.
func entry(lines ...string) string {
	base := []string{`name: "m"`, `format: "gguf"`, `filename: "m.gguf"`, `sha256: "` + hexA + `"`, `size_bytes: 15`}
	key := func(l string) string { k, _, _ := strings.Cut(l, ":"); return k }
	var extra []string
	done := map[int]bool{}
	for _, l := range lines {
		replaced := false
		for i, b := range base {
			if !done[i] && (key(b) == key(l) || "-"+key(b) == l) {
				base[i], replaced, done[i] = l, true, true
				break
			}
		}
		if !replaced {
			extra = append(extra, l)
		}
	}
	var kept []string
	for _, b := range base {
		if !strings.HasPrefix(b, "-") {
			kept = append(kept, b)
		}
	}
	return render(append(kept, extra...))
}

func render(lines []string) string {
	var b strings.Builder
	b.WriteString("version: 1\nmodels:\n")
	for i, l := range lines {
		if i == 0 {
			b.WriteString("  - " + l + "\n")
		} else {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}

func TestParseRejects(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	manyKeys := func(n int) string {
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, fmt.Sprintf(`k%d: "v"`, i))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	seq := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]" }
	deep := func(n int) string { return strings.Repeat("[", n-1) + strings.Repeat("]", n-1) }
	second := render([]string{`name: "m"`, `format: "gguf"`, `filename: "m.gguf"`, `sha256: "` + hexA + `"`, `size_bytes: 15`}) +
		"  - " + `name: "n"` + "\n    " + `format: "gguf"` + "\n    " + `filename: "n.gguf"` + "\n    " + `sha256: "` + hexA + `"` + "\n    " + `size_bytes: 15` + "\n"
	twoEntries := func(secondName, secondFile, secondState string) string {
		s := strings.Replace(second, `name: "n"`, `name: "`+secondName+`"`, 1)
		s = strings.Replace(s, `filename: "n.gguf"`, `filename: "`+secondFile+`"`, 1)
		if secondState != "" {
			s += `    state: "` + secondState + `"` + "\n"
		}
		return s
	}
	billion := entry("gguf_guard_fingerprint:",
		`  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]`,
		`  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]`,
		`  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]`,
		`  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]`,
		`  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]`,
		`  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]`,
		`  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]`,
		`  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]`,
		`  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]`)

	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		// Unknown fields.
		{"unknown entry field", entry(`smoke_test_score: 0.0`), 8, `unknown field "smoke_test_score" in models[0]`},
		{"unknown top-level field", "version: 1\nmodels: []\nextra: 1\n", 3, `unknown field "extra" at the top level`},
		{"object_path misspelt", entry(`objectpath: "x"`), 8, `unknown field "objectpath"`},

		// Duplicate keys, at every level.
		{"duplicate top-level key", "version: 1\nmodels: []\nversion: 1\n", 3, `duplicate key "version" in top level (first on line 1)`},
		{"duplicate models key", "version: 1\nmodels: []\nmodels: []\n", 3, `duplicate key "models" in top level (first on line 2)`},
		{"duplicate entry key", entry(`sha256: "`+hexA+`"`, `size_bytes: 15`, `sha256: "00"`), 8, `duplicate key "sha256" in models[0] (first on line 6)`},
		{"duplicate key quoted differently", entry(`"name": "n"`), 8, `duplicate key "name" in models[0] (first on line 3)`},
		{"duplicate scan_results key", entry("scan_results:", `  a: "x"`, `  a: "y"`), 10, `duplicate key "a" in models[0].scan_results (first on line 9)`},
		{"duplicate flow-mapping key", entry(`scanner_versions: {a: "1", a: "2"}`), 8, `duplicate key "a" in models[0].scanner_versions`},
		{"duplicate nested fingerprint key", entry("gguf_guard_fingerprint:", "  a:", "    b: 1", "    b: 2"), 11, `duplicate key "b" in models[0].gguf_guard_fingerprint["a"] (first on line 10)`},

		// Version.
		{"version 2", "version: 2\nmodels: []\n", 1, "version 2 is not supported"},
		{"version 2 beats unknown fields", "version: 2\nmodels: []\nnew_in_v2: x\n", 1, "version 2 is not supported"},
		{"version 0", "models: []\nversion: 0\n", 2, "version 0 is not supported"},
		{"version missing", "# lock\nmodels: []\n", 2, "missing version (want version: 1)"},
		{"version quoted", "version: \"1\"\nmodels: []\n", 1, `version: want an integer, got string "1"`},
		{"version float", "version: 1.0\nmodels: []\n", 1, `version: want an integer, got float "1.0"`},
		{"version hex", "version: 0x1\nmodels: []\n", 1, `version: want a plain decimal integer, got "0x1"`},
		{"version null", "version:\nmodels: []\n", 1, "version: want an integer, got null"},

		// Documents.
		{"empty input", "", 0, "no YAML document"},
		{"comments only", "# nothing\n", 0, "no YAML document"},
		{"second document", "version: 1\nmodels: []\n---\nversion: 1\nmodels: []\n", 3, "a second YAML document starts here"},
		{"empty second document", "version: 1\nmodels: []\n--- \n", 3, "a second YAML document starts here"},
		{"second document after end marker", "version: 1\nmodels: []\n...\n---\nx: 1\n", 4, "a second YAML document"},
		{"bare document start", "---", 1, "the top level must be a mapping with version and models, got null"},
		{"second document without newline", "version: 1\nmodels: []\n---", 3, "a second YAML document starts here"},
		{"top level sequence", "- version: 1\n", 1, "the top level must be a mapping with version and models, got a sequence"},
		{"top level scalar", "\n\nlock\n", 3, "the top level must be a mapping"},
		{"models missing", "version: 1\n", 1, "missing models (write models: [] for an empty lock)"},
		{"models null", "version: 1\nmodels:\n", 2, "models: want a sequence, got null"},
		{"models mapping", "version: 1\nmodels: {}\n", 2, "models: want a sequence, got a mapping"},
		{"entry not a mapping", "version: 1\nmodels:\n  - m.gguf\n", 3, `models[0]: want a mapping, got string "m.gguf"`},
		{"too many entries", "version: 1\nmodels: [" + strings.Repeat("0,", MaxEntries) + "0]\n", 2, "models: 100001 entries, more than the limit of 100000"},

		// Anchors, aliases, merge keys, tags.
		{"anchor", entry(`source: &s "x"`), 8, "models[0].source: anchor &s: anchors and aliases are not allowed"},
		{"anchor before alias", entry(`source: &s "x"`, `policy_version: *s`), 8, "anchor &s"},
		{"alias", "a: &v 1\nversion: *v\nmodels: []\n", 2, "version: alias *v: anchors and aliases are not allowed"},
		{"anchor on entry", "version: 1\nmodels:\n  - &e\n    name: m\n", 3, "models[0]: anchor &e"},
		{"anchor on key", entry(`&k source: "x"`), 8, "models[0]: anchor &k"},
		{"undefined alias", entry(`source: *nowhere`), 8, "alias *nowhere refers to no anchor"},
		{"billion laughs", billion, 9, `models[0].gguf_guard_fingerprint["a"]: anchor &a`},
		{"merge key", entry(`<<: {source: "x"}`), 8, `models[0]: key must be a string, got merge "<<"`},
		{"explicit str tag", entry(`source: !!str x`), 8, `models[0].source: explicit tag "!!str" is not allowed`},
		{"binary tag", entry(`source: !!binary aGVsbG8=`), 8, `explicit tag "!!binary"`},
		{"custom tag", entry(`source: !foo x`), 8, `explicit tag "!foo"`},
		{"tagged mapping", "version: 1\nmodels: !!seq []\n", 2, `models: explicit tag "!!seq"`},

		// Values of the wrong YAML type.
		{"int where a string is required", entry(`source: 123`), 8, `models[0].source: want a string, got int "123" (quote it if it is meant as text)`},
		{"bool name", entry(`name: true`), 3, `models[0].name: want a string, got bool "true"`},
		{"unquoted date", entry(`source_revision: 2026-05-15`), 8, `want a string, got timestamp "2026-05-15"`},
		{"null string", entry(`source:`), 8, "models[0].source: want a string, got null"},
		{"tilde string", entry(`source: ~`), 8, "models[0].source: want a string, got null"},
		{"sequence string", entry(`source: [a]`), 8, "models[0].source: want a string, got a sequence"},
		{"evidence value int", entry("scan_results:", "  modelscan: 1"), 9, `models[0].scan_results["modelscan"]: want a string, got int "1"`},
		{"evidence key int", entry("scan_results:", `  1: "pass"`), 9, `models[0].scan_results: key must be a string, got int "1"`},
		{"evidence null key", entry("scan_results:", `  ~: "pass"`), 9, `key must be a string, got null`},
		{"evidence not a mapping", entry(`scan_results: ["pass"]`), 8, "models[0].scan_results: want a mapping, got a sequence"},
		{"evidence null", entry(`scanner_versions:`), 8, "models[0].scanner_versions: want a mapping, got null"},
		{"size quoted", entry(`size_bytes: "15"`), 7, `models[0].size_bytes: want an integer, got string "15"`},
		{"size float", entry(`size_bytes: 1.5`), 7, `want an integer, got float "1.5"`},
		{"size beyond int64", entry(`size_bytes: 99999999999999999999`), 7, `want an integer, got float "99999999999999999999"`},
		{"size between int64 and uint64", entry(`size_bytes: 18446744073709551615`), 7, `integer "18446744073709551615" out of range`},
		{"size hex", entry(`size_bytes: 0x10`), 7, `want a plain decimal integer, got "0x10"`},
		{"size octal-looking", entry(`size_bytes: 010`), 7, `want a plain decimal integer, got "010"`},
		{"size underscores", entry(`size_bytes: 1_000`), 7, `want a plain decimal integer, got "1_000"`},
		{"size plus sign", entry(`size_bytes: +5`), 7, `want a plain decimal integer, got "+5"`},
		{"size negative", entry(`size_bytes: -1`), 7, "models[0].size_bytes: -1 is negative"},
		{"blocked yes", entry(`blocked: yes`), 8, `models[0].blocked: want true or false, got string "yes"`},
		{"blocked 1", entry(`blocked: 1`), 8, `models[0].blocked: want true or false, got int "1"`},
		{"blocked quoted", entry(`blocked: "true"`), 8, `want true or false, got string "true"`},
		{"fingerprint not a mapping", entry(`gguf_guard_fingerprint: [1]`), 8, "models[0].gguf_guard_fingerprint: want a mapping, got a sequence"},
		{"fingerprint inf", entry("gguf_guard_fingerprint:", "  x: .inf"), 9, `want a finite decimal number, got ".inf"`},
		{"fingerprint nan", entry("gguf_guard_fingerprint:", "  x: .nan"), 9, `want a finite decimal number, got ".nan"`},
		{"fingerprint hex int", entry("gguf_guard_fingerprint:", "  x: 0x10"), 9, `want a plain decimal integer, got "0x10"`},
		{"fingerprint int key", entry("gguf_guard_fingerprint:", "  1: x"), 9, `key must be a string, got int "1"`},
		{"fingerprint too deep", entry("gguf_guard_fingerprint:", "  x: "+deep(MaxFingerprintDepth+1)), 9, "nested deeper than 32 levels"},
		{"fingerprint too wide", entry("gguf_guard_fingerprint:", "  x: "+seq(MaxFingerprintFanout+1)), 9, "4097 entries, more than the limit of 4096"},
		{"fingerprint too many values", entry("gguf_guard_fingerprint:", "  a: "+seq(4000), "  b: "+seq(4000), "  c: "+seq(4000)), 11, "more than 10000 values"},
		{"fingerprint long string", entry("gguf_guard_fingerprint:", `  x: "`+long(MaxFingerprintStringBytes+1)+`"`), 9, "string longer than 4096 bytes"},

		// Evidence limits.
		{"evidence too many entries", entry("scan_results: " + manyKeys(MaxEvidenceEntries+1)), 8, "models[0].scan_results: 65 entries, more than the limit of 64"},
		{"evidence key too long", entry("scan_results:", `  `+long(MaxEvidenceKeyBytes+1)+`: "x"`), 9, "longer than 256 bytes"},
		{"evidence empty key", entry("scan_results:", `  "": "x"`), 9, `key "" is empty`},
		{"evidence value too long", entry("scan_results:", `  a: "`+long(MaxEvidenceValueBytes+1)+`"`), 9, "value longer than 1024 bytes"},
		{"evidence value newline", entry("scan_results:", `  a: "x\ny"`), 9, "value contains control character U+000A"},
		{"evidence value CR", entry("scan_results:", `  a: "x\ry"`), 9, "value contains control character U+000D"},
		{"evidence value NUL", entry("scan_results:", `  a: "x\0y"`), 9, "value contains control character U+0000"},
		{"evidence value block scalar", entry("scan_results:", "  a: |", "    two", "    lines"), 9, "control character U+000A"},

		// Raw bytes (exact lines even where the YAML parser gives none).
		{"invalid UTF-8", entry("source: \"\xff\""), 8, "not valid UTF-8 (byte 0xff)"},
		{"NUL byte", entry("source: \"a\x00\""), 8, "control character U+0000 is not allowed in a lock file"},
		{"DEL byte", entry("source: \"a\x7f\""), 8, "control character U+007F"},
		{"NEL", entry("source: \"a\u0085\""), 8, "control character U+0085"},
		{"lone CR", "version: 1\rmodels: []\n", 1, "carriage return not followed by a line feed"},
		{"bidi override in a comment", entry("# \u202eeurt :dekcolb"), 8, "bidirectional formatting character U+202E is not allowed in a lock file"},
		{"bidi isolate in a value", entry("source: \"a\u2066b\""), 8, "U+2066"},
		{"line separator", entry("source: \"a\u2028b\""), 8, "character U+2028 is not allowed"},
		{"BOM inside", entry("source: \"a\ufeffb\""), 8, "character U+FEFF is not allowed"},
		{"too large", "version: 1\nmodels: []\n" + strings.Repeat("#", MaxInputBytes), 0, "more than the limit of 16777216"},

		// Syntax errors: the line of the offending text.
		{"under-indented key", entry() + "  source: x\n", 8, "YAML syntax error: did not find expected '-' indicator"},
		{"over-indented key", entry("   source: x"), 8, "YAML syntax error: mapping values are not allowed in this context"},
		{"key without value", entry("source"), 8, "YAML syntax error: could not find expected ':'"},
		{"unterminated flow sequence", entry("scan_results: [1, 2", "source: x"), 8, "did not find expected ',' or ']'"},
		{"unterminated flow mapping", entry("scan_results: {a: 1", "source: x"), 8, "did not find expected ',' or '}'"},
		{"unterminated double quote", entry(`source: "abc`), 8, "YAML syntax error: found unexpected end of stream"},
		{"unterminated single quote", entry(`source: 'abc`), 8, "found unexpected end of stream"},
		{"tab indentation", entry("\tsource: x"), 8, "found a tab character that violates indentation"},
		{"mapping value on the first line", "version: 1: 2\nmodels: []\n", 1, "mapping values are not allowed in this context"},
		{"reserved character", "version: 1\nmodels: @x\n", 2, "found character that cannot start any token"},
		{"content after end marker", "version: 1\nmodels: []\n...\nfoo\n", 4, "did not find expected <document start>"},
		{"duplicate directive", "%YAML 1.1\n%YAML 1.1\n---\nversion: 1\n", 2, "found duplicate %YAML directive"},

		// Entry rules.
		{"missing name", entry("-name"), 3, "models[0]: missing name"},
		{"missing format", entry("-format"), 3, "models[0]: missing format"},
		{"missing filename", entry("-filename"), 3, "models[0]: missing filename"},
		{"missing sha256", entry("-sha256"), 3, "models[0]: missing sha256"},
		{"missing size_bytes", entry("-size_bytes"), 3, "models[0]: missing size_bytes"},
		{"empty name", entry(`name: ""`), 3, "models[0].name: empty"},
		{"name too long", entry(`name: "` + long(MaxNameBytes+1) + `"`), 3, "models[0].name: longer than 256 bytes"},
		{"name with control character", entry(`name: "a\u0007b"`), 3, "models[0].name: contains control character U+0007"},
		{"name with bidi override", entry(`name: "a\u202eb"`), 3, "contains bidirectional formatting character U+202E"},
		{"name with leading space", entry(`name: " m"`), 3, `models[0].name: " m" has leading or trailing space`},
		{"name with trailing space", entry(`name: "m "`), 3, "has leading or trailing space"},
		{"name with leading NBSP", entry(`name: "\u00a0m"`), 3, "has leading or trailing space"},
		{"duplicate name", twoEntries("m", "n.gguf", ""), 8, `models[1].name: "m" is already used by models[0] (line 3)`},
		{"format unknown", entry(`format: "onnx"`), 4, `models[0].format: want "gguf" or "safetensors", got "onnx"`},
		{"format upper case", entry(`format: "GGUF"`), 4, `got "GGUF"`},
		{"format does not match extension", entry(`format: "safetensors"`), 5, `models[0].filename: "m.gguf" does not end in .safetensors`},
		{"filename absolute", entry(`filename: "/models/m.gguf"`), 5, `"/models/m.gguf" is absolute`},
		{"filename parent", entry(`filename: "../m.gguf"`), 5, "leaves the import directory"},
		{"filename inner parent", entry(`filename: "a/../m.gguf"`), 5, "is not a clean path"},
		{"filename dot slash", entry(`filename: "./m.gguf"`), 5, "is not a clean path"},
		{"filename double slash", entry(`filename: "a//m.gguf"`), 5, "is not a clean path"},
		{"filename backslash", entry(`filename: "a\\m.gguf"`), 5, "contains a backslash"},
		{"filename empty", entry(`filename: ""`), 5, "is empty"},
		{"filename control", entry(`filename: "a\tb.gguf"`), 5, "control character U+0009"},
		{"duplicate filename", twoEntries("n", "m.gguf", ""), 10, `models[1].filename: "m.gguf" is already used by models[0] (line 5)`},
		{"sha256 upper case", entry(`sha256: "` + strings.ToUpper(hexA) + `"`), 6, "models[0].sha256: want 64 lowercase hex digits"},
		{"sha256 short", entry(`sha256: "abc"`), 6, `want 64 lowercase hex digits, got "abc"`},
		{"sha256 prefixed", entry(`sha256: "sha256:` + hexA[7:] + `"`), 6, "want 64 lowercase hex digits"},
		{"object_path mismatch", entry(`object_path: "objects/sha256/00/` + hexA + `.gguf"`), 8, "models[0].object_path: "},
		{"state unknown", entry(`state: "approved"`), 8, `models[0].state: want one of acquired, quarantined, trusted, revoked, deleted (or no state), got "approved"`},
		{"state capitalised", entry(`state: "Trusted"`), 8, `got "Trusted"`},
		{"blocked and trusted", entry(`state: "trusted"`, `blocked: true`), 9, `models[0].blocked: blocked: true contradicts state "trusted" (line 8)`},
		{"blocked and trusted reversed", entry(`blocked: true`, `state: "trusted"`), 8, `contradicts state "trusted" (line 9)`},
		{"reason without block", entry(`blocked_reason: "bad"`), 8, "models[0].blocked_reason: set, but blocked is not true"},
		{"reason with blocked false", entry(`blocked: false`, `blocked_reason: "bad"`), 9, "set, but blocked is not true"},
		{"reason too long", entry(`blocked: true`, `blocked_reason: "`+long(MaxBlockedReasonBytes+1)+`"`), 9, "longer than 1024 bytes"},
		{"promoted_at not a time", entry(`promoted_at: "yesterday"`), 8, `models[0].promoted_at: "yesterday" is not an RFC 3339 time`},
		{"promoted_at date only", entry(`promoted_at: 2026-04-28`), 8, "is not an RFC 3339 time"},
		{"source too long", entry(`source: "` + long(MaxSourceBytes+1) + `"`), 8, "models[0].source: longer than 4096 bytes"},
		{"source_revision too long", entry(`source_revision: "` + long(MaxRevisionBytes+1) + `"`), 8, "longer than 256 bytes"},
		{"policy_version too long", entry(`policy_version: "` + long(MaxPolicyBytes+1) + `"`), 8, "longer than 256 bytes"},
		{"gguf_guard_manifest control", entry(`gguf_guard_manifest: "a\u001bb"`), 8, "control character U+001B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted: %+v", l)
			}
			wantErr(t, err, tc.line, tc.msg)
		})
	}
}

func TestParseBillionLaughsIsCheap(t *testing.T) {
	// Nine levels of nine aliases would expand to 9^9 strings; refusing
	// the first anchor must not walk any of it.
	start := time.Now()
	_, err := Parse([]byte(entry("gguf_guard_fingerprint:",
		`  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]`,
		`  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]`,
		`  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]`,
		`  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]`,
		`  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]`,
		`  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]`,
		`  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]`,
		`  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]`,
		`  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]`)))
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err=%v after %v", err, time.Since(start))
	}
}

func TestParseCRLFLines(t *testing.T) {
	in := strings.ReplaceAll(entry(`smoke_test_score: "x"`), "\n", "\r\n")
	_, err := Parse([]byte(in))
	wantErr(t, err, 8, `unknown field "smoke_test_score"`)
	in = strings.ReplaceAll(entry()+"  source: x\n", "\n", "\r\n")
	_, err = Parse([]byte(in))
	wantErr(t, err, 8, "did not find expected '-' indicator")
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(*Lock) bool
	}{
		{"empty models", "version: 1\nmodels: []\n", func(l *Lock) bool { return l.Models == nil }},
		{"byte order mark", "\ufeffversion: 1\nmodels: []\n", nil},
		{"CRLF", strings.ReplaceAll(minimalExample, "\n", "\r\n"), nil},
		{"document markers", "%YAML 1.1\n---\nversion: 1\nmodels: []\n...\n# end\n", nil},
		{"flow style", `{version: 1, models: [{name: m, format: gguf, filename: m.gguf, sha256: "` + hexA + `", size_bytes: 15}]}`, nil},
		{"explicit empty state", entry(`state: ""`), func(l *Lock) bool { return l.Models[0].State == StateUnset }},
		{"blocked and revoked", entry(`state: "revoked"`, `blocked: true`), func(l *Lock) bool { return l.Models[0].Blocked }},
		{"blocked without reason", entry(`blocked: true`), nil},
		{"blocked false", entry(`blocked: false`), func(l *Lock) bool { return !l.Models[0].Blocked }},
		{"blocked True", entry(`blocked: True`), func(l *Lock) bool { return l.Models[0].Blocked }},
		{"unquoted promoted_at", entry(`promoted_at: 2026-04-28T19:07:18Z`), func(l *Lock) bool { return l.Models[0].PromotedAt == "2026-04-28T19:07:18Z" }},
		{"upper-case extension", entry(`filename: "M.GGUF"`), nil},
		{"subdirectory", entry(`filename: "sub/dir/m.gguf"`), nil},
		{"safetensors", entry(`format: "safetensors"`, `filename: "model.safetensors"`), nil},
		{"name of 256 bytes", entry(`name: "` + strings.Repeat("n", 256) + `"`), nil},
		{"unicode name", entry(`name: "modèle 模型 🦙"`), func(l *Lock) bool { return l.Models[0].Name == "modèle 模型 🦙" }},
		{"plain scalars", entry(`source: https://example.com/a`, `state: quarantined`), func(l *Lock) bool { return l.Models[0].State == StateQuarantined }},
		{"size zero", entry(`size_bytes: 0`), nil},
		{"size max", entry(`size_bytes: 9223372036854775807`), nil},
		{"empty evidence map", entry(`scan_results: {}`), func(l *Lock) bool { return l.Models[0].ScanResults == nil }},
		{"empty fingerprint", entry(`gguf_guard_fingerprint: {}`), func(l *Lock) bool { return l.Models[0].GGUFGuardFingerprint == nil }},
		{"64 evidence entries", entry("scan_results: {" + strings.Repeat("", 0) + func() string {
			var p []string
			for i := 0; i < 64; i++ {
				p = append(p, fmt.Sprintf("k%d: v", i))
			}
			return strings.Join(p, ", ")
		}() + "}"), func(l *Lock) bool { return len(l.Models[0].ScanResults) == 64 }},
		{"duplicate filename of a deleted entry", render([]string{`name: "a"`, `format: "gguf"`, `filename: "m.gguf"`, `sha256: "` + hexA + `"`, `size_bytes: 15`, `state: deleted`}) +
			"  - name: b\n    format: gguf\n    filename: m.gguf\n    sha256: \"" + hexA + "\"\n    size_bytes: 15\n", nil},
		{"fingerprint values", entry("gguf_guard_fingerprint:", `  s: "x"`, "  i: -3", "  f: 1e3", "  g: .5", "  b: false", "  n: null", "  t: 2026-01-01", "  l: [1, [], {}]"),
			func(l *Lock) bool {
				return reflect.DeepEqual(l.Models[0].GGUFGuardFingerprint, map[string]any{
					"s": "x", "i": int64(-3), "f": 1000.0, "g": 0.5, "b": false, "n": nil, "t": "2026-01-01",
					"l": []any{int64(1), []any{}, map[string]any{}},
				})
			}},
		{"fingerprint at the depth limit", entry("gguf_guard_fingerprint:", "  x: "+strings.Repeat("[", MaxFingerprintDepth-1)+strings.Repeat("]", MaxFingerprintDepth-1)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil && !tc.check(l) {
				t.Fatalf("%+v", l)
			}
		})
	}
}

func TestParseSortsEntries(t *testing.T) {
	in := render([]string{`name: "b"`, `format: "gguf"`, `filename: "b.gguf"`, `sha256: "` + hexA + `"`, `size_bytes: 1`}) +
		"  - name: a\n    format: gguf\n    filename: a.gguf\n    sha256: \"" + hexA + "\"\n    size_bytes: 2\n"
	l, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if l.Models[0].Name != "a" || l.Models[1].Name != "b" {
		t.Fatalf("%+v", l.Models)
	}
}

func TestErrorFile(t *testing.T) {
	_, err := Parse([]byte(entry(`smoke_test_score: 0.0`)))
	var le *Error
	if !errors.As(err, &le) {
		t.Fatal(err)
	}
	le.File = "/etc/secure-ai/policy/models.lock.yaml"
	if got := le.Error(); got != `/etc/secure-ai/policy/models.lock.yaml line 8: unknown field "smoke_test_score" in models[0]` {
		t.Fatal(got)
	}
	long := entry(`state: "` + strings.Repeat("é", 100) + `"`)
	_, err = Parse([]byte(long))
	if !strings.Contains(err.Error(), `"`+strings.Repeat("é", 40)+`"...`) {
		t.Fatalf("values in errors are not cut: %v", err)
	}
}
