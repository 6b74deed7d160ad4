package strictyaml

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"", 8, ""},
		{"pass", 8, ""},
		{"12345678", 8, ""},
		{"123456789", 8, "is longer than 8 bytes"},
		{"modèle 模型 🦙", 64, ""},
		{"a\tb", 8, "contains control character U+0009"},
		{"a\nb", 8, "contains control character U+000A"},
		{"\x00", 8, "contains control character U+0000"},
		{"a\x7f", 8, "contains control character U+007F"},
		{"a\u0085", 8, "contains control character U+0085"},
		{"a\u202eb", 8, "contains bidirectional formatting character U+202E"},
		{"\u200f", 8, "contains bidirectional formatting character U+200F"},
		{"\u2069", 8, "contains bidirectional formatting character U+2069"},
		{"\u061c", 8, "contains bidirectional formatting character U+061C"},
		{"\u2028", 8, "contains character U+2028"},
		{"\ufeff", 8, "contains character U+FEFF"},
		{"\ufffe", 8, "contains character U+FFFE"},
		{"a\xffb", 8, "is not valid UTF-8"},
		{"\u200d", 8, ""}, // a zero-width joiner is no bidi control
	} {
		if got := CheckText(tc.in, tc.max); got != tc.want {
			t.Errorf("CheckText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`a "b" \c`, `"a \"b\" \\c"`},
		{`\\`, `"\\\\"`},
		{"# not: a comment", `"# not: a comment"`},
		{"modèle 🦙", `"modèle 🦙"`},
	} {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Quote's output reads back as the very string for every value CheckText
// accepts, including the ones YAML would otherwise read as something
// else.
func TestQuoteReadsBack(t *testing.T) {
	for _, s := range []string{
		"", "~", "null", "true", "yes", "010", "1e3", "2026-05-01", "<<", "*a", "&a", "!t", "%x", "@x", "`x",
		"- [x]: {y}", "a: b", " lead", "trail ", `"`, `\`, `\n`, "'", "'s'", "\u00a0", "\U0010FFFD", "\uE000", "\u200d",
		"modèle 模型 🦙",
	} {
		if why := CheckText(s, 1024); why != "" {
			t.Fatalf("%q %s", s, why)
		}
		var got string
		if err := yaml.Unmarshal([]byte("v: "+Quote(s)), &struct{ V *string }{&got}); err != nil {
			t.Fatalf("Quote(%q) = %s: %v", s, Quote(s), err)
		}
		if got != s {
			t.Errorf("Quote(%q) = %s reads back as %q", s, Quote(s), got)
		}
	}
}

func TestShow(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{"a\x01\u202e", `"a\x01\u202e"`},
		{strings.Repeat("x", 40), `"` + strings.Repeat("x", 40) + `"`},
		{strings.Repeat("x", 41), `"` + strings.Repeat("x", 40) + `"...`},
		{strings.Repeat("é", 100), `"` + strings.Repeat("é", 40) + `"...`},
		{"\xff", `"\xff"`},
	} {
		if got := Show(tc.in); got != tc.want {
			t.Errorf("Show(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{File: "policy.yaml", Line: 7, Msg: "m"}, "policy.yaml line 7: m"},
		{Error{File: "policy.yaml", Msg: "m"}, "policy.yaml: m"},
		{Error{Line: 7, Msg: "m"}, "line 7: m"},
		{Error{Msg: "m"}, "m"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
	if e := Errorf(3, "%s: %d", "x", 1); *e != (Error{Line: 3, Msg: "x: 1"}) {
		t.Errorf("Errorf: %+v", e)
	}
}
