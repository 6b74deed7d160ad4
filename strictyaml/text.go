package strictyaml

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// isBidiControl reports the Unicode Bidi_Control characters: they make a
// reviewer see text in another order than a program reads it ("Trojan
// Source"), which has no place in a security-relevant file.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// badRune says why r may not appear in a value ("" if it may). Beyond
// control and bidi characters it refuses the runes YAML treats as line
// breaks (U+2028, U+2029; U+0085 is a control) or refuses as unprintable
// (U+FFFE, U+FFFF), and U+FEFF, so that every accepted value can be
// written back by Quote exactly as it is.
func badRune(r rune) string {
	switch {
	case unicode.IsControl(r):
		return fmt.Sprintf("control character %U", r)
	case isBidiControl(r):
		return fmt.Sprintf("bidirectional formatting character %U", r)
	case r == 0x2028, r == 0x2029, r == 0xFEFF, r == 0xFFFE, r == 0xFFFF:
		return fmt.Sprintf("character %U", r)
	}
	return ""
}

// CheckText says why s is not an acceptable value of at most max bytes,
// as a predicate for a message ("is longer than 64 bytes", "is not valid
// UTF-8", "contains control character U+0009"), or "" if it is. The raw
// file has passed the same rune checks in Decode; CheckText is for values
// whose escapes ("\t", "\u202e") yaml.v3 has already turned into runes.
func CheckText(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("is longer than %d bytes", max)
	}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			// ASCII fast path: only C0 controls and DEL are refused.
			if c < 0x20 || c == 0x7f {
				return "contains " + badRune(rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return "is not valid UTF-8"
		}
		if why := badRune(r); why != "" {
			return "contains " + why
		}
		i += size
	}
	return ""
}

// Quote writes s as a YAML double-quoted scalar. Only '"' and '\' get an
// escape, so the rest stays readable as written; that is right only for
// a value CheckText accepts, which holds no character YAML would not take
// literally inside double quotes (controls, line breaks, U+FEFF, U+FFFE,
// U+FFFF).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for {
		i := strings.IndexAny(s, `"\\`)
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		b.WriteByte('\\')
		b.WriteByte(s[i])
		s = s[i+1:]
	}
	b.WriteString(s)
	b.WriteByte('"')
	return b.String()
}
