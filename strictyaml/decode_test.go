package strictyaml

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// testFormat is a made-up kind of file, large enough for inputs beyond
// maxLocateBytes.
var testFormat = Format{Noun: "config", Needs: "at least name", Holds: "name and items", MaxBytes: 1 << 20}

// walkAll visits every node the way a caller's walk would, so that
// anchors, tags and duplicate keys anywhere in the tree are refused.
func walkAll(n *yaml.Node, what string) *Error {
	switch n.Kind {
	case yaml.MappingNode:
		return Mapping(n, what, func(key string, _, v *yaml.Node) *Error {
			return walkAll(v, what+"."+key)
		})
	case yaml.SequenceNode:
		return Sequence(n, what, 1000, func(i int, item *yaml.Node) *Error {
			return walkAll(item, fmt.Sprintf("%s[%d]", what, i))
		})
	}
	return Plain(n, what)
}

func decode(in string) *Error {
	return testFormat.Decode([]byte(in), func(top *yaml.Node) *Error { return walkAll(top, TopLevel) })
}

func wantError(t *testing.T, e *Error, line int, msg string) {
	t.Helper()
	if e == nil {
		t.Fatalf("accepted; want line %d containing %q", line, msg)
	}
	if e.Line != line || !strings.Contains(e.Msg, msg) {
		t.Fatalf("want line %d containing %q\n got %v", line, msg, e)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		line     int
		msg      string
	}{
		// Documents.
		{"empty input", "", 0, "no YAML document; a config needs at least name"},
		{"comments only", "# nothing\n", 0, "no YAML document"},
		{"second document", "name: a\n---\nname: b\n", 2, "a second YAML document starts here; a config is exactly one document"},
		{"empty second document", "name: a\n--- \n", 2, "a second YAML document starts here"},
		{"second document after end marker", "name: a\n...\n---\nx: 1\n", 3, "a second YAML document"},
		// libyaml places this one on line 3, which does not exist.
		{"second document without newline", "name: a\n---", 2, "a second YAML document starts here"},
		{"bare document start", "---", 1, "the top level must be a mapping with name and items, got null"},
		{"top-level sequence", "- name: a\n", 1, "the top level must be a mapping with name and items, got a sequence"},
		{"top-level scalar", "\n\nconfig\n", 3, `the top level must be a mapping with name and items, got string "config"`},

		// Anchors, aliases, merge keys, tags, keys.
		{"anchor on the top level", "&top\nname: a\n", 1, "top level: anchor &top: anchors and aliases are not allowed"},
		{"anchor", "name: &n a\n", 1, "top level.name: anchor &n: anchors and aliases are not allowed"},
		{"anchor before alias", "a: &v 1\nb: *v\n", 1, "top level.a: anchor &v"},
		{"undefined alias", "name: a\nitems: *nowhere\n", 2, "YAML syntax error: alias *nowhere refers to no anchor (anchors and aliases are not allowed)"},
		{"undefined alias in a flow sequence", "items: [a, *b]\n", 1, "alias *b refers to no anchor"},
		{"merge key", "name: a\n<<: {b: 1}\n", 2, `top level: key must be a string, got merge "<<"`},
		{"int key", "1: a\n", 1, `top level: key must be a string, got int "1"`},
		{"null key", "? \n: a\n", 1, "top level: key must be a string, got null"},
		{"str tag", "name: !!str a\n", 1, `top level.name: explicit tag "!!str" is not allowed`},
		{"custom tag on a sequence", "items: !list [a]\n", 1, `top level.items: explicit tag "!list"`},
		{"tagged top level", "!!map {name: a}\n", 1, `top level: explicit tag "!!map"`},
		{"duplicate key", "name: a\nitems: []\nname: b\n", 3, `duplicate key "name" in top level (first on line 1)`},
		{"duplicate key quoted differently", "name: a\n'name': b\n", 2, `duplicate key "name" in top level (first on line 1)`},
		{"duplicate nested key", "items:\n  - a: 1\n    a: 2\n", 3, `duplicate key "a" in top level.items[0] (first on line 2)`},
		{"duplicate flow key", "items: [{a: 1, a: 2}]\n", 1, `duplicate key "a" in top level.items[0]`},

		// Raw bytes.
		{"control character", "name: a\n# a\x01b\n", 2, "control character U+0001 is not allowed in a config file"},
		{"NUL", "name: \"a\x00\"\n", 1, "control character U+0000"},
		{"DEL", "name: a\x7f\n", 1, "control character U+007F"},
		{"NEL", "name: a\u0085b\n", 1, "control character U+0085"},
		{"bidi override in a comment", "name: a # \u202eeslaf\n", 1, "bidirectional formatting character U+202E is not allowed in a config file"},
		{"bidi isolate in a value", "name: a\nitems: [\"b\u2066\"]\n", 2, "U+2066"},
		{"Arabic letter mark", "name: a\u061c\n", 1, "bidirectional formatting character U+061C"},
		{"line separator", "name: a\n# \u2028\n", 2, "character U+2028 is not allowed"},
		{"paragraph separator", "name: a\u2029\n", 1, "character U+2029"},
		{"BOM inside", "name: a\n# \ufeff\n", 2, "character U+FEFF is not allowed"},
		{"noncharacter", "name: \uffff\n", 1, "character U+FFFF"},
		{"invalid UTF-8", "name: a\n# \xff\n", 2, "not valid UTF-8 (byte 0xff)"},
		{"truncated UTF-8", "name: \xc3", 1, "not valid UTF-8 (byte 0xc3)"},
		{"lone CR", "name: a\ritems: []\n", 1, "carriage return not followed by a line feed"},
		{"CR at the end", "name: a\r", 1, "carriage return not followed by a line feed"},
		{"too large", strings.Repeat("#", testFormat.MaxBytes+1), 0, "1048577 bytes, more than the limit of 1048576"},

		// Syntax errors: the line of the offending text.
		{"tab indentation", "name: a\nitems:\n\t- b\n", 3, "YAML syntax error: found character that cannot start any token"},
		{"unterminated flow sequence", "name: a\nitems: [b\nother: [c]\n", 2, "YAML syntax error: did not find expected ',' or ']'"},
		{"unterminated quote", "name: a\nitems: [\"b\n", 2, "YAML syntax error: found unexpected end of stream"},
		{"key without value", "name: a\nitems\n", 2, "YAML syntax error: could not find expected ':'"},
		{"under-indented key", "name: a\nitems:\n  - a: 1\n  b: 2\n", 4, "YAML syntax error: did not find expected '-' indicator"},
		{"over-indented key", "name: a\n  items: []\n", 2, "YAML syntax error: mapping values are not allowed in this context"},
		{"syntax error on line 1", "name: 'a\n", 1, "YAML syntax error: found unexpected end of stream"},
		{"undefined tag handle", "name: !x!y a\n", 1, "YAML syntax error: found undefined tag handle"},
		{"CRLF lines", "name: a\r\nitems: []\r\nname: b\r\n", 3, `duplicate key "name"`},
		{"CRLF syntax error", "name: a\r\nitems:\r\n  - a: 1\r\n  b: 2\r\n", 4, "did not find expected '-' indicator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, decode(tc.in), tc.line, tc.msg)
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"block style", "name: a\nitems:\n  - b\n  - c: 1\n"},
		{"byte order mark", "\ufeffname: a\n"},
		{"CRLF", "name: a\r\nitems: []\r\n"},
		{"tab in a value", "name: \"a\tb\"\n"},
		{"document markers", "%YAML 1.1\n---\nname: a\n...\n# end\n"},
		{"flow style", "{name: a, items: [b, {c: 1}]}"},
		{"no final newline", "name: a"},
		{"empty mapping", "{}"},
		{"unicode", "name: modèle 模型 🦙\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := decode(tc.in); e != nil {
				t.Fatal(e)
			}
		})
	}
}

// Beyond maxLocateBytes the line is yaml.v3's own, corrected to 1-based:
// for a parser error, the start of the enclosing block (line 3 in the
// first row, where locate says 4).
func TestDecodeSyntaxLineWithoutLocate(t *testing.T) {
	pad := strings.Repeat("# padding\n", maxLocateBytes/10+1)
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"name: a\nitems:\n  - a: 1\n  b: 2\n" + pad, 3, "did not find expected '-' indicator"},
		{"- a\n- b\nc: 1\n" + pad, 3, "did not find expected '-' indicator"},
		{"name: a\nitems: [\"b\n" + pad, 2, "found unexpected end of stream"},
		{"name: a\nitems: *nowhere\n" + pad, 2, "alias *nowhere refers to no anchor"},
	} {
		wantError(t, decode(tc.in), tc.line, tc.msg)
		if e := decode(strings.TrimSuffix(tc.in, pad)); e == nil || e.Msg != decode(tc.in).Msg {
			t.Fatalf("without padding: %v", e)
		}
	}
}

func TestDecodeWalk(t *testing.T) {
	in := []byte("name: a\nitems: []\n")
	var got *yaml.Node
	if e := testFormat.Decode(in, func(top *yaml.Node) *Error { got = top; return nil }); e != nil {
		t.Fatal(e)
	}
	if got.Kind != yaml.MappingNode || len(got.Content) != 4 || got.Content[0].Value != "name" {
		t.Fatalf("walk got %+v", got)
	}

	// The walk's error comes back as it is, but never past the last line.
	e := testFormat.Decode(in, func(top *yaml.Node) *Error { return Errorf(1, "walk") })
	wantError(t, e, 1, "walk")
	e = testFormat.Decode(in, func(top *yaml.Node) *Error { return Errorf(9, "walk") })
	wantError(t, e, 2, "walk")

	// A panic is a refusal, not a crash.
	e = testFormat.Decode(in, func(top *yaml.Node) *Error { panic("boom") })
	wantError(t, e, 0, InternalError+" the config: boom")

	// The walk never sees a refused input.
	called := false
	_ = testFormat.Decode([]byte("- a\n"), func(*yaml.Node) *Error { called = true; return nil })
	if called {
		t.Fatal("walk called for a top-level sequence")
	}
}

func TestDecodeBillionLaughsIsCheap(t *testing.T) {
	// Nine levels of nine aliases would expand to 9^9 strings; refusing
	// the first anchor must not walk any of it.
	var b strings.Builder
	b.WriteString(`a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]` + "\n")
	for c := 'b'; c <= 'i'; c++ {
		p := string(c - 1)
		fmt.Fprintf(&b, "%c: &%c [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", c, c, p, p, p, p, p, p, p, p, p)
	}
	calls := 0
	e := testFormat.Decode([]byte(b.String()), func(top *yaml.Node) *Error {
		return Mapping(top, TopLevel, func(key string, _, v *yaml.Node) *Error {
			calls++
			return walkAll(v, key)
		})
	})
	wantError(t, e, 1, "a: anchor &a")
	if calls != 1 {
		t.Fatalf("%d keys walked", calls)
	}
}

func TestLastLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 1},
		{"a", 1},
		{"a\n", 1},
		{"\n", 1},
		{"a\nb", 2},
		{"a\nb\n", 2},
		{"a\r\nb\r\n\n", 3},
	} {
		if got := lastLine([]byte(tc.in)); got != tc.want {
			t.Errorf("lastLine(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
