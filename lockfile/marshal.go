package lockfile

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// header is the first line of every lock Marshal writes. It carries no
// time or version of the writer, so it never makes two exports differ.
const header = "# models.lock.yaml written by ai-model-registry (package lockfile): entries sorted by name.\n"

// Marshal writes l as models.lock.yaml after checking it with the same
// rules as Parse. The output depends only on the lock's content: entries
// sorted by name, keys in a fixed order, map keys sorted, every string
// double-quoted, absent and empty fields left out, one trailing newline.
// Parse(Marshal(l)) equals l when l is canonical (as Parse returns it;
// Marshal itself accepts nil and empty maps and slices alike and any
// entry order). Marshal does not modify l.
//
// Marshal writes every field it is given, promoted_at included: an
// exporter that wants the same bytes for the same registry content sets
// only values that do not change between exports (the recorded promotion
// time, never the time of the export).
func Marshal(l *Lock) ([]byte, error) {
	if l == nil {
		return nil, errors.New("lockfile: Marshal of a nil lock")
	}
	if e := validate(l, nil); e != nil {
		return nil, fmt.Errorf("lockfile: not a valid lock: %s", e.Msg)
	}
	order := make([]*Entry, len(l.Models))
	for i := range l.Models {
		order[i] = &l.Models[i]
	}
	slices.SortFunc(order, func(a, b *Entry) int { return strings.Compare(a.Name, b.Name) })

	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("version: 1\n")
	if len(order) == 0 {
		b.WriteString("models: []\n")
		return b.Bytes(), nil
	}
	b.WriteString("models:\n")
	for _, e := range order {
		writeEntry(&b, e)
	}
	if b.Len() > MaxInputBytes {
		return nil, fmt.Errorf("lockfile: the lock would be %d bytes, more than Parse accepts (%d)", b.Len(), MaxInputBytes)
	}
	return b.Bytes(), nil
}

// writeEntry writes the keys in one fixed order: what the model is, what
// the lock decides about it, then the evidence.
func writeEntry(b *bytes.Buffer, e *Entry) {
	b.WriteString("  - name: ")
	b.WriteString(strictyaml.Quote(e.Name))
	b.WriteByte('\n')
	str := func(key, value string) {
		if value != "" {
			b.WriteString("    " + key + ": " + strictyaml.Quote(value) + "\n")
		}
	}
	str("format", e.Format)
	str("source", e.Source)
	str("source_revision", e.SourceRevision)
	str("filename", e.Filename)
	str("object_path", e.ObjectPath)
	str("sha256", e.SHA256)
	b.WriteString("    size_bytes: " + strconv.FormatInt(e.SizeBytes, 10) + "\n")
	str("state", e.State)
	if e.Blocked {
		b.WriteString("    blocked: true\n")
	}
	str("blocked_reason", e.BlockedReason)
	str("promoted_at", e.PromotedAt)
	str("policy_version", e.PolicyVersion)
	for _, m := range []struct {
		key string
		m   map[string]string
	}{{"scan_results", e.ScanResults}, {"scanner_versions", e.ScannerVersions}} {
		if len(m.m) == 0 {
			continue
		}
		b.WriteString("    " + m.key + ":\n")
		for _, k := range sortedKeys(m.m) {
			b.WriteString("      " + strictyaml.Quote(k) + ": " + strictyaml.Quote(m.m[k]) + "\n")
		}
	}
	str("gguf_guard_manifest", e.GGUFGuardManifest)
	if len(e.GGUFGuardFingerprint) > 0 {
		b.WriteString("    gguf_guard_fingerprint:\n")
		writeMap(b, e.GGUFGuardFingerprint, 6)
	}
}

// writeMap writes a non-empty mapping in block style at indent.
func writeMap(b *bytes.Buffer, m map[string]any, indent int) {
	for _, k := range sortedKeys(m) {
		b.WriteString(strings.Repeat(" ", indent))
		b.WriteString(strictyaml.Quote(k))
		b.WriteByte(':')
		writeChild(b, m[k], indent)
	}
}

// writeSeq writes a non-empty sequence in block style at indent.
func writeSeq(b *bytes.Buffer, s []any, indent int) {
	for _, v := range s {
		b.WriteString(strings.Repeat(" ", indent))
		b.WriteByte('-')
		writeChild(b, v, indent)
	}
}

// writeChild writes the value after "key:" or "-": a scalar or an empty
// collection on the same line, anything else on the next lines, two
// spaces deeper.
func writeChild(b *bytes.Buffer, v any, indent int) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString(" {}\n")
			return
		}
		b.WriteByte('\n')
		writeMap(b, x, indent+2)
	case []any:
		if len(x) == 0 {
			b.WriteString(" []\n")
			return
		}
		b.WriteByte('\n')
		writeSeq(b, x, indent+2)
	default:
		b.WriteByte(' ')
		b.WriteString(scalar(v))
		b.WriteByte('\n')
	}
}

// scalar writes a fingerprint scalar so that yaml.v3 resolves it back to
// the same Go value and type (validate has limited v to these types).
func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		// The shortest form that reads back as the same float64; a form
		// without '.' or an exponent would read back as an integer.
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case string:
		return strictyaml.Quote(x)
	}
	panic(fmt.Sprintf("lockfile: unvalidated fingerprint value %T", v))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
