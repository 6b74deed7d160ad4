package policy

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestMatchSource(t *testing.T) {
	for _, tc := range []struct {
		pattern, source string
		want            bool
	}{
		{"https://huggingface.co/", "https://huggingface.co/", true},
		{"https://huggingface.co/", "https://huggingface.co/TheBloke/m", true},
		{"https://huggingface.co/", "https://huggingface.co", false},
		{"https://huggingface.co/", "https://huggingface.co.evil.example/", false},
		{"https://huggingface.co/", "https://huggingface.co@evil.example/", false},
		{"https://huggingface.co/TheBloke/", "https://huggingface.co/TheBloke/x/y/z", true},
		{"https://huggingface.co/TheBloke/", "https://huggingface.co/thebloke/x", false},
		{"https://huggingface.co/*/*-GGUF/", "https://huggingface.co/a/b-GGUF/resolve/main/x.gguf", true},
		{"https://huggingface.co/*/*-GGUF/", "https://huggingface.co/a/b-GGUF", false},
		{"https://huggingface.co/*/*-GGUF/", "https://huggingface.co/a/b/c-GGUF/", false},
		{"https://huggingface.co/*/", "https://huggingface.co//x", true}, // '*' may be empty
		{"https://models.example.com/m.gguf", "https://models.example.com/m.gguf", true},
		{"https://models.example.com/m.gguf", "https://models.example.com/m.gguf/", false},
		{"https://models.example.com/m.gguf", "https://models.example.com/m.gguf?x", false},
		{"https://models.example.com/*.gguf", "https://models.example.com/a.b.gguf", true},
		{"https://models.example.com/*.gguf", "https://models.example.com/a?.gguf", false},
		{"https://models.example.com/m?.gguf", "https://models.example.com/mé.gguf", true}, // '?' is one character
		{"https://models.example.com/m?.gguf", "https://models.example.com/m?.gguf", false},
		{"https://models.example.com/m#1", "https://models.example.com/m#1", true}, // literals match themselves
		{"https://*.example.com/", "https://a.b.example.com/x", true},
		{"https://*.example.com/", "https://evil.example?.example.com/x", false},
		{"https://*.example.com/", "https://evil.example#.example.com/x", false},
		{"https://*.example.com/", "https://evil.example@a.example.com/x", false},
		{"https://[::1]:8080/", "https://[::1]:8080/m", true},
		{"https://[a]/", "https://a/m", false},
		{"*", "anything", true},
		{"*", "any/thing", false},
		{"", "", true},
	} {
		if got := matchSource(tc.pattern, tc.source); got != tc.want {
			t.Errorf("matchSource(%q, %q) = %v, want %v", tc.pattern, tc.source, got, tc.want)
		}
	}
}

// TestMatchSourceLikeRegexp compares matchSource with a regular
// expression written from its documentation, on random strings.
func TestMatchSourceLikeRegexp(t *testing.T) {
	reference := func(pattern string) *regexp.Regexp {
		var b strings.Builder
		b.WriteString("^(?s:")
		for _, r := range pattern {
			switch r {
			case '*':
				b.WriteString("[^/?#@]*")
			case '?':
				b.WriteString("[^/?#@]")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		b.WriteString(")")
		if !strings.HasSuffix(pattern, "/") {
			b.WriteString("$")
		}
		return regexp.MustCompile(b.String())
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func(alphabet []string, n int) string {
		var b strings.Builder
		for range rnd.IntN(n) {
			b.WriteString(alphabet[rnd.IntN(len(alphabet))])
		}
		return b.String()
	}
	patternChars := []string{"a", "b", "/", "*", "*", "?", "#", "@", "é", "."}
	sourceChars := []string{"a", "b", "/", "?", "#", "@", "é", ".", "*"}
	matched := 0
	for range 500 {
		p := word(patternChars, 9)
		re := reference(p)
		for range 40 {
			s := word(sourceChars, 12)
			got, want := matchSource(p, s), re.MatchString(s)
			if got != want {
				t.Fatalf("matchSource(%q, %q) = %v, the reference says %v", p, s, got, want)
			}
			if got {
				matched++
			}
		}
	}
	if matched < 200 {
		t.Fatalf("only %d random pairs matched; the comparison says little", matched)
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v, min string
		want   bool
	}{
		{"1.2.0", "1.2.0", true},
		{"1.2", "1.2.0", true},
		{"1.2.0", "1.2", true},
		{"1.10", "1.9", true},
		{"1.9", "1.10", false},
		{"01.02", "1.2", true},
		{"v2", "1.99.99", true},
		{"1.2.0-rc1", "1.2.0", false},
		{"1.2.1-rc1", "1.2.0", true},
		{"1.2.0+build", "1.2.0", true},
		{"0.8.7", "0.8.8", false},
		{"100000000000000000000000", "99999999999999999999999", true},
		{"0", "0", true},
	} {
		v, ok := parseVersion(tc.v)
		m, okm := parseVersion(tc.min)
		if !ok || !okm {
			t.Fatalf("%q or %q does not parse", tc.v, tc.min)
		}
		if got := v.atLeast(m); got != tc.want {
			t.Errorf("%s >= %s: %v, want %v", tc.v, tc.min, got, tc.want)
		}
	}
	for _, bad := range []string{"", "v", "1.", ".1", "1..2", "1.2-", "1.2+", "a.b", "1.2.x", "1 .2", strings.Repeat("1", MaxNameBytes+1)} {
		if _, ok := parseVersion(bad); ok {
			t.Errorf("parseVersion(%q) accepted", bad)
		}
	}
}
