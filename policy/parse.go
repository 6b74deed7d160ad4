package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	"gopkg.in/yaml.v3"
)

// internalParserError marks a recovered panic (the fuzz target fails on
// it).
const internalParserError = "internal error while reading the policy"

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
	r, e := parseRules(data, readKey)
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
	return &Policy{digest: digest.FromBytes(data), r: *r}, nil
}

func parseRules(data []byte, readKey keyReader) (r *rules, failure *Error) {
	if e := prescan(data); e != nil {
		return nil, e
	}
	defer func() {
		// yaml.v3 turns its own failures into errors; any other panic
		// here is a bug, in it or in this package. The policy is refused
		// either way.
		if x := recover(); x != nil {
			r, failure = nil, errorf(0, "%s: %v", internalParserError, x)
		}
	}()

	doc, second, yerr := decodeDocs(data)
	switch err := yerr; {
	case errors.Is(err, io.EOF):
		return nil, errorf(0, "no YAML document; a policy needs at least version")
	case err != nil:
		return nil, syntaxError(err, data)
	case second > 0:
		return nil, errorf(second, "a second YAML document starts here; a policy is exactly one document")
	}
	d := decoder{readKey: readKey}
	return d.top(doc)
}

type decoder struct {
	readKey keyReader
}

func (d *decoder) top(doc *yaml.Node) (*rules, *Error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errorf(doc.Line, "not a single YAML document")
	}
	top := doc.Content[0]
	const where = "top level"
	if e := plain(top, where); e != nil {
		return nil, e
	}
	if top.Kind != yaml.MappingNode {
		return nil, errorf(top.Line, "the top level must be a mapping with at least version, got %s", describe(top))
	}

	var r rules
	lines := map[string]int{} // key -> line of the key
	e := mapping(top, where, func(key string, k, v *yaml.Node) *Error {
		lines[key] = k.Line
		var e *Error
		switch key {
		case "version":
			r.Version, e = checkedStr(v, key, checkVersion)
		case "require_quarantine":
			r.RequireQuarantine, e = boolean(v, key)
		case "allow_one_step_promote":
			r.AllowOneStepPromote, e = boolean(v, key)
		case "scanners":
			r.Scanners, e = scanners(v)
		case "min_passing_scanners":
			r.MinPassingScanners, e = count(v, key, 0, MaxScanners)
		case "formats":
			r.Formats, e = strings1(v, key, MaxListEntries, true, checkFormat)
		case "media_types":
			r.MediaTypes, e = strings1(v, key, MaxListEntries, false, checkMediaType)
		case "max_size_bytes":
			if r.MaxSizeBytes, e = decimal(v, key); e == nil && r.MaxSizeBytes < 1 {
				e = errorf(v.Line, "max_size_bytes: %d would refuse every artifact; want 1 or more, or leave the key out", r.MaxSizeBytes)
			}
		case "sources":
			r.Sources, e = strings1(v, key, MaxSources, false, checkSourcePattern)
		case "require_tensor_manifest":
			r.RequireTensorManifest, e = boolean(v, key)
		case "signatures":
			r.Signatures, e = d.signatures(v)
		case "min_signatures":
			r.MinSignatures, e = count(v, key, 1, MaxSignatures)
		case "licenses":
			r.Licenses, e = strings1(v, key, MaxListEntries, true, checkLicense)
		default:
			e = errorf(k.Line, "unknown field %s at the top level", show(key))
		}
		return e
	})
	if e != nil {
		return nil, e
	}
	if _, ok := lines["version"]; !ok {
		return nil, errorf(top.Line, `missing version (write for example version: "2026-05-1"; it is recorded on every promotion as policy_version)`)
	}
	if l, ok := lines["min_signatures"]; ok {
		if len(r.Signatures) == 0 {
			return nil, errorf(l, "min_signatures without signatures: list the keys whose signatures count")
		}
		if r.MinSignatures > len(r.Signatures) {
			return nil, errorf(l, "min_signatures: %d, but signatures lists only %d keys, so it could never be met", r.MinSignatures, len(r.Signatures))
		}
	}
	return &r, nil
}

// count decodes a small non-negative integer in [lo, hi].
func count(n *yaml.Node, what string, lo, hi int) (int, *Error) {
	v, e := decimal(n, what)
	if e != nil {
		return 0, e
	}
	if v < int64(lo) || v > int64(hi) {
		return 0, errorf(n.Line, "%s: %d is out of range; want %d to %d", what, v, lo, hi)
	}
	return int(v), nil
}

// strings1 decodes a non-empty list of distinct strings, each checked by
// check. fold makes "distinct" ASCII case-insensitive, for lists that are
// compared that way.
func strings1(n *yaml.Node, what string, maxItems int, fold bool, check func(string) string) ([]string, *Error) {
	out := make([]string, 0, len(n.Content))
	seen := map[string]int{}
	e := sequence(n, what, maxItems, func(i int, item *yaml.Node) *Error {
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
			return errorf(item.Line, "%s: %s is already listed on line %d", at, show(s), first)
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

func scanners(n *yaml.Node) ([]scannerRule, *Error) {
	var out []scannerRule
	names := map[string]int{}
	e := sequence(n, "scanners", MaxScanners, func(i int, item *yaml.Node) *Error {
		what := fmt.Sprintf("scanners[%d]", i)
		s := scannerRule{Result: "pass", Required: true}
		keys := map[string]int{}
		e := mapping(item, what, func(key string, k, v *yaml.Node) *Error {
			keys[key] = k.Line
			at := what + "." + key
			var e *Error
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
				s.Required, e = boolean(v, at)
			default:
				e = errorf(k.Line, "unknown field %s in %s (want name, result, versions or min_version, required)", show(key), what)
			}
			return e
		})
		if e != nil {
			return e
		}
		if _, ok := keys["name"]; !ok {
			return errorf(item.Line, "%s: missing name", what)
		}
		if lv, ok := keys["versions"]; ok {
			if lm, ok := keys["min_version"]; ok {
				return errorf(max(lv, lm), "%s: versions and min_version together; use one (exact versions, or a minimum)", what)
			}
		}
		out = append(out, s)
		return nil
	})
	return out, e
}

func (d *decoder) signatures(n *yaml.Node) ([]NamedKey, *Error) {
	var out []NamedKey
	names := map[string]int{}
	ders := map[string]int{}
	e := sequence(n, "signatures", MaxSignatures, func(i int, item *yaml.Node) *Error {
		what := fmt.Sprintf("signatures[%d]", i)
		var k NamedKey
		var der []byte
		keys := map[string]int{}
		keyLine := 0
		e := mapping(item, what, func(key string, kn, v *yaml.Node) *Error {
			keys[key] = kn.Line
			at := what + "." + key
			var e *Error
			switch key {
			case "name":
				k.Name, e = uniqueName(v, at, "key name", names)
			case "public_key":
				var text string
				if text, e = str(v, at); e == nil {
					keyLine = v.Line
					var why string
					if k.PEM, k.Public, der, why = parsePublicKey([]byte(text)); why != "" {
						e = errorf(v.Line, "%s: %s", at, why)
					}
				}
			case "public_key_file":
				var name string
				if name, e = str(v, at); e != nil {
					return e
				}
				keyLine = v.Line
				if why := checkText(name, 4096); why != "" || name == "" {
					if name == "" {
						why = "is empty"
					}
					return errorf(v.Line, "%s: %s %s", at, show(name), why)
				}
				if d.readKey == nil {
					return errorf(v.Line, "%s: a policy given as bytes (Parse) cannot read key files; use Load, or write the key inline as public_key", at)
				}
				data, err := d.readKey(name)
				if err != nil {
					return errorf(v.Line, "%s: cannot read %s: %v", at, show(name), err)
				}
				var why string
				if k.PEM, k.Public, der, why = parsePublicKey(data); why != "" {
					e = errorf(v.Line, "%s: %s: %s", at, show(name), why)
				}
			default:
				e = errorf(kn.Line, "unknown field %s in %s (want name and public_key or public_key_file)", show(key), what)
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
			return errorf(item.Line, "%s: missing name", what)
		case inline && file:
			return errorf(max(keys["public_key"], keys["public_key_file"]), "%s: public_key and public_key_file together; give the key once", what)
		case !inline && !file:
			return errorf(item.Line, "%s: missing public_key (inline PEM) or public_key_file", what)
		}
		// One key under two names would count twice towards
		// min_signatures, since a signature that verifies with one
		// verifies with the other.
		if first, dup := ders[string(der)]; dup {
			return errorf(keyLine, "%s: the same public key is already listed on line %d; list each key once", what, first)
		}
		ders[string(der)] = keyLine
		out = append(out, k)
		return nil
	})
	return out, e
}

// checkedStr decodes a string and refuses it with check's reason.
func checkedStr(n *yaml.Node, what string, check func(string) string) (string, *Error) {
	s, e := str(n, what)
	if e != nil {
		return "", e
	}
	if why := check(s); why != "" {
		return "", errorf(n.Line, "%s: %s %s", what, show(s), why)
	}
	return s, nil
}

// uniqueName decodes a scanner or key name and refuses one already in
// names (name -> line), where it then records it.
func uniqueName(n *yaml.Node, what, kind string, names map[string]int) (string, *Error) {
	s, e := checkedStr(n, what, checkName)
	if e != nil {
		return "", e
	}
	if first, dup := names[s]; dup {
		return "", errorf(n.Line, "%s: %s %s is already listed on line %d", what, kind, show(s), first)
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
	if why := checkText(s, 64); why != "" {
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
	if why := checkText(s, MaxNameBytes); why != "" {
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
	if why := checkText(s, MaxPatternBytes); why != "" {
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
