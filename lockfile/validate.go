package lockfile

import (
	"fmt"
	"math"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// validate checks the rules that do not depend on YAML: it runs after
// decoding in Parse (with positions) and before writing in Marshal
// (without), so Marshal never writes a lock Parse would refuse.
func validate(l *Lock, pos []entryPos) *strictyaml.Error {
	if l.Version != Version {
		return strictyaml.Errorf(0, "version %d is not supported; want %d", l.Version, Version)
	}
	if len(l.Models) > MaxEntries {
		return strictyaml.Errorf(0, "%d entries, more than the limit of %d", len(l.Models), MaxEntries)
	}
	posOf := func(i int) entryPos {
		if i < len(pos) {
			return pos[i]
		}
		return entryPos{}
	}
	names := make(map[string]int, len(l.Models))
	files := make(map[string]int, len(l.Models))
	for i := range l.Models {
		e, p := &l.Models[i], posOf(i)
		what := fmt.Sprintf("models[%d]", i)
		if err := validateEntry(e, p, what); err != nil {
			return err
		}
		if j, dup := names[e.Name]; dup {
			return strictyaml.Errorf(p.at("name"), "%s.name: %s is already used by models[%d]%s", what, strictyaml.Show(e.Name), j, onLine(posOf(j).at("name")))
		}
		names[e.Name] = i
		if e.State == StateDeleted {
			continue
		}
		if j, dup := files[e.Filename]; dup {
			return strictyaml.Errorf(p.at("filename"), "%s.filename: %s is already used by models[%d]%s", what, strictyaml.Show(e.Filename), j, onLine(posOf(j).at("filename")))
		}
		files[e.Filename] = i
	}
	return nil
}

func onLine(line int) string {
	if line > 0 {
		return fmt.Sprintf(" (line %d)", line)
	}
	return ""
}

func validateEntry(e *Entry, p entryPos, what string) *strictyaml.Error {
	bad := func(field, format string, args ...any) *strictyaml.Error {
		return strictyaml.Errorf(p.at(field), "%s.%s: %s", what, field, fmt.Sprintf(format, args...))
	}
	text := func(field, value string, max int) *strictyaml.Error {
		if why := checkText(value, max); why != "" {
			return bad(field, "%s", why)
		}
		return nil
	}

	if e.Name == "" {
		return bad("name", "empty")
	}
	if err := text("name", e.Name, MaxNameBytes); err != nil {
		return err
	}
	first, _ := utf8.DecodeRuneInString(e.Name)
	last, _ := utf8.DecodeLastRuneInString(e.Name)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return bad("name", "%s has leading or trailing space", strictyaml.Show(e.Name))
	}

	if e.Format != FormatGGUF && e.Format != FormatSafetensors {
		return bad("format", "want %q or %q, got %s", FormatGGUF, FormatSafetensors, strictyaml.Show(e.Format))
	}

	if err := text("filename", e.Filename, MaxPathBytes); err != nil {
		return err
	}
	if why := checkRelPath(e.Filename); why != "" {
		return bad("filename", "%s %s", strictyaml.Show(e.Filename), why)
	}
	if ext := strings.ToLower(path.Ext(e.Filename)); ext != "."+e.Format {
		return bad("filename", "%s does not end in .%s as format %s says", strictyaml.Show(e.Filename), e.Format, strictyaml.Show(e.Format))
	}

	if !isHex64(e.SHA256) {
		return bad("sha256", "want 64 lowercase hex digits, got %s", strictyaml.Show(e.SHA256))
	}
	if e.SizeBytes < 0 {
		return bad("size_bytes", "%d is negative", e.SizeBytes)
	}
	if e.ObjectPath != "" {
		wantPath := "objects/sha256/" + e.SHA256[:2] + "/" + e.SHA256 + "." + e.Format
		if e.ObjectPath != wantPath {
			return bad("object_path", "%s does not match sha256 and format (want %s)", strictyaml.Show(e.ObjectPath), strictyaml.Show(wantPath))
		}
	}

	if err := text("source", e.Source, MaxSourceBytes); err != nil {
		return err
	}
	if err := text("source_revision", e.SourceRevision, MaxRevisionBytes); err != nil {
		return err
	}

	switch e.State {
	case StateUnset, StateAcquired, StateQuarantined, StateTrusted, StateRevoked, StateDeleted:
	default:
		return bad("state", "want one of acquired, quarantined, trusted, revoked, deleted (or no state), got %s", strictyaml.Show(e.State))
	}
	if e.Blocked && e.State == StateTrusted {
		return bad("blocked", "blocked: true contradicts state %q%s; a blocked model is never trusted", StateTrusted, onLine(p.fields["state"]))
	}
	if err := text("blocked_reason", e.BlockedReason, MaxBlockedReasonBytes); err != nil {
		return err
	}
	if e.BlockedReason != "" && !e.Blocked {
		return bad("blocked_reason", "set, but blocked is not true; remove it or write blocked: true")
	}

	if e.PromotedAt != "" {
		if err := text("promoted_at", e.PromotedAt, MaxPromotedAtBytes); err != nil {
			return err
		}
		if _, err := time.Parse(time.RFC3339, e.PromotedAt); err != nil {
			return bad("promoted_at", "%s is not an RFC 3339 time", strictyaml.Show(e.PromotedAt))
		}
	}
	if err := text("policy_version", e.PolicyVersion, MaxPolicyBytes); err != nil {
		return err
	}
	if why := checkEvidence(e.ScanResults); why != "" {
		return bad("scan_results", "%s", why)
	}
	if why := checkEvidence(e.ScannerVersions); why != "" {
		return bad("scanner_versions", "%s", why)
	}
	if err := text("gguf_guard_manifest", e.GGUFGuardManifest, MaxPathBytes); err != nil {
		return err
	}
	if e.GGUFGuardFingerprint != nil {
		count := 0
		if why := checkFP(e.GGUFGuardFingerprint, 1, &count); why != "" {
			return bad("gguf_guard_fingerprint", "%s", why)
		}
	}
	return nil
}

// checkRelPath says why name is not a clean relative path inside the
// import directory ("" if it is).
func checkRelPath(name string) string {
	switch {
	case name == "":
		return "is empty"
	case strings.Contains(name, `\`):
		return "contains a backslash"
	case strings.HasPrefix(name, "/"):
		return "is absolute"
	case path.Clean(name) != name || name == ".":
		return "is not a clean path"
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "leaves the import directory"
		}
	}
	return ""
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func checkEvidence(m map[string]string) string {
	if len(m) > MaxEvidenceEntries {
		return fmt.Sprintf("%d entries, more than the limit of %d", len(m), MaxEvidenceEntries)
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		if why := checkKey(k, MaxEvidenceKeyBytes); why != "" {
			return fmt.Sprintf("key %s %s", strictyaml.Show(k), why)
		}
		if why := checkText(v, MaxEvidenceValueBytes); why != "" {
			return fmt.Sprintf("value of %s %s", strictyaml.Show(k), why)
		}
	}
	return ""
}

// checkFP checks a fingerprint value built in Go: only the types Parse
// produces, within the same limits.
func checkFP(v any, depth int, count *int) string {
	*count++
	if *count > MaxFingerprintNodes {
		return fmt.Sprintf("more than %d values", MaxFingerprintNodes)
	}
	if depth > MaxFingerprintDepth {
		return fmt.Sprintf("nested deeper than %d levels", MaxFingerprintDepth)
	}
	switch x := v.(type) {
	case nil, bool, int64:
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "contains a number that is not finite"
		}
	case string:
		if why := checkText(x, MaxFingerprintStringBytes); why != "" {
			return "string " + why
		}
	case []any:
		if len(x) > MaxFingerprintFanout {
			return fmt.Sprintf("a sequence of %d entries, more than the limit of %d", len(x), MaxFingerprintFanout)
		}
		for _, c := range x {
			if why := checkFP(c, depth+1, count); why != "" {
				return why
			}
		}
	case map[string]any:
		if len(x) > MaxFingerprintFanout {
			return fmt.Sprintf("a mapping of %d entries, more than the limit of %d", len(x), MaxFingerprintFanout)
		}
		for _, k := range sortedKeys(x) {
			if why := checkKey(k, MaxFingerprintStringBytes); why != "" {
				return fmt.Sprintf("key %s %s", strictyaml.Show(k), why)
			}
			if why := checkFP(x[k], depth+1, count); why != "" {
				return why
			}
		}
	default:
		return fmt.Sprintf("unsupported value of type %T (use string, bool, nil, int64, float64, []any or map[string]any)", v)
	}
	return ""
}

// checkText is strictyaml.CheckText in this package's wording, which
// leaves out "is" ("longer than 1024 bytes", "not valid UTF-8"): lock
// messages read so before the check was shared, and a lock's refusals
// keep their text.
func checkText(s string, max int) string {
	return strings.TrimPrefix(strictyaml.CheckText(s, max), "is ")
}
