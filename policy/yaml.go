package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The node walk below is lockfile's (decode.go and parse.go), copied
// because it is unexported there. If a third package needs it, it belongs
// in a small shared package of its own (for example "strictyaml").

// Tags yaml.v3 resolves plain and quoted scalars to.
const (
	tagStr  = "!!str"
	tagInt  = "!!int"
	tagBool = "!!bool"
	tagNull = "!!null"
)

// plain refuses the YAML features a policy has no use for and that make a
// file mean something else than it looks: anchors and aliases (which also
// allow "billion laughs" expansion) and explicit tags (including !!binary
// and application tags).
func plain(n *yaml.Node, what string) *Error {
	switch {
	case n.Kind == yaml.AliasNode:
		return errorf(n.Line, "%s: alias *%s: anchors and aliases are not allowed", what, n.Value)
	case n.Anchor != "":
		return errorf(n.Line, "%s: anchor &%s: anchors and aliases are not allowed", what, n.Anchor)
	case n.Style&yaml.TaggedStyle != 0:
		return errorf(n.Line, "%s: explicit tag %s is not allowed", what, show(n.Tag))
	}
	return nil
}

// describe says what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.DocumentNode:
		return "a document"
	case yaml.ScalarNode:
		switch n.Tag {
		case tagNull:
			return "null"
		case tagStr:
			return "string " + show(n.Value)
		}
		if len(n.Tag) > 2 && n.Tag[:2] == "!!" {
			return n.Tag[2:] + " " + show(n.Value)
		}
		return show(n.Tag) + " " + show(n.Value)
	}
	return "an unknown kind of node"
}

func want(n *yaml.Node, what, kind string) *Error {
	hint := ""
	if kind == "a string" && n.Kind == yaml.ScalarNode && n.Tag != tagNull {
		hint = " (quote it if it is meant as text)"
	}
	return errorf(n.Line, "%s: want %s, got %s%s", what, kind, describe(n), hint)
}

// mapping walks a mapping's pairs in order after checking each key: a
// plain string, and not seen before in this mapping.
func mapping(n *yaml.Node, what string, f func(key string, k, v *yaml.Node) *Error) *Error {
	if e := plain(n, what); e != nil {
		return e
	}
	if n.Kind != yaml.MappingNode {
		return want(n, what, "a mapping")
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if e := plain(k, what); e != nil {
			return e
		}
		if k.Kind != yaml.ScalarNode || k.Tag != tagStr {
			// Also catches the merge key "<<" (tag !!merge).
			return errorf(k.Line, "%s: key must be a string, got %s", what, describe(k))
		}
		if first, dup := seen[k.Value]; dup {
			return errorf(k.Line, "duplicate key %s in %s (first on line %d)", show(k.Value), what, first)
		}
		seen[k.Value] = k.Line
		if e := f(k.Value, k, v); e != nil {
			return e
		}
	}
	return nil
}

// sequence walks a non-empty sequence of at most max items. An empty list
// is refused rather than read as "allow nothing" or "no rule": leaving
// the key out is the one way to say there is no rule.
func sequence(n *yaml.Node, what string, max int, f func(i int, item *yaml.Node) *Error) *Error {
	if e := plain(n, what); e != nil {
		return e
	}
	if n.Kind != yaml.SequenceNode {
		return want(n, what, "a sequence")
	}
	if len(n.Content) == 0 {
		return errorf(n.Line, "%s: empty list; leave the key out if there is no such rule", what)
	}
	if len(n.Content) > max {
		return errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content), max)
	}
	for i, item := range n.Content {
		if e := f(i, item); e != nil {
			return e
		}
	}
	return nil
}

func str(n *yaml.Node, what string) (string, *Error) {
	if e := plain(n, what); e != nil {
		return "", e
	}
	if n.Kind != yaml.ScalarNode || n.Tag != tagStr {
		return "", want(n, what, "a string")
	}
	return n.Value, nil
}

// decimal parses an !!int scalar written in plain decimal. yaml.v3 also
// resolves 0x10, 0o17, 1_000, +5 and 010 (octal!) as integers; a policy
// has no need for any of them and 010 in particular invites mistakes.
func decimal(n *yaml.Node, what string) (int64, *Error) {
	if e := plain(n, what); e != nil {
		return 0, e
	}
	if n.Kind != yaml.ScalarNode || n.Tag != tagInt {
		return 0, want(n, what, "an integer")
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
		return 0, errorf(n.Line, "%s: want a plain decimal integer, got %s", what, show(s))
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errorf(n.Line, "%s: integer %s out of range", what, show(s))
	}
	return v, nil
}

func boolean(n *yaml.Node, what string) (bool, *Error) {
	if e := plain(n, what); e != nil {
		return false, e
	}
	if n.Kind != yaml.ScalarNode || n.Tag != tagBool {
		// yes/no/on/off are strings in YAML 1.2 and land here.
		return false, want(n, what, "true or false")
	}
	switch n.Value {
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	}
	return false, want(n, what, "true or false")
}

// decodeDocs reads the first YAML document into a node tree and reports
// where a second one starts (0 if there is none). err is yaml.v3's own
// error, or io.EOF when there is no document at all.
func decodeDocs(data []byte) (doc *yaml.Node, second int, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	doc = new(yaml.Node)
	if err := dec.Decode(doc); err != nil {
		return nil, 0, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return doc, 0, nil
	case err != nil:
		return nil, 0, err
	}
	return doc, next.Line, nil
}

var yamlLine = regexp.MustCompile(`^line ([0-9]+): (.*)$`)

// parserProblems are the libyaml parser (not scanner) messages. yaml.v3
// prints their position 0-based and leaves out a position of 0, while
// scanner messages get 1-based lines (yaml.v3 decode.go, parser.fail).
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found undefined tag handle":             true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// syntaxError turns a yaml.v3 error into an *Error with a 1-based line.
func syntaxError(err error, data []byte) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case parserProblems[msg]:
		line++
	case strings.HasPrefix(msg, "unknown anchor '"):
		// Raised while building nodes, without a position.
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "unknown anchor '"), "' referenced")
		line = aliasLine(data, name)
		msg = fmt.Sprintf("alias *%s refers to no anchor (anchors and aliases are not allowed)", name)
	case line == 0:
		// A scanner problem on the first line (its mark is 0).
		line = 1
	}
	if l := locate(data, err); l > 0 {
		line = l
	}
	return errorf(line, "YAML syntax error: %s", msg)
}

// maxLocateBytes bounds the input locate re-parses (about 20 times): a
// broken policy of MaxFileBytes would take seconds to locate, and a real
// policy is a few kilobytes.
const maxLocateBytes = 256 << 10

// locate finds the first line at which the input is already broken the
// way the whole is: the smallest k such that lines 1..k alone fail with
// the very same error (a bisection; see lockfile's locate for why that is
// sound). 0 means "not computed" (input too large); the caller then keeps
// yaml.v3's line.
func locate(data []byte, full error) int {
	if len(data) > maxLocateBytes {
		return 0
	}
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	want := full.Error()
	same := func(k int) bool {
		_, _, err := decodeDocs(data[:ends[k]])
		return err != nil && err.Error() == want
	}
	lo, hi := 0, len(ends)-1
	for lo < hi {
		if mid := (lo + hi) / 2; same(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo + 1
}

// aliasLine finds the line of the first "*name" in data (0 if none).
func aliasLine(data []byte, name string) int {
	needle := []byte("*" + name)
	for off := 0; ; {
		i := bytes.Index(data[off:], needle)
		if i < 0 {
			return 0
		}
		end := off + i + len(needle)
		if end == len(data) || strings.IndexByte(" \t\r\n,]}", data[end]) >= 0 {
			return 1 + bytes.Count(data[:off+i], []byte("\n"))
		}
		off = end
	}
}
