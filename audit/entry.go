package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Result values: the only three an entry may hold.
const (
	ResultOK      = "ok"
	ResultRefused = "refused"
	ResultFailed  = "failed"
)

// Who values for actions not taken with a token.
const (
	WhoSystem    = "system"
	WhoAnonymous = "anonymous"
)

// Actions the registry records. Any action of [a-z][a-z0-9_.-]* up to
// MaxAction bytes is accepted; these are the ones in use.
const (
	ActionAcquire          = "acquire"
	ActionQuarantine       = "quarantine"
	ActionPromote          = "promote"
	ActionRevoke           = "revoke"
	ActionDelete           = "delete"
	ActionIntegrityFailure = "integrity_failure"
	ActionPush             = "push"
	ActionTag              = "tag"
	ActionAuthFailure      = "auth_failure"
)

// Field limits in bytes of UTF-8. Append cuts a longer field at a rune
// boundary and ends it with "..." (an event is never dropped for a long
// reason); a line holding a longer field is not one this package wrote.
const (
	MaxWho        = 128
	MaxAction     = 64
	MaxName       = 256
	MaxRepository = 256
	MaxDigest     = 160
	MaxState      = 32
	MaxDetail     = 512
)

// MaxLineBytes bounds one line, newline included. Every field at its
// limit, each byte escaped to six, stays well below it (TestMaxLine).
const MaxLineBytes = 16 << 10

// ZeroHash is the Prev of the first entry of a log.
const ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// timeLayout is RFC 3339 in UTC with exactly nine fraction digits: fixed
// width, so the text sorts as the time does and has one spelling.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// hashSuffixLen is len(`,"hash":"` + 64 hex digits + `"}`).
const hashSuffixLen = 9 + 64 + 2

// Entry is one audit record. It holds names, digests and state names:
// never an artifact, a request body, a token or any other secret.
type Entry struct {
	Seq        uint64    `json:"seq"`        // from 1, continuous across files
	Time       time.Time `json:"time"`       // set by Append, UTC
	Who        string    `json:"who"`        // token name or fingerprint, WhoSystem, WhoAnonymous
	Action     string    `json:"action"`     // ActionPromote, ...
	Name       string    `json:"name"`       // model name, if any
	Repository string    `json:"repository"` // OCI repository, if any
	Digest     string    `json:"digest"`     // artifact digest, if any
	From       string    `json:"from"`       // lifecycle state before, if a transition
	To         string    `json:"to"`         // lifecycle state after, if a transition
	Result     string    `json:"result"`     // ResultOK, ResultRefused, ResultFailed
	Detail     string    `json:"detail"`     // short reason
	Prev       string    `json:"prev"`       // Hash of the previous entry, ZeroHash for seq 1
	Hash       string    `json:"hash"`       // SHA-256 of the canonical encoding, hex
}

// normalize checks what a caller must get right and bounds the rest. The
// fields Append fills are cleared.
func normalize(e Entry) (Entry, error) {
	if !validAction(e.Action) {
		return Entry{}, fmt.Errorf("%w: action %q: want [a-z][a-z0-9_.-]*, at most %d bytes", ErrInvalid, clip(e.Action, 40), MaxAction)
	}
	if !validResult(e.Result) {
		return Entry{}, fmt.Errorf("%w: result %q: want ok, refused or failed", ErrInvalid, clip(e.Result, 40))
	}
	if e.Who == "" {
		return Entry{}, fmt.Errorf("%w: empty who: use %q or %q when no token was used", ErrInvalid, WhoSystem, WhoAnonymous)
	}
	e.Who = clip(e.Who, MaxWho)
	e.Name = clip(e.Name, MaxName)
	e.Repository = clip(e.Repository, MaxRepository)
	e.Digest = clip(e.Digest, MaxDigest)
	e.From = clip(e.From, MaxState)
	e.To = clip(e.To, MaxState)
	e.Detail = clip(e.Detail, MaxDetail)
	e.Seq, e.Time, e.Prev, e.Hash = 0, time.Time{}, "", ""
	return e, nil
}

// clip makes s valid UTF-8 of at most max bytes.
func clip(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func validAction(a string) bool {
	if a == "" || len(a) > MaxAction || a[0] < 'a' || a[0] > 'z' {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func validResult(r string) bool {
	return r == ResultOK || r == ResultRefused || r == ResultFailed
}

// appendBody appends the canonical encoding of e without its closing
// brace: everything the hash covers but the final "}".
func appendBody(b []byte, e *Entry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, `","who":`...)
	b = appendString(b, e.Who)
	b = append(b, `,"action":`...)
	b = appendString(b, e.Action)
	b = append(b, `,"name":`...)
	b = appendString(b, e.Name)
	b = append(b, `,"repository":`...)
	b = appendString(b, e.Repository)
	b = append(b, `,"digest":`...)
	b = appendString(b, e.Digest)
	b = append(b, `,"from":`...)
	b = appendString(b, e.From)
	b = append(b, `,"to":`...)
	b = appendString(b, e.To)
	b = append(b, `,"result":`...)
	b = appendString(b, e.Result)
	b = append(b, `,"detail":`...)
	b = appendString(b, e.Detail)
	b = append(b, `,"prev":"`...)
	b = append(b, e.Prev...)
	return append(b, '"')
}

// appendEntry appends e's line (newline included) and sets e.Hash.
func appendEntry(b []byte, e *Entry) []byte {
	start := len(b)
	b = appendBody(b, e)
	e.Hash = bodyHash(b[start:])
	b = append(b, `,"hash":"`...)
	b = append(b, e.Hash...)
	return append(b, "\"}\n"...)
}

// bodyHash is the hex SHA-256 of body + "}": of the canonical encoding.
func bodyHash(body []byte) string {
	h := sha256.New()
	h.Write(body)
	h.Write([]byte{'}'})
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string in the one spelling this
// package allows: printable ASCII as itself except `"` and `\` (`\"`,
// `\\`); every other code point as \u and four lowercase hex digits (a
// UTF-16 surrogate pair above U+FFFF). A line is therefore printable
// ASCII: a client's text can neither end it nor reach a terminal as a
// control sequence. s must be valid UTF-8 (normalize sees to it).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r < 0x10000:
			b = appendU(b, r)
		default:
			r1, r2 := utf16.EncodeRune(r)
			b = appendU(appendU(b, r1), r2)
		}
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
