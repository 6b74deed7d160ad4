package lockfile

import (
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// Parse decodes and validates a lock. Every refusal is an *Error naming
// the line at fault. The result is canonical: entries sorted by name,
// empty entry maps and an empty models list nil (empty collections nested
// in a fingerprint stay empty, not nil), so equal lock content gives an
// equal Lock.
//
// Decoding goes through yaml.Node and package strictyaml's walk rather
// than yaml.Unmarshal into a struct: that walk is what refuses duplicate
// keys, anchors, aliases, merge keys and tags, and what knows every line.
// No alias is ever expanded. The cost is bounded by MaxInputBytes:
// yaml.v3's node tree takes up to about 90 bytes of memory per input byte
// for pathological input ("[1,1,1,…]": 1.4 GiB and 12 s for 16 MiB on the
// development machine), tens of bytes per byte for a real lock.
func Parse(data []byte) (*Lock, error) {
	format := strictyaml.Format{Noun: "lock", Needs: "version: 1 and models", Holds: "version and models", MaxBytes: MaxInputBytes}
	var l *Lock
	e := format.Decode(data, func(top *yaml.Node) *strictyaml.Error {
		var pos []entryPos
		var e *strictyaml.Error
		if l, pos, e = decodeLock(top); e != nil {
			return e
		}
		if e := validate(l, pos); e != nil {
			return e
		}
		sortEntries(l.Models)
		return nil
	})
	if e != nil {
		return nil, &Error{File: DefaultFileName, Line: e.Line, Msg: e.Msg}
	}
	return l, nil
}

func sortEntries(m []Entry) {
	sort.Slice(m, func(i, j int) bool { return m[i].Name < m[j].Name })
}
