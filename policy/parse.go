package policy

import (
	"fmt"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	"gopkg.in/yaml.v3"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// Parse decodes and checks a policy. Every refusal is an *Error naming
// the line at fault (File is DefaultFileName). The policy's Digest is the
// sha256 of data and its URI is "". A public_key_file entry is refused:
// Parse does no I/O, and only Load knows the directory such a path is
// relative to.
func Parse(data []byte) (*Policy, error) {
	p, e := parse(data, nil)
	if e != nil {
		return nil, e
	}
	return p, nil
}

// keyReader reads a public_key_file; nil when the policy has no file of
// its own (Parse).
type keyReader func(name string) ([]byte, error)

func parse(data []byte, readKey keyReader) (*Policy, *Error) {
	format := strictyaml.Format{Noun: "policy", Needs: "at least version", Holds: "at least version", MaxBytes: MaxFileBytes}
	var r *rules
	e := format.Decode(data, func(top *yaml.Node) *strictyaml.Error {
		d := decoder{readKey: readKey}
		var e *strictyaml.Error
		r, e = d.top(top)
		return e
	})
	if e != nil {
		return nil, &Error{File: DefaultFileName, Line: e.Line, Msg: e.Msg}
	}
	return &Policy{digest: digest.FromBytes(data), r: *r}, nil
}

type decoder struct {
	readKey keyReader
}

// top reads the top-level mapping strictyaml.Decode hands over.
func (d *decoder) top(top *yaml.Node) (*rules, *strictyaml.Error) {
	var r rules
	lines := map[string]int{} // key -> line of the key
	e := strictyaml.Mapping(top, strictyaml.TopLevel, func(key string, k, v *yaml.Node) *strictyaml.Error {
		lines[key] = k.Line
		var e *strictyaml.Error
		switch key {
		case "version":
			r.Version, e = checkedStr(v, key, checkVersion)
		case "require_quarantine":
			r.RequireQuarantine, e = strictyaml.Bool(v, key)
		case "allow_one_step_promote":
			r.AllowOneStepPromote, e = strictyaml.Bool(v, key)
		case "scanners":
			r.Scanners, e = scanners(v)
		case "min_passing_scanners":
			r.MinPassingScanners, e = count(v, key, 0, MaxScanners)
		case "formats":
			r.Formats, e = strings1(v, key, MaxListEntries, true, checkFormat)
		case "media_types":
			r.MediaTypes, e = strings1(v, key, MaxListEntries, false, checkMediaType)
		case "max_size_bytes":
			if r.MaxSizeBytes, e = strictyaml.Decimal(v, key); e == nil && r.MaxSizeBytes < 1 {
				e = strictyaml.Errorf(v.Line, "max_size_bytes: %d would refuse every artifact; want 1 or more, or leave the key out", r.MaxSizeBytes)
			}
		case "sources":
			r.Sources, e = strings1(v, key, MaxSources, false, checkSourcePattern)
		case "require_tensor_manifest":
			r.RequireTensorManifest, e = strictyaml.Bool(v, key)
		case "signatures":
			r.Signatures, e = d.signatures(v)
		case "min_signatures":
			r.MinSignatures, e = count(v, key, 1, MaxSignatures)
		case "licenses":
			r.Licenses, e = strings1(v, key, MaxListEntries, true, checkLicense)
		default:
			e = strictyaml.Errorf(k.Line, "unknown field %s at the top level", strictyaml.Show(key))
		}
		return e
	})
	if e != nil {
		return nil, e
	}
	if _, ok := lines["version"]; !ok {
		return nil, strictyaml.Errorf(top.Line, `missing version (write for example version: "2026-05-1"; it is recorded on every promotion as policy_version)`)
	}
	if l, ok := lines["min_signatures"]; ok {
		if len(r.Signatures) == 0 {
			return nil, strictyaml.Errorf(l, "min_signatures without signatures: list the keys whose signatures count")
		}
		if r.MinSignatures > len(r.Signatures) {
			return nil, strictyaml.Errorf(l, "min_signatures: %d, but signatures lists only %d keys, so it could never be met", r.MinSignatures, len(r.Signatures))
		}
	}
	return &r, nil
}

// count decodes a small non-negative integer in [lo, hi].
func count(n *yaml.Node, what string, lo, hi int) (int, *strictyaml.Error) {
	v, e := strictyaml.Decimal(n, what)
	if e != nil {
		return 0, e
	}
	if v < int64(lo) || v > int64(hi) {
		return 0, strictyaml.Errorf(n.Line, "%s: %d is out of range; want %d to %d", what, v, lo, hi)
	}
	return int(v), nil
}

// sequence walks a non-empty sequence of at most max items. An empty list
// is refused rather than read as "allow nothing" or "no rule": leaving
// the key out is the one way to say there is no rule.
func sequence(n *yaml.Node, what string, max int, f func(i int, item *yaml.Node) *strictyaml.Error) *strictyaml.Error {
	if e := strictyaml.Sequence(n, what, max, f); e != nil {
		return e
	}
	if len(n.Content) == 0 {
		return strictyaml.Errorf(n.Line, "%s: empty list; leave the key out if there is no such rule", what)
	}
	return nil
}

// strings1 decodes a non-empty list of distinct strings, each checked by
// check. fold makes "distinct" ASCII case-insensitive, for lists that are
// compared that way.
func strings1(n *yaml.Node, what string, maxItems int, fold bool, check func(string) string) ([]string, *strictyaml.Error) {
	out := make([]string, 0, len(n.Content))
	seen := map[string]int{}
	e := sequence(n, what, maxItems, func(i int, item *yaml.Node) *strictyaml.Error {
		at := fmt.Sprintf("%s[%d]", what, i)
		s, e := checkedStr(item, at, check)
		if e != nil {
			return e
		}
		key := s
		if fold {
			key = asciiLower(s)
		}
		if first, dup := seen[key]; dup {
			return strictyaml.Errorf(item.Line, "%s: %s is already listed on line %d", at, strictyaml.Show(s), first)
		}
		seen[key] = item.Line
		out = append(out, s)
		return nil
	})
	if e != nil {
		return nil, e
	}
	return out, nil
}

func scanners(n *yaml.Node) ([]scannerRule, *strictyaml.Error) {
	var out []scannerRule
	names := map[string]int{}
	e := sequence(n, "scanners", MaxScanners, func(i int, item *yaml.Node) *strictyaml.Error {
		what := fmt.Sprintf("scanners[%d]", i)
		s := scannerRule{Result: "pass", Required: true}
		keys := map[string]int{}
		e := strictyaml.Mapping(item, what, func(key string, k, v *yaml.Node) *strictyaml.Error {
			keys[key] = k.Line
			at := what + "." + key
			var e *strictyaml.Error
			switch key {
			case "name":
				s.Name, e = uniqueName(v, at, "scanner", names)
			case "result":
				s.Result, e = checkedStr(v, at, checkResult)
			case "versions":
				s.Versions, e = strings1(v, at, MaxListEntries, false, checkExactVersion)
			case "min_version":
				s.MinVersion, e = checkedStr(v, at, checkMinVersion)
			case "required":
				s.Required, e = strictyaml.Bool(v, at)
			default:
				e = strictyaml.Errorf(k.Line, "unknown field %s in %s (want name, result, versions or min_version, required)", strictyaml.Show(key), what)
			}
			return e
		})
		if e != nil {
			return e
		}
		if _, ok := keys["name"]; !ok {
			return strictyaml.Errorf(item.Line, "%s: missing name", what)
		}
		if lv, ok := keys["versions"]; ok {
			if lm, ok := keys["min_version"]; ok {
				return strictyaml.Errorf(max(lv, lm), "%s: versions and min_version together; use one (exact versions, or a minimum)", what)
			}
		}
		out = append(out, s)
		return nil
	})
	return out, e
}

func (d *decoder) signatures(n *yaml.Node) ([]NamedKey, *strictyaml.Error) {
	var out []NamedKey
	names := map[string]int{}
	ders := map[string]int{}
	e := sequence(n, "signatures", MaxSignatures, func(i int, item *yaml.Node) *strictyaml.Error {
		what := fmt.Sprintf("signatures[%d]", i)
		var k NamedKey
		var der []byte
		keys := map[string]int{}
		keyLine := 0
		e := strictyaml.Mapping(item, what, func(key string, kn, v *yaml.Node) *strictyaml.Error {
			keys[key] = kn.Line
			at := what + "." + key
			var e *strictyaml.Error
			switch key {
			case "name":
				k.Name, e = uniqueName(v, at, "key name", names)
			case "public_key":
				var text string
				if text, e = strictyaml.String(v, at); e == nil {
					keyLine = v.Line
					var why string
					if k.PEM, k.Public, der, why = parsePublicKey([]byte(text)); why != "" {
						e = strictyaml.Errorf(v.Line, "%s: %s", at, why)
					}
				}
			case "public_key_file":
				var name string
				if name, e = strictyaml.String(v, at); e != nil {
					return e
				}
				keyLine = v.Line
				if why := strictyaml.CheckText(name, 4096); why != "" || name == "" {
					if name == "" {
						why = "is empty"
					}
					return strictyaml.Errorf(v.Line, "%s: %s %s", at, strictyaml.Show(name), why)
				}
				if d.readKey == nil {
					return strictyaml.Errorf(v.Line, "%s: a policy given as bytes (Parse) cannot read key files; use Load, or write the key inline as public_key", at)
				}
				data, err := d.readKey(name)
				if err != nil {
					return strictyaml.Errorf(v.Line, "%s: cannot read %s: %v", at, strictyaml.Show(name), err)
				}
				var why string
				if k.PEM, k.Public, der, why = parsePublicKey(data); why != "" {
					e = strictyaml.Errorf(v.Line, "%s: %s: %s", at, strictyaml.Show(name), why)
				}
			default:
				e = strictyaml.Errorf(kn.Line, "unknown field %s in %s (want name and public_key or public_key_file)", strictyaml.Show(key), what)
			}
			return e
		})
		if e != nil {
			return e
		}
		_, inline := keys["public_key"]
		_, file := keys["public_key_file"]
		switch {
		case keys["name"] == 0:
			return strictyaml.Errorf(item.Line, "%s: missing name", what)
		case inline && file:
			return strictyaml.Errorf(max(keys["public_key"], keys["public_key_file"]), "%s: public_key and public_key_file together; give the key once", what)
		case !inline && !file:
			return strictyaml.Errorf(item.Line, "%s: missing public_key (inline PEM) or public_key_file", what)
		}
		// One key under two names would count twice towards
		// min_signatures, since a signature that verifies with one
		// verifies with the other.
		if first, dup := ders[string(der)]; dup {
			return strictyaml.Errorf(keyLine, "%s: the same public key is already listed on line %d; list each key once", what, first)
		}
		ders[string(der)] = keyLine
		out = append(out, k)
		return nil
	})
	return out, e
}

// checkedStr decodes a string and refuses it with check's reason.
func checkedStr(n *yaml.Node, what string, check func(string) string) (string, *strictyaml.Error) {
	s, e := strictyaml.String(n, what)
	if e != nil {
		return "", e
	}
	if why := check(s); why != "" {
		return "", strictyaml.Errorf(n.Line, "%s: %s %s", what, strictyaml.Show(s), why)
	}
	return s, nil
}

// uniqueName decodes a scanner or key name and refuses one already in
// names (name -> line), where it then records it.
func uniqueName(n *yaml.Node, what, kind string, names map[string]int) (string, *strictyaml.Error) {
	s, e := checkedStr(n, what, checkName)
	if e != nil {
		return "", e
	}
	if first, dup := names[s]; dup {
		return "", strictyaml.Errorf(n.Line, "%s: %s %s is already listed on line %d", what, kind, strictyaml.Show(s), first)
	}
	names[s] = n.Line
	return s, nil
}

// checkVersion: 1–128 printable characters (letters, marks, numbers,
// punctuation, symbols, ASCII space), at most 256 bytes, no space at
// either end.
func checkVersion(s string) string {
	switch {
	case s == "":
		return "is empty"
	case utf8.RuneCountInString(s) > MaxVersionChars:
		return fmt.Sprintf("is longer than %d characters", MaxVersionChars)
	case len(s) > MaxVersionBytes:
		return fmt.Sprintf("is longer than %d bytes", MaxVersionBytes)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case s[0] == ' ' || s[len(s)-1] == ' ':
		return "has leading or trailing space"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("contains the unprintable character %U", r)
		}
	}
	return ""
}

// checkName: scanner and key names are used verbatim in rule ids
// ("scanners.modelscan.result") and in scan_results keys, so they are
// plain: ASCII letters, digits, '.', '_', '-', starting with a letter or
// digit.
func checkName(s string) string { return checkToken(s, MaxNameBytes, "._-") }

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// checkResult: an expected scanner verdict such as "pass".
func checkResult(s string) string {
	if s == "" {
		return "is empty"
	}
	if why := strictyaml.CheckText(s, 64); why != "" {
		return why
	}
	if strings.TrimSpace(s) != s {
		return "has leading or trailing space"
	}
	return ""
}

// checkToken: ASCII letters, digits and the given punctuation, starting
// with a letter or digit.
func checkToken(s string, max int, punct string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > max {
		return fmt.Sprintf("is longer than %d bytes", max)
	}
	if !isAlnum(s[0]) {
		return "must start with an ASCII letter or digit"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && strings.IndexByte(punct, c) < 0 {
			return fmt.Sprintf("may hold only ASCII letters, digits and %q", punct)
		}
	}
	return ""
}

func checkFormat(s string) string { return checkToken(s, 64, "._+-") }

// checkLicense: an SPDX license identifier (LicenseRef-... included).
func checkLicense(s string) string { return checkToken(s, 128, ".+-") }

func checkExactVersion(s string) string {
	if s == "" {
		return "is empty"
	}
	if why := strictyaml.CheckText(s, MaxNameBytes); why != "" {
		return why
	}
	if strings.ContainsAny(s, " \t") {
		return "contains a space"
	}
	return ""
}

func checkMinVersion(s string) string {
	v, ok := parseVersion(s)
	if !ok || v.pre || v.build {
		return "is not a dotted version number such as 0.8.0 (versions: [...] takes exact versions of any form)"
	}
	return ""
}

// checkMediaType: a media type or a path.Match pattern of one, such as
// "application/vnd.*".
func checkMediaType(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > 255 {
		return "is longer than 255 bytes"
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return "may hold only printable ASCII without spaces"
		}
	}
	if !strings.Contains(s, "/") {
		return "is not of the form type/subtype (a * never matches the '/')"
	}
	if _, err := path.Match(s, ""); err != nil {
		return "is not a valid pattern (path.Match syntax: *, ?, [...], \\)"
	}
	return ""
}

// checkSourcePattern: see matchSource for what a pattern means. It
// refuses the glob spellings that would mean something else to a reader
// used to shell or gitignore patterns than to matchSource: "**" (no
// wildcard crosses a '/') and '\' (not an escape; never in a URL).
func checkSourcePattern(s string) string {
	if s == "" {
		return "is empty"
	}
	if why := strictyaml.CheckText(s, MaxPatternBytes); why != "" {
		return why
	}
	switch {
	case strings.ContainsFunc(s, unicode.IsSpace):
		return "contains a space"
	case strings.Contains(s, "**"):
		return `contains "**": no wildcard matches '/'; end the pattern with '/' to allow everything below it`
	case strings.Contains(s, `\`):
		return `contains '\': sources patterns have no escapes, and a URL has no backslash`
	}
	return ""
}
