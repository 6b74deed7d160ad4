package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ai-model-registry/ai-model-registry/strictjson"
)

// jsonSpace is the whitespace JSON allows; writers pad the header with
// spaces to a multiple of 8 bytes.
const jsonSpace = " \t\r\n"

// decodeHeader checks and decodes the JSON header: one object whose keys
// are tensor names mapping to {"dtype", "shape", "data_offsets"} objects,
// plus an optional "__metadata__" object of strings.
//
// encoding/json's Unmarshal is lenient where the reference reader is not:
// it matches field names case-insensitively, ignores unknown fields, reads
// null as a zero value and a quoted "2" into a json.Number. So strictjson
// vets the syntax and every key first (exact field names, no duplicates),
// and the decoder below requires each value to have the JSON type the
// reference reader expects.
func decodeHeader(h []byte, lim Limits) (map[string]string, []Tensor, error) {
	if h[0] != '{' {
		return nil, nil, fmt.Errorf("header does not start with '{' (starts with %q)", h[:1])
	}
	if !utf8.Valid(h) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	entries := 0
	keys := func(depth int, parent, key string) error {
		switch {
		case depth == 1 && key != "__metadata__":
			if entries++; entries > lim.MaxTensors {
				return fmt.Errorf("more than %d tensors: %w", lim.MaxTensors, ErrLimit)
			}
		case depth == 2 && parent != "__metadata__":
			if key != "dtype" && key != "shape" && key != "data_offsets" {
				return fmt.Errorf("tensor %q: unknown field %q", parent, key)
			}
		}
		return nil
	}
	// Depth 3: the top object, a tensor's object, its shape array.
	if err := strictjson.Check(h, 3, keys); err != nil {
		return nil, nil, fmt.Errorf("header JSON: %w", err)
	}
	// strictjson allows any Unicode space after the object; the format
	// allows only JSON whitespace.
	if t := bytes.TrimRight(h, jsonSpace); t[len(t)-1] != '}' {
		return nil, nil, errors.New("header has bytes other than JSON whitespace after the JSON object")
	}
	if err := checkSurrogates(h); err != nil {
		return nil, nil, err
	}

	d := decoder{b: h, lim: lim}
	return d.header()
}

// decoder walks a header that strictjson has validated: valid UTF-8 JSON,
// one object, nesting at most 3 deep, no duplicate keys, exact tensor field
// names. It still checks every byte it relies on and returns an error
// rather than trusting that, but it need not explain malformed JSON.
// Strings without escapes are sliced out of the header directly; this
// pass costs a fraction of strictjson's, where encoding/json's Unmarshal
// cost as much again and allocated 25 times the header.
type decoder struct {
	b   []byte
	i   int
	lim Limits
}

var errSyntax = errors.New("header JSON is malformed")

func (d *decoder) ws() {
	for d.i < len(d.b) && strings.IndexByte(jsonSpace, d.b[d.i]) >= 0 {
		d.i++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *decoder) expect(c byte) error {
	if d.peek() != c {
		return errSyntax
	}
	d.i++
	return nil
}

// more consumes the ',' or the closing delimiter after an element and
// reports whether another element follows.
func (d *decoder) more(end byte) (bool, error) {
	switch d.peek() {
	case ',':
		d.i++
		return true, nil
	case end:
		d.i++
		return false, nil
	}
	return false, errSyntax
}

// str reads a string at the cursor.
func (d *decoder) str() (string, error) {
	if d.peek() != '"' {
		return "", errSyntax
	}
	start, escaped := d.i, false
	for d.i++; d.i < len(d.b); d.i++ {
		switch d.b[d.i] {
		case '\\':
			escaped = true
			d.i++
		case '"':
			d.i++
			raw := d.b[start:d.i]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", errSyntax
			}
			return s, nil
		}
	}
	return "", errSyntax
}

// skip steps over one value and returns its bytes, for error messages.
func (d *decoder) skip() []byte {
	d.ws()
	start, depth := d.i, 0
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			if _, err := d.str(); err != nil || depth == 0 {
				return d.b[start:d.i]
			}
			continue
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth == 0 { // the end of the enclosing container
				return d.b[start:d.i]
			}
			if depth--; depth == 0 {
				d.i++
				return d.b[start:d.i]
			}
		case depth == 0 && (c == ',' || strings.IndexByte(jsonSpace, c) >= 0):
			return d.b[start:d.i]
		}
		d.i++
	}
	return d.b[start:d.i]
}

func (d *decoder) literal(word string) bool {
	d.ws()
	if bytes.HasPrefix(d.b[d.i:], []byte(word)) {
		d.i += len(word)
		return true
	}
	return false
}

func (d *decoder) header() (map[string]string, []Tensor, error) {
	if err := d.expect('{'); err != nil {
		return nil, nil, err
	}
	var md map[string]string
	var tensors []Tensor
	if d.peek() == '}' {
		d.i++
		return nil, nil, nil
	}
	for {
		name, err := d.str()
		if err != nil {
			return nil, nil, err
		}
		if err := d.expect(':'); err != nil {
			return nil, nil, err
		}
		if name == "__metadata__" {
			if md, err = d.metadata(); err != nil {
				return nil, nil, err
			}
		} else {
			t, err := d.tensor(name)
			if err != nil {
				return nil, nil, err
			}
			tensors = append(tensors, t)
		}
		if more, err := d.more('}'); err != nil || !more {
			return md, tensors, err
		}
	}
}

// metadata reads __metadata__: null (no metadata, as the reference
// reader's Option allows) or an object whose values are all strings.
func (d *decoder) metadata() (map[string]string, error) {
	if d.literal("null") {
		return nil, nil
	}
	if d.peek() != '{' {
		return nil, errors.New("__metadata__ is not an object")
	}
	d.i++
	md := map[string]string{}
	if d.peek() == '}' {
		d.i++
		return md, nil
	}
	for {
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if err := d.expect(':'); err != nil {
			return nil, err
		}
		if d.peek() != '"' {
			return nil, fmt.Errorf("__metadata__ %q: value is not a string", k)
		}
		if md[k], err = d.str(); err != nil {
			return nil, err
		}
		if more, err := d.more('}'); err != nil || !more {
			return md, err
		}
	}
}

// tensor reads one tensor entry: exactly "dtype" (a string), "shape" and
// "data_offsets" (arrays of plain unsigned integers). Go's decoder would
// have read null as a zero value and a quoted "2" into a json.Number; here
// each value must have the JSON type the reference reader requires.
func (d *decoder) tensor(name string) (Tensor, error) {
	t := Tensor{Name: name}
	if d.peek() != '{' {
		return t, fmt.Errorf("tensor %q: entry is not an object", name)
	}
	d.i++
	var haveDType, haveShape, haveOffsets bool
	// An empty object skips the loop and fails below for want of a dtype.
	for more := d.peek() != '}'; more; {
		field, err := d.str()
		if err != nil {
			return t, err
		}
		if err := d.expect(':'); err != nil {
			return t, err
		}
		switch field {
		case "dtype":
			if d.peek() != '"' {
				return t, fmt.Errorf("tensor %q: dtype is not a string", name)
			}
			if t.DType, err = d.str(); err != nil {
				return t, err
			}
			if _, ok := dtypeBits[t.DType]; !ok {
				return t, fmt.Errorf("tensor %q: unknown dtype %q", name, t.DType)
			}
			haveDType = true
		case "shape":
			t.Shape, err = d.uints(d.lim.MaxDims)
			switch {
			case errors.Is(err, errNotArray):
				return t, fmt.Errorf("tensor %q: shape is not an array", name)
			case errors.Is(err, errTooLong):
				return t, fmt.Errorf("tensor %q: shape has more than %d dimensions: %w", name, d.lim.MaxDims, ErrLimit)
			case err != nil:
				return t, fmt.Errorf("tensor %q: shape: %w", name, err)
			}
			haveShape = true
		case "data_offsets":
			off, err := d.uints(2)
			switch {
			case errors.Is(err, errNotArray):
				return t, fmt.Errorf("tensor %q: data_offsets is not an array", name)
			case errors.Is(err, errTooLong) || err == nil && len(off) != 2:
				return t, fmt.Errorf("tensor %q: data_offsets must hold exactly 2 numbers", name)
			case err != nil:
				return t, fmt.Errorf("tensor %q: data_offsets: %w", name, err)
			}
			t.Begin, t.End = off[0], off[1]
			haveOffsets = true
		default:
			return t, fmt.Errorf("tensor %q: unknown field %q", name, field)
		}
		if more, err = d.more('}'); err != nil {
			return t, err
		}
	}
	switch {
	case !haveDType:
		return t, fmt.Errorf("tensor %q: missing \"dtype\"", name)
	case !haveShape:
		return t, fmt.Errorf("tensor %q: missing \"shape\"", name)
	case !haveOffsets:
		return t, fmt.Errorf("tensor %q: missing \"data_offsets\"", name)
	}
	return t, nil
}

var (
	errNotArray = errors.New("not an array")
	errTooLong  = errors.New("too many elements")
)

// uints reads an array of at most maxLen plain unsigned integers (no sign,
// fraction, exponent, quotes or null) that fit in 64 bits.
func (d *decoder) uints(maxLen int) ([]uint64, error) {
	if d.peek() != '[' {
		return nil, errNotArray
	}
	d.i++
	out := []uint64{}
	if d.peek() == ']' {
		d.i++
		return out, nil
	}
	for {
		d.ws()
		start := d.i
		for d.i < len(d.b) && d.b[d.i] >= '0' && d.b[d.i] <= '9' {
			d.i++
		}
		v, err := strconv.ParseUint(string(d.b[start:d.i]), 10, 64)
		if err != nil || (d.peek() != ',' && d.peek() != ']') {
			d.i = start
			return nil, fmt.Errorf("element %d (%s) is not an unsigned 64-bit integer", len(out), d.skip())
		}
		if len(out) == maxLen {
			return nil, errTooLong
		}
		out = append(out, v)
		if more, err := d.more(']'); err != nil || !more {
			return out, err
		}
	}
}

// checkSurrogates refuses \u escapes of unpaired UTF-16 surrogates. Go's
// decoder turns them into U+FFFD, serde_json (the reference reader)
// refuses the header: the two would not agree on a tensor's name. h is
// valid JSON, so every backslash starts an escape inside a string.
func checkSurrogates(h []byte) error {
	hex4 := func(i int) (uint64, bool) {
		if i+6 > len(h) || h[i] != '\\' || h[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(h[i+2:i+6]), 16, 16)
		return v, err == nil
	}
	for i := 0; i < len(h); i++ {
		if h[i] != '\\' {
			continue
		}
		v, ok := hex4(i)
		switch {
		case !ok:
			i++ // a two-byte escape such as \" or \\
		case v >= 0xD800 && v < 0xDC00:
			if w, ok := hex4(i + 6); ok && w >= 0xDC00 && w < 0xE000 {
				i += 11
				continue
			}
			return fmt.Errorf("header has an unpaired UTF-16 surrogate escape \\u%04x at byte %d", v, i)
		case v >= 0xDC00 && v < 0xE000:
			return fmt.Errorf("header has an unpaired UTF-16 surrogate escape \\u%04x at byte %d", v, i)
		default:
			i += 5
		}
	}
	return nil
}
