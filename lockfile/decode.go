package lockfile

import (
	"fmt"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
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

// timeString accepts an unquoted RFC 3339 time too (yaml.v3 tags it
// !!timestamp); the text is kept as written and validated later.
func timeString(n *yaml.Node, what string) (string, *strictyaml.Error) {
	if e := strictyaml.Plain(n, what); e != nil {
		return "", e
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != strictyaml.TagStr && n.Tag != strictyaml.TagTimestamp) {
		return "", strictyaml.Want(n, what, "a string")
	}
	return n.Value, nil
}

// decodeLock reads the top-level mapping strictyaml.Decode hands over.
func decodeLock(top *yaml.Node) (*Lock, []entryPos, *strictyaml.Error) {
	// The version decides how everything else is read, so it is checked
	// before any other key: a version 2 file gets "version 2", not a
	// complaint about a field version 2 added.
	var l Lock
	for i := 0; i+1 < len(top.Content); i += 2 {
		if k := top.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == strictyaml.TagStr && k.Value == "version" {
			v, e := strictyaml.Decimal(top.Content[i+1], "version")
			if e != nil {
				return nil, nil, e
			}
			if v != Version {
				return nil, nil, strictyaml.Errorf(top.Content[i+1].Line, "version %d is not supported; this registry reads version %d", v, Version)
			}
			l.Version = Version
			break
		}
	}
	if l.Version == 0 {
		return nil, nil, strictyaml.Errorf(top.Line, "missing version (want version: %d)", Version)
	}

	var pos []entryPos
	sawModels := false
	e := strictyaml.Mapping(top, strictyaml.TopLevel, func(key string, k, v *yaml.Node) *strictyaml.Error {
		switch key {
		case "version":
			return nil // checked above
		case "models":
			sawModels = true
			var e *strictyaml.Error
			l.Models, pos, e = decodeModels(v)
			return e
		}
		return strictyaml.Errorf(k.Line, "unknown field %s at the top level", strictyaml.Show(key))
	})
	if e != nil {
		return nil, nil, e
	}
	if !sawModels {
		return nil, nil, strictyaml.Errorf(top.Line, "missing models (write models: [] for an empty lock)")
	}
	return &l, pos, nil
}

// decodeModels leaves an empty list nil, as Parse promises.
func decodeModels(n *yaml.Node) ([]Entry, []entryPos, *strictyaml.Error) {
	var models []Entry
	var pos []entryPos
	e := strictyaml.Sequence(n, "models", MaxEntries, func(i int, item *yaml.Node) *strictyaml.Error {
		if models == nil {
			models, pos = make([]Entry, len(n.Content)), make([]entryPos, len(n.Content))
		}
		var e *strictyaml.Error
		pos[i], e = decodeEntry(item, fmt.Sprintf("models[%d]", i), &models[i])
		return e
	})
	if e != nil {
		return nil, nil, e
	}
	return models, pos, nil
}

// required keys of an entry, in the order a missing one is reported.
var required = []string{"name", "format", "filename", "sha256", "size_bytes"}

func decodeEntry(n *yaml.Node, what string, out *Entry) (entryPos, *strictyaml.Error) {
	p := entryPos{line: n.Line, fields: map[string]int{}}
	e := strictyaml.Mapping(n, what, func(key string, k, v *yaml.Node) *strictyaml.Error {
		p.fields[key] = k.Line
		at := what + "." + key
		var e *strictyaml.Error
		switch key {
		case "name":
			out.Name, e = strictyaml.String(v, at)
		case "format":
			out.Format, e = strictyaml.String(v, at)
		case "source":
			out.Source, e = strictyaml.String(v, at)
		case "source_revision":
			out.SourceRevision, e = strictyaml.String(v, at)
		case "filename":
			out.Filename, e = strictyaml.String(v, at)
		case "object_path":
			out.ObjectPath, e = strictyaml.String(v, at)
		case "sha256":
			out.SHA256, e = strictyaml.String(v, at)
		case "size_bytes":
			out.SizeBytes, e = strictyaml.Decimal(v, at)
			if e == nil && out.SizeBytes < 0 {
				e = strictyaml.Errorf(v.Line, "%s: %d is negative", at, out.SizeBytes)
			}
		case "state":
			out.State, e = strictyaml.String(v, at)
		case "promoted_at":
			out.PromotedAt, e = timeString(v, at)
		case "scan_results":
			out.ScanResults, e = evidence(v, at)
		case "scanner_versions":
			out.ScannerVersions, e = evidence(v, at)
		case "policy_version":
			out.PolicyVersion, e = strictyaml.String(v, at)
		case "gguf_guard_fingerprint":
			out.GGUFGuardFingerprint, e = fingerprint(v, at)
		case "gguf_guard_manifest":
			out.GGUFGuardManifest, e = strictyaml.String(v, at)
		case "blocked":
			out.Blocked, e = strictyaml.Bool(v, at)
		case "blocked_reason":
			out.BlockedReason, e = strictyaml.String(v, at)
		default:
			e = strictyaml.Errorf(k.Line, "unknown field %s in %s", strictyaml.Show(key), what)
		}
		return e
	})
	if e != nil {
		return p, e
	}
	for _, key := range required {
		if _, ok := p.fields[key]; !ok {
			return p, strictyaml.Errorf(n.Line, "%s: missing %s", what, key)
		}
	}
	return p, nil
}

// evidence decodes scan_results or scanner_versions: strings to strings.
func evidence(n *yaml.Node, what string) (map[string]string, *strictyaml.Error) {
	if n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxEvidenceEntries {
		return nil, strictyaml.Errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content)/2, MaxEvidenceEntries)
	}
	var m map[string]string
	e := strictyaml.Mapping(n, what, func(key string, k, v *yaml.Node) *strictyaml.Error {
		if why := checkKey(key, MaxEvidenceKeyBytes); why != "" {
			return strictyaml.Errorf(k.Line, "%s: key %s %s", what, strictyaml.Show(key), why)
		}
		at := fmt.Sprintf("%s[%s]", what, strconv.Quote(key))
		s, e := strictyaml.String(v, at)
		if e != nil {
			return e
		}
		if why := checkText(s, MaxEvidenceValueBytes); why != "" {
			return strictyaml.Errorf(v.Line, "%s: value %s", at, why)
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
func fingerprint(n *yaml.Node, what string) (map[string]any, *strictyaml.Error) {
	if e := strictyaml.Plain(n, what); e != nil {
		return nil, e
	}
	if n.Kind != yaml.MappingNode {
		return nil, strictyaml.Want(n, what, "a mapping")
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

func fpValue(n *yaml.Node, what string, depth int, count *int) (any, *strictyaml.Error) {
	if e := strictyaml.Plain(n, what); e != nil {
		return nil, e
	}
	*count++
	if *count > MaxFingerprintNodes {
		return nil, strictyaml.Errorf(n.Line, "%s: the fingerprint has more than %d values", what, MaxFingerprintNodes)
	}
	if depth > MaxFingerprintDepth {
		return nil, strictyaml.Errorf(n.Line, "%s: nested deeper than %d levels", what, MaxFingerprintDepth)
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content)/2 > MaxFingerprintFanout {
			return nil, strictyaml.Errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content)/2, MaxFingerprintFanout)
		}
		m := make(map[string]any, len(n.Content)/2)
		e := strictyaml.Mapping(n, what, func(key string, k, v *yaml.Node) *strictyaml.Error {
			if why := checkKey(key, MaxFingerprintStringBytes); why != "" {
				return strictyaml.Errorf(k.Line, "%s: key %s %s", what, strictyaml.Show(key), why)
			}
			x, e := fpValue(v, fmt.Sprintf("%s[%s]", what, strconv.Quote(key)), depth+1, count)
			m[key] = x
			return e
		})
		return m, e
	case yaml.SequenceNode:
		if len(n.Content) > MaxFingerprintFanout {
			return nil, strictyaml.Errorf(n.Line, "%s: %d entries, more than the limit of %d", what, len(n.Content), MaxFingerprintFanout)
		}
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			var e *strictyaml.Error
			if s[i], e = fpValue(c, fmt.Sprintf("%s[%d]", what, i), depth+1, count); e != nil {
				return nil, e
			}
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.Tag {
		case strictyaml.TagStr, strictyaml.TagTimestamp:
			if why := checkText(n.Value, MaxFingerprintStringBytes); why != "" {
				return nil, strictyaml.Errorf(n.Line, "%s: string %s", what, why)
			}
			return n.Value, nil
		case strictyaml.TagNull:
			return nil, nil
		case strictyaml.TagBool:
			return strictyaml.Bool(n, what)
		case strictyaml.TagInt:
			return strictyaml.Decimal(n, what)
		case strictyaml.TagFloat:
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, strictyaml.Errorf(n.Line, "%s: want a finite decimal number, got %s", what, strictyaml.Show(n.Value))
			}
			return f, nil
		}
	}
	return nil, strictyaml.Errorf(n.Line, "%s: unsupported value %s", what, strictyaml.Describe(n))
}
