package lockfile

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// FuzzParse: Parse never panics, refuses only with an *Error whose line
// exists, and whatever it accepts is written by Marshal in a form that
// parses back to an equal Lock and re-marshals byte for byte. Seeds are
// in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimalExample))
	f.Add([]byte(applianceExample))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := Parse(data)
		if err != nil {
			var le *Error
			if !errors.As(err, &le) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if strings.Contains(le.Msg, strictyaml.InternalError) {
				t.Fatalf("YAML parser panicked: %v", err)
			}
			lines := bytes.Count(data, []byte("\n"))
			if len(data) > 0 && data[len(data)-1] != '\n' {
				lines++
			}
			if le.Line < 0 || le.Line > max(lines, 1) {
				t.Fatalf("line %d of a %d-line input: %v", le.Line, lines, err)
			}
			return
		}
		out, err := Marshal(l)
		if err != nil {
			t.Fatalf("accepted lock does not marshal: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("marshalled lock does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round trip differs\n got %#v\nwant %#v\n%s", back, l, out)
		}
		again, err := Marshal(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-marshal differs (%v)\n%s\n---\n%s", err, out, again)
		}
	})
}

// FuzzMarshal builds locks from arbitrary strings and numbers: whatever
// Marshal accepts must parse back to an equal Lock, so its quoting is
// right for every string validate lets through.
func FuzzMarshal(f *testing.F) {
	f.Add("ShieldGemma 2B (Q4_K_M)", "https://example.com", "modelscan", "pass", int64(15), 0.25, true)
	f.Add(`a "b" \c`, "# not: a comment", "<<", "*alias", int64(0), -0.0, false)
	f.Add("modèle 模型 🦙", "- [x]", "~", "&anchor !tag %x", int64(-1), 1e21, true)
	f.Add("x", "", "sub/dir", "'single' \"double\"", int64(1<<62), 5e-324, false)
	f.Fuzz(func(t *testing.T, name, source, key, value string, n int64, x float64, b bool) {
		e := Entry{
			Name: name, Format: FormatGGUF, Source: source, Filename: key + ".gguf", SHA256: hexA, SizeBytes: n,
			State: StateQuarantined, PolicyVersion: value, ScanResults: map[string]string{key: value, value: key},
			GGUFGuardFingerprint: map[string]any{key: []any{value, n, x, b, nil, map[string]any{value: name}, []any{}}},
			Blocked:              b, BlockedReason: source,
		}
		if !b {
			e.BlockedReason = ""
		}
		l := &Lock{Version: 1, Models: []Entry{e}}
		out, err := Marshal(l)
		if err != nil {
			return // validate refused it, as Parse would
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Marshal wrote what Parse refuses: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, l) {
			t.Fatalf("round trip differs\n got %#v\nwant %#v\n%s", back, l, out)
		}
	})
}
