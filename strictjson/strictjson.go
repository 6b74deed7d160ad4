// Package strictjson rejects JSON that different parsers could read
// differently: duplicate keys (which value wins depends on the parser), data
// after the value, and keys that Go's case-insensitive matching would map
// onto a field whose name they do not spell exactly. Manifests and /v1
// request bodies go through it before they are decoded.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// KeyCheck vets one object key. parent is the key under which the object
// sits ("" at the top level) and depth is 1 for the top-level object.
type KeyCheck func(depth int, parent, key string) error

// Check walks body once: exactly one JSON object, nesting at most maxDepth,
// valid UTF-8, no duplicate keys in any object, every key accepted by keys
// (when not nil), and nothing but whitespace after the object.
func Check(body []byte, maxDepth int, keys KeyCheck) error {
	if !utf8.Valid(body) {
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := walker{dec: dec, max: maxDepth, keys: keys}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("top level is not an object")
	}
	if err := w.object(1, ""); err != nil {
		return err
	}
	// Token would accept a stray closing delimiter after the object, so
	// the raw rest of the input must be whitespace only.
	if tail := body[dec.InputOffset():]; len(bytes.TrimSpace(tail)) != 0 {
		return errors.New("data after the JSON object")
	}
	return nil
}

type walker struct {
	dec  *json.Decoder
	max  int
	keys KeyCheck
}

func (w walker) object(depth int, parent string) error {
	seen := map[string]struct{}{}
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("object key is not a string")
		}
		if _, dup := seen[key]; dup {
			return fmt.Errorf("duplicate key %q", short(key))
		}
		seen[key] = struct{}{}
		if w.keys != nil {
			if err := w.keys(depth, parent, key); err != nil {
				return err
			}
		}
		if err := w.value(depth, key); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // closing '}'
	return err
}

func (w walker) value(depth int, key string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth+1 > w.max {
		return fmt.Errorf("nesting deeper than %d", w.max)
	}
	switch d {
	case '{':
		return w.object(depth+1, key)
	case '[':
		for w.dec.More() {
			if err := w.value(depth+1, key); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // closing ']'
		return err
	}
	return fmt.Errorf("unexpected %q", d)
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
