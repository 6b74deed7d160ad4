package strictyaml

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Error is why an input was refused. Its text is
//
//	models.lock.yaml line 12: duplicate key "name" in models[0] (first on line 3)
//
// with "models.lock.yaml " only when File is set, and without "line 12"
// when no single line is at fault. Values from the input appear in Msg
// quoted by Show, so the text is safe to log.
type Error struct {
	File string // names the input in the text; this package leaves it empty
	Line int    // 1-based; 0 when the problem has no line
	Msg  string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.File != "":
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	}
	return e.Msg
}

// Errorf returns an *Error at line (0 for none) with a formatted message.
func Errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// Show quotes a value for a message, cut to 40 runes: strconv.Quote
// escapes anything unprintable, and the cut keeps a hostile value from
// flooding a log.
func Show(s string) string {
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
