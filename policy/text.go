package policy

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// The text checks below are lockfile's (text.go), copied rather than
// shared because they are unexported there; both packages refuse the same
// characters for the same reasons.

// isBidiControl reports the Unicode Bidi_Control characters: they make a
// reviewer see text in another order than a program reads it ("Trojan
// Source"), which has no place in a security policy file.
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

// badRune says why r may not appear in a policy value ("" if it may).
// Beyond control and bidi characters it refuses the runes YAML treats as
// line breaks (U+2028, U+2029; U+0085 is a control) or refuses as
// unprintable (U+FFFE, U+FFFF), and U+FEFF, so that every accepted value
// can be written back inside double quotes exactly as it is.
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

// checkText says why s is not an acceptable value of at most max bytes
// ("" if it is).
func checkText(s string, max int) string {
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

// prescan checks the raw bytes before the YAML parser sees them, so that
// these problems get an exact line: the parser reports some of them
// without one, and treats U+0085, U+2028, U+2029 and a lone CR as line
// breaks, which would make its line numbers disagree with an editor's.
// Bidi controls are refused everywhere, comments included.
func prescan(data []byte) *Error {
	if len(data) > MaxFileBytes {
		return errorf(0, "%d bytes, more than the limit of %d", len(data), MaxFileBytes)
	}
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return errorf(line, "not valid UTF-8 (byte 0x%02x)", data[i])
		case r == '\n':
			line++
		case r == '\t':
		case r == '\r':
			if i+1 >= len(data) || data[i+1] != '\n' {
				return errorf(line, "carriage return not followed by a line feed")
			}
		case r == 0xFEFF && i == 0:
			// A byte order mark at the very start is harmless.
		default:
			if why := badRune(r); why != "" {
				return errorf(line, "%s is not allowed in a policy file", why)
			}
		}
		i += size
	}
	return nil
}
