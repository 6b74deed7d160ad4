package lockfile

import (
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Tags yaml.v3 resolves plain and quoted scalars to.
const (
	tagStr       = "!!str"
	tagInt       = "!!int"
	tagFloat     = "!!float"
	tagBool      = "!!bool"
	tagNull      = "!!null"
	tagTimestamp = "!!timestamp"
)

// entryPos remembers where an entry and each of its keys are, for the
// errors of validate. The zero value (no positions) is what Marshal uses.
type entryPos struct {
	line   int
	fields map[string]int
}

func (p entryPos) at(field string) int {
	if l := p.fields[field]; l > 0 {
		return l
	}
	return p.line
}

// plain refuses the YAML features a lock has no use for and that make a
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

func str(n *yaml.Node, what string) (string, *Error) {
	if e := plain(n, what); e != nil {
		return "", e
	}
	if n.Kind != yaml.ScalarNode || n.Tag != tagStr {
		return "", want(n, what, "a string")
	}
	return n.Value, nil
}

// timeString accepts an unquoted RFC 3339 time too (yaml.v3 tags it
// !!timestamp); the text is kept as written and validated later.
func timeString(n *yaml.Node, what string) (string, *Error) {
	if e := plain(n, what); e != nil {
		return "", e
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != tagStr && n.Tag != tagTimestamp) {
		return "", want(n, what, "a string")
	}
	return n.Value, nil
}

// decimal parses an !!int scalar written in plain decimal. yaml.v3 also
// resolves 0x10, 0o17, 1_000, +5 and 010 (octal!) as integers; a lock has
// no need for any of them and 010 in particular invites mistakes.
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

func decodeLock(doc *yaml.Node) (*Lock, []entryPos, *Error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, nil, errorf(doc.Line, "not a single YAML document")
	}
	top := doc.Content[0]
	const where = "top level"
	if e := plain(top, where); e != nil {
		return nil, nil, e
	}
	if top.Kind != yaml.MappingNode {
		return nil, nil, errorf(top.Line, "the top level must be a mapping with version and models, got %s", describe(top))
	}

	// The version decides how everything else is read, so it is checked
	// before any other key: a version 2 file gets "version 2", not a
	// complaint about a field version 2 added.
	var l Lock
	for i := 0; i+1 < len(top.Content); i += 2 {
		if k := top.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == tagStr && k.Value == "version" {
			v, e := decimal(top.Content[i+1], "version")
			if e != nil {
				return nil, nil, e
			}
			if v != Version {
				return nil, nil, errorf(top.Content[i+1].Line, "version %d is not supported; this registry reads version %d", v, Version)
			}
			l.Version = Version
			break
		}
	}
	if l.Version == 0 {
		return nil, nil, errorf(top.Line, "missing version (want version: %d)", Version)
	}

	var pos []entryPos
	sawModels := false
	e := mapping(top, where, func(key string, k, v *yaml.Node) *Error {
		switch key {
		case "version":
			return nil // checked above
		case "models":
			sawModels = true
			var e *Error
			l.Models, pos, e = decodeModels(v)
			return e
		}
		return errorf(k.Line, "unknown field %s at the top level", show(key))
	})
	if e != nil {
		return nil, nil, e
	}
	if !sawModels {
		return nil, nil, errorf(top.Line, "missing models (write models: [] for an empty lock)")
	}
	return &l, pos, nil
}

func decodeModels(n *yaml.Node) ([]Entry, []entryPos, *Error) {
	if e := plain(n, "models"); e != nil {
		return nil, nil, e
	}
	if n.Kind != yaml.SequenceNode {
		return nil, nil, want(n, "models", "a sequence")
	}
	if len(n.Content) > MaxEntries {
		return nil, nil, errorf(n.Line, "models: %d entries, more than the limit of %d", len(n.Content), MaxEntries)
	}
	if len(n.Content) == 0 {
		return nil, nil, nil
	}
	models := make([]Entry, len(n.Content))
	pos := make([]entryPos, len(n.Content))
	for i, item := range n.Content {
		var e *Error
		pos[i], e = decodeEntry(item, fmt.Sprintf("models[%d]", i), &models[i])
		if e != nil {
			return nil, nil, e
		}
	}
	return models, pos, nil
}

// required keys of an entry, in the order a missing one is reported.
var required = []string{"name", "format", "filename", "sha256", "size_bytes"}

func decodeEntry(n *yaml.Node, what string, out *Entry) (entryPos, *Error) {
	p := entryPos{line: n.Line, fields: map[string]int{}}
	e := mapping(n, what, func(key string, k, v *yaml.Node) *Error {
		p.fields[key] = k.Line
		at := what + "." + key
		var e *Error
		switch key {
		case "name":
			out.Name, e = str(v, at)
		case "format":
			out.Format, e = str(v, at)
		case "source":
			out.Source, e = str(v, at)
		case "source_revision":
			out.SourceRevision, e = str(v, at)
		case "filename":
			out.Filename, e = str(v, at)
		case "object_path":
			out.ObjectPath, e = str(v, at)
		case "sha256":
			out.SHA256, e = str(v, at)
		case "size_bytes":
			out.SizeBytes, e = decimal(v, at)
			if e == nil && out.SizeBytes < 0 {
				e = errorf(v.Line, "%s: %d is negative", at, out.SizeBytes)
			}
		case "state":
			out.State, e = str(v, at)
		case "promoted_at":
			out.PromotedAt, e = timeString(v, at)
		case "scan_results":
			out.ScanResults, e = evidence(v, at)
		case "scanner_versions":
			out.ScannerVersions, e = evidence(v, at)
		case "policy_version":
			out.PolicyVersion, e = str(v, at)
		case "gguf_guard_fingerprint":
			out.GGUFGuardFingerprint, e = fingerprint(v, at)
		case "gguf_guard_manifest":
			out.GGUFGuardManifest, e = str(v, at)
		case "blocked":
			out.Blocked, e = boolean(v, at)
		case "blocked_reason":
			out.BlockedReason, e = str(v, at)
		default:
			e = errorf(k.Line, "unknown field %s in %s", show(key), what)
		}
		return e
	})
	if e != nil {
		return p, e
	}
	for _, key := range required {
		if _, ok := p.fields[key]; !ok {
			return p, errorf(n.Line, "%s: missing %s", what, key)
		}
	}
	return p, nil
}

// evidence decodes scan_results or scanner_versions: strings to strings.
func evidence(n *yaml.Node, what string) (map[string]string, *Error) {
	if n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxEvidenceEntries {
		return nil, errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content)/2, MaxEvidenceEntries)
	}
	var m map[string]string
	e := mapping(n, what, func(key string, k, v *yaml.Node) *Error {
		if why := checkKey(key, MaxEvidenceKeyBytes); why != "" {
			return errorf(k.Line, "%s: key %s %s", what, show(key), why)
		}
		at := fmt.Sprintf("%s[%s]", what, strconv.Quote(key))
		s, e := str(v, at)
		if e != nil {
			return e
		}
		if why := checkText(s, MaxEvidenceValueBytes); why != "" {
			return errorf(v.Line, "%s: value %s", at, why)
		}
		if m == nil {
			m = make(map[string]string, len(n.Content)/2)
		}
		m[key] = s
		return nil
	})
	return m, e
}

func checkKey(key string, max int) string {
	if key == "" {
		return "is empty"
	}
	return checkText(key, max)
}

// fingerprint decodes gguf_guard_fingerprint into JSON-compatible values.
func fingerprint(n *yaml.Node, what string) (map[string]any, *Error) {
	if e := plain(n, what); e != nil {
		return nil, e
	}
	if n.Kind != yaml.MappingNode {
		return nil, want(n, what, "a mapping")
	}
	count := 0
	v, e := fpValue(n, what, 1, &count)
	if e != nil {
		return nil, e
	}
	m := v.(map[string]any)
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func fpValue(n *yaml.Node, what string, depth int, count *int) (any, *Error) {
	if e := plain(n, what); e != nil {
		return nil, e
	}
	*count++
	if *count > MaxFingerprintNodes {
		return nil, errorf(n.Line, "%s: the fingerprint has more than %d values", what, MaxFingerprintNodes)
	}
	if depth > MaxFingerprintDepth {
		return nil, errorf(n.Line, "%s: nested deeper than %d levels", what, MaxFingerprintDepth)
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content)/2 > MaxFingerprintFanout {
			return nil, errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content)/2, MaxFingerprintFanout)
		}
		m := make(map[string]any, len(n.Content)/2)
		e := mapping(n, what, func(key string, k, v *yaml.Node) *Error {
			if why := checkKey(key, MaxFingerprintStringBytes); why != "" {
				return errorf(k.Line, "%s: key %s %s", what, show(key), why)
			}
			x, e := fpValue(v, fmt.Sprintf("%s[%s]", what, strconv.Quote(key)), depth+1, count)
			m[key] = x
			return e
		})
		return m, e
	case yaml.SequenceNode:
		if len(n.Content) > MaxFingerprintFanout {
			return nil, errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content), MaxFingerprintFanout)
		}
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			var e *Error
			if s[i], e = fpValue(c, fmt.Sprintf("%s[%d]", what, i), depth+1, count); e != nil {
				return nil, e
			}
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case tagStr, tagTimestamp:
			if why := checkText(n.Value, MaxFingerprintStringBytes); why != "" {
				return nil, errorf(n.Line, "%s: string %s", what, why)
			}
			return n.Value, nil
		case tagNull:
			return nil, nil
		case tagBool:
			return boolean(n, what)
		case tagInt:
			return decimal(n, what)
		case tagFloat:
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, errorf(n.Line, "%s: want a finite decimal number, got %s", what, show(n.Value))
			}
			return f, nil
		}
	}
	return nil, errorf(n.Line, "%s: unsupported value %s", what, describe(n))
}
