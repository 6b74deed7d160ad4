package policy

import (
	"cmp"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
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
	return (&strictyaml.Error{File: cmp.Or(e.File, DefaultFileName), Line: e.Line, Msg: e.Msg}).Error()
}
