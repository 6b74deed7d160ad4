package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Format names a kind of file in the messages Decode writes before the
// caller's walk sees the document, and bounds its size.
type Format struct {
	// Noun is what the file holds: "lock" gives "a second YAML document
	// starts here; a lock is exactly one document" and "... is not
	// allowed in a lock file".
	Noun string
	// Needs is what an input without a document lacks: "version: 1 and
	// models" gives "no YAML document; a lock needs version: 1 and
	// models".
	Needs string
	// Holds is what the top-level mapping holds: "version and models"
	// gives "the top level must be a mapping with version and models".
	Holds string
	// MaxBytes is the largest input Decode reads. yaml.v3's node tree
	// takes tens of bytes of memory per input byte, and up to about 90
	// for pathological input.
	MaxBytes int
}

// InternalError starts the message of an *Error that stands for a panic
// in yaml.v3 or in the walk: a bug, which a fuzz target should report.
const InternalError = "internal error while reading"

// Decode checks the raw bytes, reads the one YAML document in data and
// hands walk its top level, after checking that it is a mapping without
// anchor or tag. Every refusal, Decode's or walk's, is an *Error whose
// line (if any) is within data; a panic in yaml.v3 or walk is refused
// too, because a registry must not die on, or half-read, such a file.
// No alias is ever expanded.
func (f Format) Decode(data []byte, walk func(top *yaml.Node) *Error) *Error {
	e := f.decode(data, walk)
	if e != nil && e.Line > lastLine(data) {
		// libyaml places an empty node after a final "---" on the line
		// after it, which may not exist; name the last line instead.
		e.Line = lastLine(data)
	}
	return e
}

// lastLine is the number of the last line of data, counting a final line
// without a newline; 1 for empty data.
func lastLine(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return max(n, 1)
}

func (f Format) decode(data []byte, walk func(top *yaml.Node) *Error) (failure *Error) {
	if e := f.prescan(data); e != nil {
		return e
	}
	defer func() {
		// yaml.v3 turns its own failures into errors; any other panic
		// here is a bug, in it or in the walk.
		if r := recover(); r != nil {
			failure = Errorf(0, "%s the %s: %v", InternalError, f.Noun, r)
		}
	}()

	doc, second, err := decodeDocs(data)
	switch {
	case errors.Is(err, io.EOF):
		return Errorf(0, "no YAML document; a %s needs %s", f.Noun, f.Needs)
	case err != nil:
		return syntaxError(err, data)
	case second > 0:
		return Errorf(second, "a second YAML document starts here; a %s is exactly one document", f.Noun)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return Errorf(doc.Line, "not a single YAML document")
	}
	top := doc.Content[0]
	if e := Plain(top, TopLevel); e != nil {
		return e
	}
	if top.Kind != yaml.MappingNode {
		return Errorf(top.Line, "the top level must be a mapping with %s, got %s", f.Holds, Describe(top))
	}
	return walk(top)
}

// prescan checks the raw bytes before the YAML parser sees them, so that
// these problems get an exact line: the parser reports some of them
// without one, and treats U+0085, U+2028, U+2029 and a lone CR as line
// breaks, which would make its line numbers disagree with an editor's.
// Bidi controls are refused everywhere, comments included.
func (f Format) prescan(data []byte) *Error {
	if len(data) > f.MaxBytes {
		return Errorf(0, "%d bytes, more than the limit of %d", len(data), f.MaxBytes)
	}
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return Errorf(line, "not valid UTF-8 (byte 0x%02x)", data[i])
		case r == '\n':
			line++
		case r == '\t':
		case r == '\r':
			if i+1 >= len(data) || data[i+1] != '\n' {
				return Errorf(line, "carriage return not followed by a line feed")
			}
		case r == 0xFEFF && i == 0:
			// A byte order mark at the very start is harmless.
		default:
			if why := badRune(r); why != "" {
				return Errorf(line, "%s is not allowed in a %s file", why, f.Noun)
			}
		}
		i += size
	}
	return nil
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
// scanner messages get 1-based lines (yaml.v3 decode.go, parser.fail);
// the tests pin this so an upgrade that changes it is noticed.
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
// yaml.v3 places a parser problem at the start of the construct it was
// reading (a mapping, a flow sequence), at or before the offending text;
// locate then finds the offending line itself.
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
	return Errorf(line, "YAML syntax error: %s", msg)
}

// maxLocateBytes bounds the input locate re-parses (about 20 times): a
// broken file of megabytes would take seconds to locate, and a real one
// is a few kilobytes.
const maxLocateBytes = 256 << 10

// locate finds the first line at which the input is already broken the
// way the whole is: the smallest k such that lines 1..k alone fail with
// the very same error. For a libyaml parser error that is the line of the
// offending token rather than the start of the enclosing block, which is
// all yaml.v3 reports; for an unterminated quote or bracket it is the
// line where it opens. 0 means "not computed" (input too large); the
// caller then keeps yaml.v3's line.
//
// The search is a bisection, which assumes that once a prefix fails this
// way every longer prefix does too. That holds because libyaml only
// looks ahead within a line before it reports; where it might not, the
// answer is still a line at which a prefix fails with this error.
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
