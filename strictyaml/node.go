package strictyaml

import (
	"strconv"

	"gopkg.in/yaml.v3"
)

// Tags yaml.v3 resolves plain and quoted scalars to.
const (
	TagStr       = "!!str"
	TagInt       = "!!int"
	TagFloat     = "!!float"
	TagBool      = "!!bool"
	TagNull      = "!!null"
	TagTimestamp = "!!timestamp"
)

// TopLevel is the what of the top-level mapping in messages
// ("top level: anchor &a: ...").
const TopLevel = "top level"

// In the functions below, what names the node in messages: a key path
// such as "models[0].source".

// Plain refuses the YAML features an operator's file has no use for and
// that make it mean something else than it looks: anchors and aliases
// (which also allow "billion laughs" expansion) and explicit tags
// (including !!binary and application tags). Every other function here
// calls it first.
func Plain(n *yaml.Node, what string) *Error {
	switch {
	case n.Kind == yaml.AliasNode:
		return Errorf(n.Line, "%s: alias *%s: anchors and aliases are not allowed", what, n.Value)
	case n.Anchor != "":
		return Errorf(n.Line, "%s: anchor &%s: anchors and aliases are not allowed", what, n.Anchor)
	case n.Style&yaml.TaggedStyle != 0:
		return Errorf(n.Line, "%s: explicit tag %s is not allowed", what, Show(n.Tag))
	}
	return nil
}

// Describe says what a node is, for "want X, got Y" messages: "a
// mapping", "null", `string "x"`, `int "010"`.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.DocumentNode:
		return "a document"
	case yaml.ScalarNode:
		switch n.Tag {
		case TagNull:
			return "null"
		case TagStr:
			return "string " + Show(n.Value)
		}
		if len(n.Tag) > 2 && n.Tag[:2] == "!!" {
			return n.Tag[2:] + " " + Show(n.Value)
		}
		return Show(n.Tag) + " " + Show(n.Value)
	}
	return "an unknown kind of node"
}

// Want refuses n for not being kind ("a string", "an integer"). Where a
// string was wanted and YAML read a number, date or boolean, it says to
// quote the value.
func Want(n *yaml.Node, what, kind string) *Error {
	hint := ""
	if kind == "a string" && n.Kind == yaml.ScalarNode && n.Tag != TagNull {
		hint = " (quote it if it is meant as text)"
	}
	return Errorf(n.Line, "%s: want %s, got %s%s", what, kind, Describe(n), hint)
}

// Mapping walks a mapping's pairs in order after checking each key: a
// plain string, and not seen before in this mapping. It stops at the
// first *Error, its own or f's.
func Mapping(n *yaml.Node, what string, f func(key string, k, v *yaml.Node) *Error) *Error {
	if e := Plain(n, what); e != nil {
		return e
	}
	if n.Kind != yaml.MappingNode {
		return Want(n, what, "a mapping")
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if e := Plain(k, what); e != nil {
			return e
		}
		if k.Kind != yaml.ScalarNode || k.Tag != TagStr {
			// Also catches the merge key "<<" (tag !!merge).
			return Errorf(k.Line, "%s: key must be a string, got %s", what, Describe(k))
		}
		if first, dup := seen[k.Value]; dup {
			return Errorf(k.Line, "duplicate key %s in %s (first on line %d)", Show(k.Value), what, first)
		}
		seen[k.Value] = k.Line
		if e := f(k.Value, k, v); e != nil {
			return e
		}
	}
	return nil
}

// Sequence walks a sequence of at most max items in order. The limit is
// checked before any item is, so an oversized list costs nothing to
// refuse. It stops at the first *Error, its own or f's.
func Sequence(n *yaml.Node, what string, max int, f func(i int, item *yaml.Node) *Error) *Error {
	if e := Plain(n, what); e != nil {
		return e
	}
	if n.Kind != yaml.SequenceNode {
		return Want(n, what, "a sequence")
	}
	if len(n.Content) > max {
		return Errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content), max)
	}
	for i, item := range n.Content {
		if e := f(i, item); e != nil {
			return e
		}
	}
	return nil
}

// String decodes a string scalar, quoted or plain; a plain scalar YAML
// reads as another type (123, true, 2026-05-01, ~) is refused.
func String(n *yaml.Node, what string) (string, *Error) {
	if e := Plain(n, what); e != nil {
		return "", e
	}
	if n.Kind != yaml.ScalarNode || n.Tag != TagStr {
		return "", Want(n, what, "a string")
	}
	return n.Value, nil
}

// Decimal parses an !!int scalar written in plain decimal. yaml.v3 also
// resolves 0x10, 0o17, 1_000, +5 and 010 (octal!) as integers; an
// operator's file has no need for any of them and 010 in particular
// invites mistakes.
func Decimal(n *yaml.Node, what string) (int64, *Error) {
	if e := Plain(n, what); e != nil {
		return 0, e
	}
	if n.Kind != yaml.ScalarNode || n.Tag != TagInt {
		return 0, Want(n, what, "an integer")
	}
	s := n.Value
	digits := s
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	ok := len(digits) > 0 && (digits == "0" || digits[0] != '0')
	for i := 0; i < len(digits) && ok; i++ {
		ok = digits[i] >= '0' && digits[i] <= '9'
	}
	if !ok {
		return 0, Errorf(n.Line, "%s: want a plain decimal integer, got %s", what, Show(s))
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, Errorf(n.Line, "%s: integer %s out of range", what, Show(s))
	}
	return v, nil
}

// Bool decodes true or false (also True, TRUE, False, FALSE).
func Bool(n *yaml.Node, what string) (bool, *Error) {
	if e := Plain(n, what); e != nil {
		return false, e
	}
	if n.Kind != yaml.ScalarNode || n.Tag != TagBool {
		// yes/no/on/off are strings in YAML 1.2 and land here.
		return false, Want(n, what, "true or false")
	}
	switch n.Value {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, Want(n, what, "true or false")
}
