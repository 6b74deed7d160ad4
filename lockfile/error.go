package lockfile

import (
	"cmp"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// DefaultFileName names the file in errors from Parse.
const DefaultFileName = "models.lock.yaml"

// Error is why a lock was refused. Its text is
//
//	models.lock.yaml line 12: unknown field "smoke_test_score" in models[0]
//
// or, when no single line is at fault (input too large, not UTF-8 at all),
// "models.lock.yaml: ...". Values from the file appear quoted and cut to a
// few dozen bytes, so the message is safe to log. A caller that knows the
// real path may set File before printing.
type Error struct {
	File string // DefaultFileName unless the caller sets it
	Line int    // 1-based; 0 when the problem has no line
	Msg  string
}

func (e *Error) Error() string {
	return (&strictyaml.Error{File: cmp.Or(e.File, DefaultFileName), Line: e.Line, Msg: e.Msg}).Error()
}
