package policy

import (
	"strings"
)

// asciiLower lower-cases ASCII letters only. Comparisons of verdicts,
// formats and licenses fold ASCII case only: Unicode folding would make
// "paſs" (long s) or "\u212Aelvin" equal to ASCII words.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'A' && x <= 'Z' {
			x += 'a' - 'A'
		}
		if y >= 'A' && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// matchSource reports whether source is allowed by one sources pattern.
//
// In a pattern, '*' stands for any run of characters and '?' for any one
// character, other than '/', '?', '#' and '@'; every other character,
// '[' included, stands for itself. The wildcards stop at the characters
// that end a URL's host or path so that "https://*.example.com/" does not
// allow "https://evil.example?.example.com/" (host evil.example) and
// "https://models-*/" does not allow "https://models-x@evil.example/". A pattern that ends in '/' is
// a prefix: it must match the source up to and including the source's
// slash of the same rank (for "https://huggingface.co/TheBloke/", the
// fourth), and anything may follow. Any other pattern must match the
// whole source. Matching is exact otherwise: no case folding, no URL
// normalization, so "HTTPS://huggingface.co/x" is not matched by
// "https://huggingface.co/".
//
// Ending a prefix with '/' is what keeps "https://huggingface.co/" from
// allowing "https://huggingface.co.evil.example/".
func matchSource(pattern, source string) bool {
	if strings.HasSuffix(pattern, "/") {
		n := strings.Count(pattern, "/")
		end := -1
		for i := 0; i < len(source) && n > 0; i++ {
			if source[i] == '/' {
				n--
				end = i
			}
		}
		if n > 0 {
			return false
		}
		source = source[:end+1]
	}
	return glob(pattern, source)
}

// glob matches a whole string against a pattern of '*' and '?' that never
// match '/' (nor, see wild, '?', '#', '@'). Since neither wildcard crosses a '/', both sides must have
// their slashes in the same places: the segments between them are
// matched one by one.
func glob(pattern, s string) bool {
	if strings.Count(pattern, "/") != strings.Count(s, "/") {
		return false
	}
	for {
		pi := strings.IndexByte(pattern, '/')
		si := strings.IndexByte(s, '/')
		if pi < 0 {
			return globSegment(pattern, s)
		}
		if !globSegment(pattern[:pi], s[:si]) {
			return false
		}
		pattern, s = pattern[pi+1:], s[si+1:]
	}
}

// globSegment is the usual linear-space wildcard match with one
// backtracking point: O(len(p)·len(s)) at worst, linear for the patterns
// people write. '?' matches one byte of s after any complete UTF-8
// sequence, i.e. one rune.
func globSegment(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == '?' && wild(s[si]):
			pi++
			si += runeLen(s[si:])
		case pi < len(p) && p[pi] == s[si] && p[pi] != '?':
			pi++
			si++
		case star >= 0 && wild(s[mark]):
			mark += runeLen(s[mark:])
			pi, si = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// wild reports whether a wildcard may match the byte c of a source.
func wild(c byte) bool {
	return c != '?' && c != '#' && c != '@'
}

// runeLen is the length of the first rune of s, 1 for invalid UTF-8.
func runeLen(s string) int {
	c := s[0]
	switch {
	case c < 0xC0:
		return 1
	case c < 0xE0:
		return min(2, len(s))
	case c < 0xF0:
		return min(3, len(s))
	}
	return min(4, len(s))
}

// version is a "semver-ish" version: [v]N(.N)* then an optional
// "-pre-release" and an optional "+build". Numbers are kept as digit
// strings without leading zeros so that no size overflows.
type version struct {
	nums  []string
	pre   bool
	build bool
}

func parseVersion(s string) (version, bool) {
	var v version
	if len(s) > MaxNameBytes {
		return v, false
	}
	s = strings.TrimPrefix(s, "v")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		if i == len(s)-1 {
			return v, false
		}
		v.build = true
		s = s[:i]
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		if i == len(s)-1 {
			return v, false
		}
		v.pre = true
		s = s[:i]
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return v, false
		}
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return v, false
			}
		}
		part = strings.TrimLeft(part, "0")
		v.nums = append(v.nums, part) // "" is zero
	}
	return v, true
}

// atLeast reports whether v >= min. Missing components are zero (1.2 is
// 1.2.0); at equal numbers a pre-release is older than the release
// (1.2.0-rc1 < 1.2.0); build metadata is ignored. min has no
// pre-release (checkMinVersion refuses one).
func (v version) atLeast(min version) bool {
	for i := 0; i < max(len(v.nums), len(min.nums)); i++ {
		a, b := "", ""
		if i < len(v.nums) {
			a = v.nums[i]
		}
		if i < len(min.nums) {
			b = min.nums[i]
		}
		if len(a) != len(b) {
			return len(a) > len(b)
		}
		if a != b {
			return a > b
		}
	}
	return !v.pre
}
