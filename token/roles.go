package token

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Role is what a named token may do. Each role includes reading.
type Role string

const (
	// Reader pulls anything (the quarantine scanners) and reads /v1.
	Reader Role = "reader"
	// Pusher also pushes and acquires artifacts, which start acquired.
	Pusher Role = "pusher"
	// Promoter also quarantines, promotes and revokes.
	Promoter Role = "promoter"
	// Admin may do everything, delete included; the service token is one.
	Admin Role = "admin"
)

// Roles lists the roles, least powerful first.
var Roles = []Role{Reader, Pusher, Promoter, Admin}

// Named is one token of a tokens file. Only its SHA-256 is kept.
type Named struct {
	Name string
	Role Role
	sum  [sha256.Size]byte
}

// Set is the named tokens of a tokens file.
type Set struct {
	tokens []Named
}

// Len is the number of tokens in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.tokens)
}

// Match finds the token whose hash is SHA-256(secret). Every entry is
// compared, in constant time, so neither the position of a match nor the
// length of a prefix leaks through timing.
func (s *Set) Match(secret string) (Named, bool) {
	if s == nil {
		return Named{}, false
	}
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], s.tokens[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Named{}, false
	}
	return s.tokens[found], true
}

// Hash is the form a token is stored in a tokens file.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// MaxTokensFile caps the tokens file.
const MaxTokensFile = 1 << 20

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// reserved names are what lifecycle records use for callers that are not
// named tokens.
var reserved = []string{"system", "anonymous", "dev-mode", "token", "service"}

// LoadFile reads a tokens file with the same file rules as the service
// token (regular file, not writable by group or others).
func LoadFile(path string) (*Set, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist", path)
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s is writable by group or others (mode %v); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxTokensFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxTokensFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxTokensFile)
	}
	s, err := ParseFile(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// tokensFile is the file's shape:
//
//	version: 1
//	tokens:
//	  - name: scanner-1
//	    role: reader
//	    sha256: "<64 hex: sha256 of the token>"
type tokensFile struct {
	Version int `yaml:"version"`
	Tokens  []struct {
		Name   string `yaml:"name"`
		Role   Role   `yaml:"role"`
		SHA256 string `yaml:"sha256"`
	} `yaml:"tokens"`
}

// ParseFile decodes a tokens file strictly: unknown fields, duplicate
// keys, a second document, an unknown role, a malformed or repeated hash
// or name are errors naming the line where yaml can.
func ParseFile(data []byte) (*Set, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f tokensFile
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty tokens file; it needs version: 1 and a tokens list")
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("a tokens file holds one YAML document")
	}
	if f.Version != 1 {
		return nil, fmt.Errorf("version %d: want version: 1", f.Version)
	}
	s := &Set{}
	names, sums := map[string]bool{}, map[string]bool{}
	for i, t := range f.Tokens {
		where := fmt.Sprintf("tokens[%d]", i)
		switch {
		case !nameRE.MatchString(t.Name):
			return nil, fmt.Errorf("%s: name %q: use 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", where, t.Name)
		case slices.Contains(reserved, t.Name):
			return nil, fmt.Errorf("%s: name %q is reserved", where, t.Name)
		case names[t.Name]:
			return nil, fmt.Errorf("%s: name %q is listed twice", where, t.Name)
		case !slices.Contains(Roles, t.Role):
			return nil, fmt.Errorf("%s (%s): role %q: use one of reader, pusher, promoter, admin", where, t.Name, t.Role)
		}
		raw, err := hex.DecodeString(t.SHA256)
		if err != nil || len(raw) != sha256.Size || strings.ToLower(t.SHA256) != t.SHA256 {
			return nil, fmt.Errorf("%s (%s): sha256 must be 64 lowercase hex digits: the SHA-256 of the token (securectl token new prints it)", where, t.Name)
		}
		if sums[t.SHA256] {
			return nil, fmt.Errorf("%s (%s): the same token is listed twice", where, t.Name)
		}
		names[t.Name], sums[t.SHA256] = true, true
		n := Named{Name: t.Name, Role: t.Role}
		copy(n.sum[:], raw)
		s.tokens = append(s.tokens, n)
	}
	return s, nil
}
