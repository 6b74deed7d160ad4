package audit

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// parseLine reads one line (without its newline) that must be exactly the
// canonical encoding this package writes: the fields in order, no
// whitespace, strings in the one allowed spelling, every value in range.
// It does not check the hash (see checkHash): a caller can tell an edited
// entry from an unreadable one.
func parseLine(line []byte) (Entry, error) {
	var e Entry
	if len(line) >= MaxLineBytes {
		return e, fmt.Errorf("line of %d bytes, over the limit of %d", len(line)+1, MaxLineBytes)
	}
	s := scanner{b: line}
	s.lit(`{"seq":`)
	e.Seq = s.uint("seq")
	s.lit(`,"time":`)
	e.Time = s.time("time")
	s.lit(`,"who":`)
	e.Who = s.str("who", MaxWho)
	s.lit(`,"action":`)
	e.Action = s.str("action", MaxAction)
	s.lit(`,"name":`)
	e.Name = s.str("name", MaxName)
	s.lit(`,"repository":`)
	e.Repository = s.str("repository", MaxRepository)
	s.lit(`,"digest":`)
	e.Digest = s.str("digest", MaxDigest)
	s.lit(`,"from":`)
	e.From = s.str("from", MaxState)
	s.lit(`,"to":`)
	e.To = s.str("to", MaxState)
	s.lit(`,"result":`)
	e.Result = s.str("result", len(ResultRefused))
	s.lit(`,"detail":`)
	e.Detail = s.str("detail", MaxDetail)
	s.lit(`,"prev":`)
	e.Prev = s.hex("prev")
	s.lit(`,"hash":`)
	e.Hash = s.hex("hash")
	s.lit(`}`)
	if s.err == nil && s.i != len(s.b) {
		s.fail("bytes after the closing brace")
	}
	if s.err != nil {
		return Entry{}, s.err
	}
	switch {
	case e.Seq == 0:
		return Entry{}, errors.New("seq 0: sequence numbers start at 1")
	case e.Who == "":
		return Entry{}, errors.New(`empty "who"`)
	case !validAction(e.Action):
		return Entry{}, fmt.Errorf("action %q is not [a-z][a-z0-9_.-]*", e.Action)
	case !validResult(e.Result):
		return Entry{}, fmt.Errorf("result %q is not ok, refused or failed", e.Result)
	}
	return e, nil
}

// checkHash reports whether e.Hash (parsed from line) is the SHA-256 of
// the line's canonical encoding.
func checkHash(line []byte, e *Entry) bool {
	return len(line) > hashSuffixLen && bodyHash(line[:len(line)-hashSuffixLen]) == e.Hash
}

// scanner reads a canonical line left to right; the first error sticks
// and every later call is a no-op.
type scanner struct {
	b   []byte
	i   int
	err error
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("byte %d: %s", s.i+1, fmt.Sprintf(format, args...))
	}
}

func (s *scanner) lit(want string) {
	if s.err != nil {
		return
	}
	if len(s.b)-s.i < len(want) || string(s.b[s.i:s.i+len(want)]) != want {
		s.fail("want %s", want)
		return
	}
	s.i += len(want)
}

// uint reads a decimal without sign, leading zeros or overflow.
func (s *scanner) uint(field string) uint64 {
	if s.err != nil {
		return 0
	}
	start := s.i
	var v uint64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if v > (1<<64-1-d)/10 {
			s.fail("%q overflows 64 bits", field)
			return 0
		}
		v = v*10 + d
		s.i++
	}
	switch {
	case s.i == start:
		s.fail("%q: want a number", field)
	case s.b[start] == '0' && s.i-start > 1:
		s.fail("%q: leading zero", field)
	}
	return v
}

func (s *scanner) time(field string) time.Time {
	if s.err != nil {
		return time.Time{}
	}
	n := len(timeLayout)
	if s.i+n+2 > len(s.b) || s.b[s.i] != '"' || s.b[s.i+n+1] != '"' {
		s.fail("%q: want a quoted %d-byte UTC time", field, n)
		return time.Time{}
	}
	text := string(s.b[s.i+1 : s.i+1+n])
	t, err := time.Parse(timeLayout, text)
	if err != nil || t.Format(timeLayout) != text {
		s.fail("%q: %q is not of the form %s", field, text, timeLayout)
		return time.Time{}
	}
	s.i += n + 2
	return t
}

func (s *scanner) hex(field string) string {
	if s.err != nil {
		return ""
	}
	if s.i+66 > len(s.b) || s.b[s.i] != '"' || s.b[s.i+65] != '"' {
		s.fail("%q: want 64 lowercase hex digits in quotes", field)
		return ""
	}
	h := s.b[s.i+1 : s.i+65]
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			s.fail("%q: want 64 lowercase hex digits in quotes", field)
			return ""
		}
	}
	s.i += 66
	return string(h)
}

// str reads a string in the spelling appendString writes and nothing
// else, so that parsing and re-encoding give back the same bytes.
func (s *scanner) str(field string, max int) string {
	if s.err != nil {
		return ""
	}
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.fail("%q: want a string", field)
		return ""
	}
	s.i++
	var out []byte
	for {
		if s.i >= len(s.b) {
			s.fail("%q: unterminated string", field)
			return ""
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			if len(out) > max {
				s.fail("%q: %d bytes, over the limit of %d", field, len(out), max)
				return ""
			}
			return string(out)
		case c == '\\':
			if s.i+1 < len(s.b) && (s.b[s.i+1] == '"' || s.b[s.i+1] == '\\') {
				out = append(out, s.b[s.i+1])
				s.i += 2
				continue
			}
			r := s.u(field)
			if s.err != nil {
				return ""
			}
			switch {
			case r >= 0x20 && r < 0x7f:
				s.fail("%q: needless escape of %q", field, r)
				return ""
			case utf16.IsSurrogate(r):
				if r >= 0xdc00 {
					s.fail("%q: lone low surrogate", field)
					return ""
				}
				r2 := s.u(field)
				if s.err != nil {
					return ""
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					s.fail("%q: high surrogate without its low half", field)
					return ""
				}
			}
			out = utf8.AppendRune(out, r)
		case c < 0x20 || c > 0x7e:
			s.fail("%q: byte 0x%02x must be escaped", field, c)
			return ""
		default:
			out = append(out, c)
			s.i++
		}
		if len(out) > max {
			s.fail("%q: over the limit of %d bytes", field, max)
			return ""
		}
	}
}

// u reads \uXXXX with lowercase hex digits.
func (s *scanner) u(field string) rune {
	if s.i+6 > len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
		s.fail(`%q: want \", \\ or \u and four lowercase hex digits`, field)
		return 0
	}
	var r rune
	for _, c := range s.b[s.i+2 : s.i+6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		default:
			s.fail(`%q: want \u and four lowercase hex digits`, field)
			return 0
		}
	}
	s.i += 6
	return r
}
