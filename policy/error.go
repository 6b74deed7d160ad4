package policy

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// DefaultFileName names the file in errors from Parse. Load names the
// path it read instead.
const DefaultFileName = "policy.yaml"

// Error is why a policy was refused. Its text is
//
//	policy.yaml line 7: unknown field "require_quarantene" at the top level
//
// or, when no single line is at fault (input too large, not UTF-8 at all),
// "policy.yaml: ...". Values from the file appear quoted and cut to a few
// dozen bytes, so the message is safe to log. A caller that knows the real
// path may set File before printing.
type Error struct {
	File string // DefaultFileName, or the path given to Load
	Line int    // 1-based; 0 when the problem has no line
	Msg  string
}

func (e *Error) Error() string {
	file := e.File
	if file == "" {
		file = DefaultFileName
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", file, e.Line, e.Msg)
	}
	return file + ": " + e.Msg
}

func errorf(line int, format string, args ...any) *Error {
	return &Error{File: DefaultFileName, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// show quotes a value from the file or from an Input for a message, cut to
// 40 runes; strconv.Quote escapes anything unprintable.
func show(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) <= max {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == max {
			return strconv.Quote(s[:i]) + "..."
		}
		n++
	}
	return strconv.Quote(s)
}
