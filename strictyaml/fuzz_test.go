package strictyaml

import (
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzDecode: Decode never panics (a recovered panic says InternalError)
// and refuses only with a line that exists. For an accepted input, every
// string in it that CheckText accepts is written by Quote in a form that
// Decode reads back as the same string. Seeds are in
// testdata/fuzz/FuzzDecode, taken from lockfile's and policy's corpora
// (their whole-file examples left out: minimizing inputs that large
// stalls the fuzzer, and FuzzParse there covers them).
func FuzzDecode(f *testing.F) {
	f.Add([]byte("name: a\nitems:\n  - b\n  - {c: 1, d: [e, \"f\\tg\"]}\n"))
	f.Add([]byte("a: &a [x]\nb: *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var texts []string
		e := testFormat.Decode(data, func(top *yaml.Node) *Error {
			if e := walkAll(top, TopLevel); e != nil {
				return e
			}
			texts = collect(top, texts)
			return nil
		})
		if e != nil {
			if strings.Contains(e.Msg, InternalError) {
				t.Fatalf("panic: %v", e)
			}
			if e.Line < 0 || e.Line > lastLine(data) {
				t.Fatalf("line %d of a %d-line input: %v", e.Line, lastLine(data), e)
			}
			return
		}
		var quoted strings.Builder
		var want []string
		for _, s := range texts {
			if CheckText(s, len(s)) == "" {
				quoted.WriteString("- " + Quote(s) + "\n")
				want = append(want, s)
			}
		}
		if len(want) == 0 {
			return
		}
		var back []string
		list := []byte("v:\n" + quoted.String())
		e = Format{Noun: "list", MaxBytes: len(list)}.Decode(list, func(top *yaml.Node) *Error {
			return Sequence(top.Content[1], "v", len(want), func(i int, item *yaml.Node) *Error {
				s, e := String(item, "v")
				back = append(back, s)
				return e
			})
		})
		if e != nil || !slices.Equal(back, want) {
			t.Fatalf("Quote wrote %q, read back as %q (%v)", list, back, e)
		}
	})
}

// collect appends the string scalars below n, keys included.
func collect(n *yaml.Node, out []string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag == TagStr {
		return append(out, n.Value)
	}
	for _, c := range n.Content {
		out = collect(c, out)
	}
	return out
}
