package strictyaml

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// value parses text as a one-document YAML and returns its node.
func value(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	if len(doc.Content) != 1 {
		t.Fatalf("%q: %d nodes", text, len(doc.Content))
	}
	return doc.Content[0]
}

// refusal is the message of e, "" for nil.
func refusal(e *Error) string {
	if e == nil {
		return ""
	}
	return e.Msg
}

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"abc", "abc", ""},
		{`"123"`, "123", ""},
		{"'yes'", "yes", ""},
		{"yes", "yes", ""}, // YAML 1.2: a string
		{`""`, "", ""},
		{"|\n  two\n  lines\n", "two\nlines\n", ""},
		{"123", "", `v: want a string, got int "123" (quote it if it is meant as text)`},
		{"1.5", "", `v: want a string, got float "1.5" (quote it if it is meant as text)`},
		{"true", "", `v: want a string, got bool "true" (quote it if it is meant as text)`},
		{"2026-05-01", "", `v: want a string, got timestamp "2026-05-01" (quote it if it is meant as text)`},
		{"~", "", "v: want a string, got null"},
		{"[a]", "", "v: want a string, got a sequence"},
		{"{a: b}", "", "v: want a string, got a mapping"},
		{"!!str 1", "", `v: explicit tag "!!str" is not allowed`},
		{"!custom x", "", `v: explicit tag "!custom" is not allowed`},
		{"&a x", "", "v: anchor &a: anchors and aliases are not allowed"},
	} {
		got, e := String(value(t, tc.in), "v")
		if got != tc.want || refusal(e) != tc.err {
			t.Errorf("String(%q) = %q, %q; want %q, %q", tc.in, got, refusal(e), tc.want, tc.err)
		}
	}
}

func TestDecimal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{"0", 0, ""},
		{"15", 15, ""},
		{"-1", -1, ""},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"-9223372036854775808", -1 << 63, ""},
		{"9223372036854775808", 0, `v: integer "9223372036854775808" out of range`},
		{"010", 0, `v: want a plain decimal integer, got "010"`},
		{"-0", 0, ""},
		{"-01", 0, `v: want a plain decimal integer, got "-01"`},
		{"0x10", 0, `v: want a plain decimal integer, got "0x10"`},
		{"0o17", 0, `v: want a plain decimal integer, got "0o17"`},
		{"+5", 0, `v: want a plain decimal integer, got "+5"`},
		{"1_000", 0, `v: want a plain decimal integer, got "1_000"`},
		{`"10"`, 0, `v: want an integer, got string "10"`},
		{"1.0", 0, `v: want an integer, got float "1.0"`},
		{"1e3", 0, `v: want an integer, got float "1e3"`},
		{"", 0, "v: want an integer, got null"},
		{"!!int 1", 0, `v: explicit tag "!!int" is not allowed`},
	} {
		got, e := Decimal(value(t, "v: "+tc.in).Content[1], "v")
		if got != tc.want || refusal(e) != tc.err {
			t.Errorf("Decimal(%q) = %d, %q; want %d, %q", tc.in, got, refusal(e), tc.want, tc.err)
		}
	}
}

func TestBool(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		err  string
	}{
		{"true", true, ""},
		{"True", true, ""},
		{"TRUE", true, ""},
		{"false", false, ""},
		{"False", false, ""},
		{"FALSE", false, ""},
		{"yes", false, `v: want true or false, got string "yes"`},
		{"on", false, `v: want true or false, got string "on"`},
		{`"true"`, false, `v: want true or false, got string "true"`},
		{"1", false, `v: want true or false, got int "1"`},
		{"~", false, "v: want true or false, got null"},
		{"&b true", false, "v: anchor &b: anchors and aliases are not allowed"},
	} {
		got, e := Bool(value(t, tc.in), "v")
		if got != tc.want || refusal(e) != tc.err {
			t.Errorf("Bool(%q) = %t, %q; want %t, %q", tc.in, got, refusal(e), tc.want, tc.err)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"{}", "a mapping"},
		{"[]", "a sequence"},
		{"~", "null"},
		{"x", `string "x"`},
		{"12", `int "12"`},
		{".5", `float ".5"`},
		{"<<", `merge "<<"`},
		{"!local x", `"!local" "x"`},
		{strings.Repeat("é", 50), `string "` + strings.Repeat("é", 40) + `"...`},
	} {
		if got := Describe(value(t, tc.in)); got != tc.want {
			t.Errorf("Describe(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a"), &doc); err != nil {
		t.Fatal(err)
	}
	if got := Describe(&doc); got != "a document" {
		t.Errorf("Describe(document) = %s", got)
	}
}

func TestMapping(t *testing.T) {
	type pair struct {
		key  string
		line int
	}
	for _, tc := range []struct {
		in   string
		want []pair // the keys f saw, in order
		err  string
	}{
		{"a: 1\nb: 2\n", []pair{{"a", 1}, {"b", 2}}, ""},
		{"{}", nil, ""},
		{"b: 1\na: 2\n", []pair{{"b", 1}, {"a", 2}}, ""},
		{"a: 1\nb: 2\na: 3\n", []pair{{"a", 1}, {"b", 2}}, `duplicate key "a" in m (first on line 1)`},
		{"a: 1\n\"a\": 2\n", []pair{{"a", 1}}, `duplicate key "a" in m (first on line 1)`},
		{"a: 1\n<<: {b: 2}\n", []pair{{"a", 1}}, `m: key must be a string, got merge "<<"`},
		{"1: a\n", nil, `m: key must be a string, got int "1"`},
		{"[a]: b\n", nil, "m: key must be a string, got a sequence"},
		{"!!str a: b\n", nil, `m: explicit tag "!!str" is not allowed`},
		{"&k a: b\n", nil, "m: anchor &k: anchors and aliases are not allowed"},
		{"stop: 1\nb: 2\n", []pair{{"stop", 1}}, "stopped"},
		{"[a]", nil, "m: want a mapping, got a sequence"},
		{"&m {a: 1}", nil, "m: anchor &m: anchors and aliases are not allowed"},
	} {
		var got []pair
		e := Mapping(value(t, tc.in), "m", func(key string, k, v *yaml.Node) *Error {
			got = append(got, pair{key, k.Line})
			if key == "stop" {
				return Errorf(k.Line, "stopped")
			}
			return nil
		})
		if !reflect.DeepEqual(got, tc.want) || refusal(e) != tc.err {
			t.Errorf("Mapping(%q) saw %v, %q; want %v, %q", tc.in, got, refusal(e), tc.want, tc.err)
		}
	}
}

func TestSequence(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{"[a, b, c]", []string{"a", "b", "c"}, ""},
		{"[]", nil, ""},
		{"- a\n- b\n", []string{"a", "b"}, ""},
		{"[a, b, c, d]", nil, "s: 4 entries, more than the limit of 3"},
		{"[a, stop, c]", []string{"a", "stop"}, "stopped at 1"},
		{"{a: b}", nil, "s: want a sequence, got a mapping"},
		{"a", nil, `s: want a sequence, got string "a"`},
		{"!!seq [a]", nil, `s: explicit tag "!!seq" is not allowed`},
	} {
		var got []string
		e := Sequence(value(t, tc.in), "s", 3, func(i int, item *yaml.Node) *Error {
			got = append(got, item.Value)
			if item.Value == "stop" {
				return Errorf(item.Line, "stopped at %d", i)
			}
			return nil
		})
		if !reflect.DeepEqual(got, tc.want) || refusal(e) != tc.err {
			t.Errorf("Sequence(%q) saw %q, %q; want %q, %q", tc.in, got, refusal(e), tc.want, tc.err)
		}
	}
}

func TestPlainAlias(t *testing.T) {
	// An alias node is only reachable by walking past its anchor, which
	// Plain refuses first; it is refused on its own all the same.
	n := value(t, "a: &x 1\nb: *x\n").Content[3]
	if n.Kind != yaml.AliasNode {
		t.Fatalf("kind %v", n.Kind)
	}
	e := Plain(n, "b")
	if refusal(e) != "b: alias *x: anchors and aliases are not allowed" || e.Line != 2 {
		t.Fatalf("%v", e)
	}
}
