package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse decodes and validates a lock. Every refusal is an *Error naming
// the line at fault. The result is canonical: entries sorted by name,
// empty entry maps and an empty models list nil (empty collections nested
// in a fingerprint stay empty, not nil), so equal lock content gives an
// equal Lock.
//
// Decoding goes through yaml.Node and this package's own walk rather than
// yaml.Unmarshal into a struct: that walk is what refuses duplicate keys,
// anchors, aliases, merge keys and tags, and what knows every line. No
// alias is ever expanded. The cost is bounded by MaxInputBytes: yaml.v3's
// node tree takes up to about 90 bytes of memory per input byte for
// pathological input ("[1,1,1,…]": 1.4 GiB and 12 s for 16 MiB on the
// development machine), tens of bytes per byte for a real lock.
func Parse(data []byte) (*Lock, error) {
	l, e := parse(data)
	if e != nil {
		// libyaml places an empty node after a final "---" on the line
		// after it, which may not exist; name the last line instead.
		last := bytes.Count(data, []byte("\n"))
		if len(data) > 0 && data[len(data)-1] != '\n' {
			last++
		}
		if e.Line > last {
			e.Line = max(last, 1)
		}
		return nil, e
	}
	return l, nil
}

func parse(data []byte) (lock *Lock, failure *Error) {
	if e := prescan(data); e != nil {
		return nil, e
	}
	defer func() {
		// yaml.v3 turns its own failures into errors; any other panic
		// here is a bug, in it or in this package. The lock is refused
		// either way: a registry must not die on, or half-read, a lock.
		if r := recover(); r != nil {
			lock, failure = nil, errorf(0, "%s: %v", internalParserError, r)
		}
	}()

	doc, second, yerr := decodeDocs(data)
	switch err := yerr; {
	case errors.Is(err, io.EOF):
		return nil, errorf(0, "no YAML document; a lock needs version: 1 and models")
	case err != nil:
		return nil, syntaxError(err, data)
	case second > 0:
		return nil, errorf(second, "a second YAML document starts here; a lock is exactly one document")
	}

	l, pos, e := decodeLock(doc)
	if e != nil {
		return nil, e
	}
	if e := validate(l, pos); e != nil {
		return nil, e
	}
	sortEntries(l.Models)
	return l, nil
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

// internalParserError marks a recovered panic (the fuzz target fails on
// it).
const internalParserError = "internal error while reading the lock"

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
// The line is where libyaml places the problem, which for the parser is
// the start of the construct it was reading (a mapping, a flow sequence),
// at or before the offending text.
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

// maxLocateBytes bounds the input locate re-parses (about 20 times).
const maxLocateBytes = 256 << 10

// locate finds the first line at which the input is already broken the
// way the whole is: the smallest k such that lines 1..k alone fail with
// the very same error. For a libyaml parser error that is the line of the
// offending token rather than the start of the enclosing block, which is
// all yaml.v3 reports; for an unterminated quote or bracket it is the
// line where it opens. 0 means "not computed" (input too large).
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

func sortEntries(m []Entry) {
	sort.Slice(m, func(i, j int) bool { return m[i].Name < m[j].Name })
}
