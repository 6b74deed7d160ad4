package lockfile

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

const hexB = "8a83c7fb9049a9b2e92266fa7ad04933bb53aa1e85136b7b30f1b8000ff2edef"

// fullLock sets every field, with awkward strings and every fingerprint
// value type, in canonical form.
func fullLock() *Lock {
	return &Lock{Version: 1, Models: []Entry{
		{
			Name:           `Quote "and" back\slash: # not a comment`,
			Format:         FormatSafetensors,
			Source:         "https://example.com/m?x=1&y=2",
			SourceRevision: "8755ece4b20dd84d7564131e385d9c205d03621a",
			Filename:       "sub/model.SafeTensors",
			ObjectPath:     "objects/sha256/8a/" + hexB + ".safetensors",
			SHA256:         hexB,
			SizeBytes:      math.MaxInt64,
			State:          StateRevoked,
			PromotedAt:     "2026-04-28T19:07:18.123456789+02:00",
			ScanResults:    map[string]string{"modelscan": "pass", "format_gate": "pass", "smoke_test_score": "0.0", "key: with colon": "- dash", "empty": "", "<<": "merge", "~": "null", "*a": "&b", "!tag": "%x"},
			ScannerVersions: map[string]string{
				"modelscan": "0.8.8", "yes": "no", "null": "~", "true": "1e3",
			},
			PolicyVersion:     "local-v1",
			GGUFGuardManifest: "manifests/model.tensors.json",
			GGUFGuardFingerprint: map[string]any{
				"int": int64(-9223372036854775808), "zero": int64(0), "float": 0.1, "whole float": 3.0, "big": 1e21, "tiny": 5e-324,
				"neg zero": math.Copysign(0, -1), "bool": true, "null": nil, "str": "2026-01-01", "num str": "12",
				"empty map": map[string]any{}, "empty seq": []any{},
				"seq":    []any{int64(1), "x", []any{[]any{int64(2)}, map[string]any{}}, map[string]any{"k": []any{}, "j": map[string]any{"deep": false}}},
				"nested": map[string]any{"a": map[string]any{"b": []any{nil, 1.5}}},
			},
			Blocked:       true,
			BlockedReason: "Rejected: 15/41 prompts flagged; \"critical\" — see #42",
		},
		{Name: "a first", Format: FormatGGUF, Filename: "a.gguf", SHA256: hexA, SizeBytes: 0},
		{Name: "modèle 模型 🦙", Format: FormatGGUF, Filename: "m.gguf", SHA256: hexA, SizeBytes: 15, State: StateTrusted},
	}}
}

func canonical(l *Lock) *Lock {
	sortEntries(l.Models)
	return l
}

func TestRoundTrip(t *testing.T) {
	for name, l := range map[string]*Lock{
		"full":      canonical(fullLock()),
		"empty":     {Version: 1},
		"minimal":   mustParse(t, minimalExample),
		"appliance": mustParse(t, applianceExample),
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(back, l) {
				t.Fatalf("round trip differs\n got %#v\nwant %#v\n%s", back, l, out)
			}
			again, err := Marshal(back)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("re-marshal is not byte-identical (%v)\n%s\n---\n%s", err, out, again)
			}
		})
	}
}

func mustParse(t *testing.T, s string) *Lock {
	t.Helper()
	l, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The same content gives the same bytes whatever the entry order, nil or
// empty collections, and however many times it is written.
func TestMarshalDeterministic(t *testing.T) {
	want, err := Marshal(canonical(fullLock()))
	if err != nil {
		t.Fatal(err)
	}
	shuffled := fullLock()
	shuffled.Models[0], shuffled.Models[2] = shuffled.Models[2], shuffled.Models[0]
	shuffled.Models[1].ScanResults = map[string]string{}
	shuffled.Models[1].GGUFGuardFingerprint = map[string]any{}
	before := shuffled.Models[0].Name
	for i := 0; i < 20; i++ { // map iteration order differs between runs
		got, err := Marshal(shuffled)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("output depends on order or emptiness\n%s\n---\n%s", got, want)
		}
	}
	if shuffled.Models[0].Name != before {
		t.Fatal("Marshal reordered the caller's entries")
	}
	if !bytes.HasSuffix(want, []byte("\n")) || bytes.HasSuffix(want, []byte("\n\n")) {
		t.Fatal("want exactly one trailing newline")
	}
}

func TestMarshalGolden(t *testing.T) {
	l := &Lock{Version: 1, Models: []Entry{
		{Name: "b", Format: "gguf", Filename: "b.gguf", SHA256: hexA, SizeBytes: 15, State: StateTrusted,
			PromotedAt: "2026-04-28T19:07:18Z", PolicyVersion: "local-v1",
			ScanResults:          map[string]string{"modelscan": "pass", "format_gate": "pass"},
			ScannerVersions:      map[string]string{"modelscan": "0.8.8"},
			GGUFGuardFingerprint: map[string]any{"tensor_count": int64(291), "mean": 0.25, "types": []any{"Q4_K", map[string]any{"n": int64(2)}}, "x": map[string]any{}},
		},
		{Name: "a", Format: "gguf", Source: "https://example.com/a", Filename: "a.gguf", SHA256: hexB, SizeBytes: 2,
			Blocked: true, BlockedReason: "smoke test"},
	}}
	got, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `# models.lock.yaml written by ai-model-registry (package lockfile): entries sorted by name.
version: 1
models:
  - name: "a"
    format: "gguf"
    source: "https://example.com/a"
    filename: "a.gguf"
    sha256: "` + hexB + `"
    size_bytes: 2
    blocked: true
    blocked_reason: "smoke test"
  - name: "b"
    format: "gguf"
    filename: "b.gguf"
    sha256: "` + hexA + `"
    size_bytes: 15
    state: "trusted"
    promoted_at: "2026-04-28T19:07:18Z"
    policy_version: "local-v1"
    scan_results:
      "format_gate": "pass"
      "modelscan": "pass"
    scanner_versions:
      "modelscan": "0.8.8"
    gguf_guard_fingerprint:
      "mean": 0.25
      "tensor_count": 291
      "types":
        - "Q4_K"
        -
          "n": 2
      "x": {}
`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if string(mustMarshal(t, &Lock{Version: 1})) != "# models.lock.yaml written by ai-model-registry (package lockfile): entries sorted by name.\nversion: 1\nmodels: []\n" {
		t.Fatal("empty lock")
	}
}

func mustMarshal(t *testing.T, l *Lock) []byte {
	t.Helper()
	out, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Marshal never writes what Parse would refuse.
func TestMarshalRefuses(t *testing.T) {
	ok := func() Entry { return Entry{Name: "m", Format: "gguf", Filename: "m.gguf", SHA256: hexA, SizeBytes: 1} }
	for name, mod := range map[string]func(l *Lock){
		"version 0":         func(l *Lock) { l.Version = 0 },
		"blocked trusted":   func(l *Lock) { l.Models[0].Blocked, l.Models[0].State = true, StateTrusted },
		"reason unblocked":  func(l *Lock) { l.Models[0].BlockedReason = "x" },
		"bad sha":           func(l *Lock) { l.Models[0].SHA256 = "x" },
		"negative size":     func(l *Lock) { l.Models[0].SizeBytes = -1 },
		"duplicate name":    func(l *Lock) { l.Models = append(l.Models, l.Models[0]) },
		"newline in name":   func(l *Lock) { l.Models[0].Name = "a\nb" },
		"invalid UTF-8":     func(l *Lock) { l.Models[0].Source = "\xff" },
		"U+2028":            func(l *Lock) { l.Models[0].Source = "a\u2028b" },
		"U+FFFE":            func(l *Lock) { l.Models[0].Source = "a\ufffeb" },
		"bad state":         func(l *Lock) { l.Models[0].State = "approved" },
		"Go int":            func(l *Lock) { l.Models[0].GGUFGuardFingerprint = map[string]any{"n": 1} },
		"float32":           func(l *Lock) { l.Models[0].GGUFGuardFingerprint = map[string]any{"n": float32(1)} },
		"NaN":               func(l *Lock) { l.Models[0].GGUFGuardFingerprint = map[string]any{"n": math.NaN()} },
		"Inf in a sequence": func(l *Lock) { l.Models[0].GGUFGuardFingerprint = map[string]any{"n": []any{math.Inf(1)}} },
		"string slice":      func(l *Lock) { l.Models[0].GGUFGuardFingerprint = map[string]any{"n": []string{"x"}} },
		"empty key":         func(l *Lock) { l.Models[0].ScanResults = map[string]string{"": "x"} },
		"too many evidence": func(l *Lock) {
			l.Models[0].ScannerVersions = map[string]string{}
			for i := 0; i <= MaxEvidenceEntries; i++ {
				l.Models[0].ScannerVersions[strings.Repeat("k", i+1)] = "v"
			}
		},
		"bad promoted_at": func(l *Lock) { l.Models[0].PromotedAt = "now" },
		"dotdot":          func(l *Lock) { l.Models[0].Filename = "../m.gguf" },
		"stale object":    func(l *Lock) { l.Models[0].ObjectPath = "objects/sha256/00/x.gguf" },
	} {
		l := &Lock{Version: 1, Models: []Entry{ok()}}
		mod(l)
		if out, err := Marshal(l); err == nil {
			t.Errorf("%s: Marshal accepted\n%s", name, out)
		} else if !strings.HasPrefix(err.Error(), "lockfile: not a valid lock: ") && name != "" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Marshal(nil); err == nil {
		t.Error("nil lock")
	}
	big := &Lock{Version: 1}
	for i := 0; len(big.Models)*MaxSourceBytes <= MaxInputBytes; i++ {
		big.Models = append(big.Models, Entry{Name: fmt.Sprint(i), Format: "gguf", Filename: fmt.Sprint(i, ".gguf"), SHA256: hexA,
			Source: strings.Repeat("s", MaxSourceBytes)})
	}
	if _, err := Marshal(big); err == nil || !strings.Contains(err.Error(), "more than Parse accepts") {
		t.Errorf("a lock larger than Parse accepts: %v", err)
	}
}

func TestFingerprintFromJSON(t *testing.T) {
	m, err := FingerprintFromJSON([]byte(`{"n": 291, "f": 0.25, "e": 1e3, "big": -9223372036854775808, "s": "x", "b": true, "z": null, "l": [1, {}], "o": {"k": []}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": int64(291), "f": 0.25, "e": 1000.0, "big": int64(math.MinInt64), "s": "x", "b": true, "z": nil,
		"l": []any{int64(1), map[string]any{}}, "o": map[string]any{"k": []any{}}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("%#v", m)
	}
	l := &Lock{Version: 1, Models: []Entry{{Name: "m", Format: "gguf", Filename: "m.gguf", SHA256: hexA, GGUFGuardFingerprint: m}}}
	back, err := Parse(mustMarshal(t, l))
	if err != nil || !reflect.DeepEqual(back, l) {
		t.Fatalf("fingerprint from JSON does not round-trip: %v", err)
	}
	if m, err := FingerprintFromJSON([]byte(`{}`)); m != nil || err != nil {
		t.Fatalf("empty: %v %v", m, err)
	}
	for _, bad := range []string{
		`{"a": 1, "a": 2}`, `{"a": 1} x`, `[1]`, `null`, `{"a": 9223372036854775808}`, `{"a": 1e400}`,
		`{"a": "x\ny"}`, `{"": 1}`, `{"a": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	} {
		if _, err := FingerprintFromJSON([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
