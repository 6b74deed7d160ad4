package oci

import (
	"errors"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
)

// wantCode fails unless err is an *Error with the given code and status.
func wantCode(t *testing.T, err error, code Code, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s (%d)", code, status)
	}
	var oe *Error
	if !errors.As(err, &oe) {
		t.Fatalf("got %T %v, want *oci.Error %s", err, err, code)
	}
	if oe.Code != code || oe.Status != status {
		t.Fatalf("got %s (%d) %q, want %s (%d)", oe.Code, oe.Status, oe.Message, code, status)
	}
	if oe.Message == "" {
		t.Errorf("%s error has an empty message", oe.Code)
	}
}

// component returns a valid name component of n bytes.
func component(n int) string { return strings.Repeat("a", n) }

func TestValidateName(t *testing.T) {
	// 255 bytes: 127 "a"s, "/", 127 "b"s.
	longest := component(127) + "/" + strings.Repeat("b", 127)
	if len(longest) != MaxNameLength {
		t.Fatalf("test setup: longest is %d bytes", len(longest))
	}
	valid := []string{
		"a",
		"a/b",
		"a-b__c.d/e",
		"0",
		"library/ubuntu",
		"a--b/c_d/e.f/g",
		"org/team/model/v1",
		"a/blobs",       // components named like API path segments are fine
		"a/manifests/b", // the router matches the API suffix from the end
		longest,
		component(MaxNameLength),
	}
	for _, name := range valid {
		t.Run("valid/"+truncate(name), func(t *testing.T) {
			if err := ValidateName(name); err != nil {
				t.Fatalf("ValidateName(%q) = %v, want nil", name, err)
			}
		})
	}

	invalid := map[string]string{
		"empty":                   "",
		"upper case":              "Library/ubuntu",
		"upper case component":    "a/B",
		"dot dot":                 "..",
		"dot":                     ".",
		"dot dot component":       "a/../b",
		"dot component":           "a/./b",
		"trailing dot dot":        "a/..",
		"leading slash":           "/a",
		"trailing slash":          "a/",
		"only slash":              "/",
		"double slash":            "a//b",
		"leading underscore":      "_a",
		"underscore component":    "a/_layout",
		"underscore index log":    "a/_index.log",
		"leading dash":            "-a",
		"trailing dash":           "a-",
		"leading dot":             ".a",
		"trailing dot":            "a.",
		"double dot separator":    "a..b",
		"triple underscore":       "a___b",
		"dot dash":                "a.-b",
		"too long":                component(MaxNameLength + 1),
		"too long with slashes":   longest + "c",
		"unicode":                 "modèle",
		"unicode lookalike slash": "a∕b",
		"fullwidth":               "ａ",
		"NUL":                     "a\x00b",
		"trailing NUL":            "a\x00",
		"newline":                 "a\nb",
		"space":                   "a b",
		"percent encoded dots":    "%2e%2e",
		"percent encoded slash":   "a%2fb",
		"backslash":               `a\b`,
		"windows traversal":       `..\a`,
		"colon":                   "a:b",
		"at":                      "a@sha256",
		"tilde":                   "~a",
	}
	for why, name := range invalid {
		t.Run("invalid/"+why, func(t *testing.T) {
			wantCode(t, ValidateName(name), CodeNameInvalid, http.StatusBadRequest)
		})
	}
}

func TestValidateTag(t *testing.T) {
	valid := []string{
		"latest",
		"v1.0.0",
		"_underscore",
		"0",
		"A-Z_a.z-09",
		"sha256-" + strings.Repeat("a", 64), // referrers tag schema
		strings.Repeat("t", 128),
	}
	for _, tag := range valid {
		t.Run("valid/"+truncate(tag), func(t *testing.T) {
			if err := ValidateTag(tag); err != nil {
				t.Fatalf("ValidateTag(%q) = %v, want nil", tag, err)
			}
		})
	}
	invalid := map[string]string{
		"empty":         "",
		"129 chars":     strings.Repeat("t", 129),
		"leading dot":   ".hidden",
		"leading dash":  "-rf",
		"slash":         "a/b",
		"dot dot slash": "../a",
		"colon":         "a:b",
		"space":         "a b",
		"unicode":       "tàg",
		"NUL":           "a\x00",
		"newline":       "a\n",
		"plus":          "1.0+build",
		"at":            "a@b",
	}
	for why, tag := range invalid {
		t.Run("invalid/"+why, func(t *testing.T) {
			wantCode(t, ValidateTag(tag), CodeManifestInvalid, http.StatusBadRequest)
		})
	}
}

var (
	hex64  = strings.Repeat("0123456789abcdef", 4)
	hex128 = strings.Repeat("0123456789abcdef", 8)
)

func TestParseDigest(t *testing.T) {
	valid := []string{
		"sha256:" + hex64,
		"sha512:" + hex128,
		digest.FromString("hello").String(),
		digest.SHA512.FromString("hello").String(),
	}
	for _, s := range valid {
		t.Run("valid/"+truncate(s), func(t *testing.T) {
			d, err := ParseDigest(s)
			if err != nil {
				t.Fatalf("ParseDigest(%q) = %v, want nil", s, err)
			}
			if d.String() != s {
				t.Fatalf("ParseDigest(%q) = %q, want it unchanged", s, d)
			}
			if err := d.Validate(); err != nil {
				t.Fatalf("go-digest rejects accepted digest %q: %v", s, err)
			}
		})
	}
	invalid := map[string]string{
		"empty":                "",
		"no colon":             "sha256" + hex64,
		"only colon":           ":",
		"empty hex":            "sha256:",
		"empty algorithm":      ":" + hex64,
		"uppercase hex":        "sha256:" + strings.ToUpper(hex64),
		"one uppercase char":   "sha256:A" + hex64[1:],
		"uppercase algorithm":  "SHA256:" + hex64,
		"too short":            "sha256:" + hex64[:63],
		"too long":             "sha256:" + hex64 + "0",
		"sha512 length 64":     "sha512:" + hex64,
		"sha256 length 128":    "sha256:" + hex128,
		"md5":                  "md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha384":               "sha384:" + strings.Repeat("0", 96),
		"blake3":               "blake3:" + hex64,
		"non hex g":            "sha256:" + hex64[:63] + "g",
		"non hex leading g":    "sha256:g" + hex64[1:],
		"two colons":           "sha256:" + hex64[:30] + ":" + hex64[31:],
		"path traversal":       "sha256:../../../../etc/passwd",
		"slash in hex":         "sha256:" + hex64[:32] + "/" + hex64[33:],
		"NUL in hex":           "sha256:" + hex64[:63] + "\x00",
		"leading space":        " sha256:" + hex64,
		"trailing newline":     "sha256:" + hex64 + "\n",
		"algorithm with plus":  "sha256+b64:" + hex64,
		"percent encoded hex":  "sha256:%2e%2e" + hex64[6:],
		"unicode digit in hex": "sha256:" + hex64[:61] + "٣",
	}
	for why, s := range invalid {
		t.Run("invalid/"+why, func(t *testing.T) {
			d, err := ParseDigest(s)
			wantCode(t, err, CodeDigestInvalid, http.StatusBadRequest)
			if d != "" {
				t.Errorf("ParseDigest(%q) returned %q with its error", s, d)
			}
		})
	}
}

func TestParseAlgorithm(t *testing.T) {
	for _, s := range []string{"sha256", "sha512"} {
		if a, err := ParseAlgorithm(s); err != nil || a.String() != s {
			t.Errorf("ParseAlgorithm(%q) = %q, %v", s, a, err)
		}
	}
	for _, s := range []string{"", "md5", "sha384", "SHA256", "sha256 "} {
		_, err := ParseAlgorithm(s)
		wantCode(t, err, CodeDigestInvalid, http.StatusBadRequest)
	}
}

func TestParseReference(t *testing.T) {
	d256 := "sha256:" + hex64
	d512 := "sha512:" + hex128
	tests := []struct {
		in         string
		wantTag    string
		wantDigest digest.Digest
		wantCode   Code // "" when valid
	}{
		{in: "latest", wantTag: "latest"},
		{in: "v1.2.3", wantTag: "v1.2.3"},
		{in: strings.Repeat("x", 128), wantTag: strings.Repeat("x", 128)},
		{in: d256, wantDigest: digest.Digest(d256)},
		{in: d512, wantDigest: digest.Digest(d512)},
		{in: "", wantCode: CodeManifestInvalid},
		{in: strings.Repeat("x", 129), wantCode: CodeManifestInvalid},
		{in: ".latest", wantCode: CodeManifestInvalid},
		{in: "-latest", wantCode: CodeManifestInvalid},
		{in: "a/b", wantCode: CodeManifestInvalid},
		{in: "..", wantCode: CodeManifestInvalid},
		// A colon makes it a digest, so these are DIGEST_INVALID.
		{in: "latest:1", wantCode: CodeDigestInvalid},
		{in: "sha256:" + strings.ToUpper(hex64), wantCode: CodeDigestInvalid},
		{in: "sha256:" + hex64[:63] + "g", wantCode: CodeDigestInvalid},
		{in: "md5:d41d8cd98f00b204e9800998ecf8427e", wantCode: CodeDigestInvalid},
		{in: "sha256:", wantCode: CodeDigestInvalid},
	}
	for _, tt := range tests {
		t.Run(truncate(tt.in), func(t *testing.T) {
			ref, err := ParseReference(tt.in)
			if tt.wantCode != "" {
				wantCode(t, err, tt.wantCode, http.StatusBadRequest)
				if ref != (Reference{}) {
					t.Errorf("ParseReference(%q) returned %+v with its error", tt.in, ref)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference(%q) = %v, want nil", tt.in, err)
			}
			if ref.Tag != tt.wantTag || ref.Digest != tt.wantDigest {
				t.Fatalf("ParseReference(%q) = %+v, want tag %q digest %q", tt.in, ref, tt.wantTag, tt.wantDigest)
			}
			if ref.String() != tt.in {
				t.Errorf("Reference.String() = %q, want %q", ref.String(), tt.in)
			}
		})
	}
}

func TestErrorIs(t *testing.T) {
	err := Errorf(CodeBlobUnknown, "blob %s missing", "x")
	if !errors.Is(err, ErrBlobUnknown) {
		t.Errorf("errors.Is(%v, ErrBlobUnknown) = false", err)
	}
	if errors.Is(err, ErrManifestUnknown) {
		t.Errorf("errors.Is(%v, ErrManifestUnknown) = true", err)
	}
	if got := err.WithStatus(http.StatusRequestedRangeNotSatisfiable); got.Status != 416 || err.Status != http.StatusNotFound {
		t.Errorf("WithStatus changed the original (%d) or did not set the copy (%d)", err.Status, got.Status)
	}
	for code, status := range map[Code]int{
		CodeBlobUnknown:       404,
		CodeBlobUploadUnknown: 404,
		CodeManifestUnknown:   404,
		CodeNameUnknown:       404,
		CodeUnauthorized:      401,
		CodeDenied:            403,
		CodeUnsupported:       405,
		CodeTooManyRequests:   429,
		CodeDigestInvalid:     400,
		CodeNameInvalid:       400,
		CodeManifestInvalid:   400,
		CodeSizeInvalid:       400,
	} {
		if got := StatusOf(code); got != status {
			t.Errorf("StatusOf(%s) = %d, want %d", code, got, status)
		}
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("x", 1000)
	if got := truncate(long); len(got) > 100 {
		t.Errorf("truncate kept %d bytes", len(got))
	}
	err := ValidateName(strings.Repeat("A", 100000))
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("error message for a huge name is %d bytes; hostile input must not fill logs", len(err.Error()))
	}
}

// specTag is the tag grammar of the distribution spec, written out
// independently of the implementation.
var specTag = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// FuzzParseReference: never panics; accepted tags match the spec grammar;
// accepted digests are canonical for go-digest. Seeds are in
// testdata/fuzz/FuzzParseReference.
func FuzzParseReference(f *testing.F) {
	f.Add("latest")
	f.Add("sha256:" + hex64)
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) || (oe.Code != CodeManifestInvalid && oe.Code != CodeDigestInvalid) || oe.Status != 400 {
				t.Fatalf("rejection of %q is not a 400 spec error: %#v", s, err)
			}
			return
		}
		if (ref.Tag == "") == (ref.Digest == "") {
			t.Fatalf("ParseReference(%q) = %+v: want exactly one of tag and digest", s, ref)
		}
		if ref.String() != s {
			t.Fatalf("ParseReference(%q).String() = %q", s, ref.String())
		}
		if ref.Tag != "" && !specTag.MatchString(ref.Tag) {
			t.Fatalf("accepted tag %q does not match the spec grammar", ref.Tag)
		}
		if ref.Digest != "" {
			d, err := digest.Parse(s)
			if err != nil || d != ref.Digest || d.Validate() != nil {
				t.Fatalf("accepted digest %q does not round-trip through go-digest: %v", s, err)
			}
			if a := d.Algorithm(); a != digest.SHA256 && a != digest.SHA512 {
				t.Fatalf("accepted digest %q has algorithm %s", s, a)
			}
		}
	})
}

// FuzzValidateName: an accepted name is safe to use as a relative path
// under repos/ with "_"-prefixed siblings. Seeds are in
// testdata/fuzz/FuzzValidateName.
func FuzzValidateName(f *testing.F) {
	f.Add("a/b")
	f.Add("a/../b")
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateName(name)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) || oe.Code != CodeNameInvalid || oe.Status != 400 {
				t.Fatalf("rejection of %q is not NAME_INVALID 400: %#v", name, err)
			}
			return
		}
		switch {
		case len(name) > MaxNameLength:
			t.Fatalf("accepted a %d-byte name", len(name))
		case strings.Contains(name, ".."):
			t.Fatalf("accepted %q containing ..", name)
		case strings.Contains(name, "//"):
			t.Fatalf("accepted %q containing //", name)
		case strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/"):
			t.Fatalf("accepted %q with a leading or trailing /", name)
		case path.Clean(name) != name:
			t.Fatalf("accepted %q, which path.Clean changes to %q", name, path.Clean(name))
		}
		for _, c := range strings.Split(name, "/") {
			if c == "" || c == "." || strings.HasPrefix(c, "_") {
				t.Fatalf("accepted %q with component %q", name, c)
			}
		}
		for i := 0; i < len(name); i++ {
			if c := name[i]; c >= utf8.RuneSelf || c < 0x21 || c == '\\' || (c >= 'A' && c <= 'Z') {
				t.Fatalf("accepted %q with byte %#x", name, c)
			}
		}
	})
}
