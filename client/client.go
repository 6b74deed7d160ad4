// Package client talks to a running registry for securectl. It refuses to
// send the service token anywhere it could leak: plain http only to a
// loopback host, no redirects, no credentials in URLs, no proxy for plain
// http, bounded responses. It never logs or returns the token.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/ai-model-registry/ai-model-registry/token"
)

const (
	// maxResponse caps what the client reads from one response.
	maxResponse = 8 << 20
	// maxErrorBody caps what is read of an error answer.
	maxErrorBody = 64 << 10
	// maxMessage caps a server message shown to the user.
	maxMessage = 1024
	// requestTimeout bounds a whole ordinary request (answers from the
	// catalog, never from hashing).
	requestTimeout = 5 * time.Minute
	// dialTimeout bounds connecting and the TLS handshake, for every request.
	dialTimeout = 10 * time.Second
	// uploadIdleTimeout cancels an upload whose body has not moved for this
	// long (the registry stopped reading).
	uploadIdleTimeout = 2 * time.Minute
)

// Client is a registry API client.
type Client struct {
	base      *url.URL
	tokenPath string
	explicit  bool // the token path was configured, so failing to read it is an error
	// short serves ordinary requests, with a total timeout. long serves the
	// requests during which the registry hashes or receives a whole model
	// (acquire, promote, verify, verify-all): they may rightly take longer
	// than any fixed bound, so only connecting is bounded and the caller's
	// context (Ctrl-C) ends them.
	short, long *http.Client
	uploadIdle  time.Duration
}

// New returns a client for the registry at rawURL. tokenPath is where the
// service token lives; explicit says the user configured it.
func New(rawURL, tokenPath string, explicit bool) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REGISTRY_URL %q: %w", rawURL, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("REGISTRY_URL %q must not contain credentials, a query or a fragment", rawURL)
	}
	proxy := http.ProxyFromEnvironment // https only: the token stays inside TLS through a CONNECT tunnel
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("REGISTRY_URL %q: plain http is only allowed to a loopback address; use https", rawURL)
		}
		proxy = nil // a proxy would see the token in clear
	default:
		return nil, fmt.Errorf("REGISTRY_URL %q: use http://127.0.0.1:PORT or https://HOST", rawURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("REGISTRY_URL %q has no host", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	tr := &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   dialTimeout,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 2 * time.Second,
	}
	// Never follow a redirect: it could carry the token elsewhere.
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		base:       u,
		tokenPath:  tokenPath,
		explicit:   explicit,
		short:      &http.Client{Transport: tr, Timeout: requestTimeout, CheckRedirect: noRedirect},
		long:       &http.Client{Transport: tr, CheckRedirect: noRedirect},
		uploadIdle: uploadIdleTimeout,
	}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Error is an error answer from the registry.
type Error struct {
	Status  int
	Code    string // the OCI error code, for /v2 answers
	Message string // the registry's message, cleaned of control characters
	// TokenSent says whether the request carried the service token.
	TokenSent bool
	tokenPath string
	tokenErr  string // why no token was sent, when it was not
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// Hint returns advice for an authentication failure, or "".
func (e *Error) Hint() string {
	if e.Status != http.StatusUnauthorized {
		return ""
	}
	if e.TokenSent {
		return fmt.Sprintf("the registry refused the token in %s; check SERVICE_TOKEN_PATH points at this registry's service token", e.tokenPath)
	}
	return fmt.Sprintf("no service token was sent (%s); set SERVICE_TOKEN_PATH to the registry's service token file", e.tokenErr)
}

// call is one request to the registry.
type call struct {
	method, path string
	query        url.Values
	auth         bool
	long         bool // no total timeout: the registry hashes or receives a whole model
	body         io.Reader
	size         int64 // Content-Length of body
	contentType  string
	// answers are error statuses whose body is still an answer of the
	// expected shape (verify's 409 "failed").
	answers []int
}

// send performs c and returns the status and the (bounded) body of a
// successful answer, or an *Error.
func (c *Client) send(ctx context.Context, cl call) (int, []byte, error) {
	u := *c.base
	u.Path += cl.path
	u.RawQuery = cl.query.Encode()
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), nil)
	if err != nil {
		return 0, nil, err
	}
	if cl.body != nil {
		req.Body, req.ContentLength = io.NopCloser(cl.body), cl.size
		if cl.size == 0 {
			req.Body = http.NoBody
		}
		req.Header.Set("Content-Type", cl.contentType)
		if cl.size > 1<<20 {
			// A refusal (auth, name taken) then costs no upload.
			req.Header.Set("Expect", "100-continue")
		}
	}
	req.Header.Set("Accept", "application/json")
	sent, tokenErr := false, ""
	if cl.auth {
		tok, err := token.Read(c.tokenPath)
		switch {
		case err == nil:
			req.Header.Set("Authorization", "Bearer "+tok)
			sent = true
		case c.explicit:
			return 0, nil, fmt.Errorf("SERVICE_TOKEN_PATH: %w", err)
		default:
			tokenErr = err.Error()
		}
	}
	hc := c.short
	if cl.long {
		hc = c.long
	}
	resp, err := hc.Do(req)
	if err != nil {
		switch cause := context.Cause(ctx); {
		case errors.Is(cause, context.Canceled):
			return 0, nil, fmt.Errorf("interrupted: %w", cause)
		case cause != nil: // the upload watchdog, or the caller's deadline
			return 0, nil, fmt.Errorf("%s %s: %w", cl.method, cl.path, cause)
		}
		return 0, nil, fmt.Errorf("cannot reach the registry at %s: %w", c.base.Redacted(), err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	for _, s := range cl.answers {
		ok = ok || resp.StatusCode == s
	}
	if !ok {
		e := decodeError(resp)
		e.TokenSent, e.tokenPath, e.tokenErr = sent, c.tokenPath, tokenErr
		return 0, nil, e
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the registry's answer to %s %s: %w", cl.method, cl.path, err)
	}
	if len(b) > maxResponse {
		return 0, nil, fmt.Errorf("the registry's answer to %s %s exceeds %d MiB", cl.method, cl.path, maxResponse>>20)
	}
	return resp.StatusCode, b, nil
}

func decodeError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
	var oci struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	var v1 struct {
		Error string `json:"error"`
	}
	switch {
	case json.Unmarshal(b, &oci) == nil && len(oci.Errors) > 0:
		e.Code, e.Message = oci.Errors[0].Code, oci.Errors[0].Message
	case json.Unmarshal(b, &v1) == nil && v1.Error != "":
		e.Message = v1.Error
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	e.Code, e.Message = Printable(e.Code), Printable(e.Message)
	return e
}

// Printable makes a string from the network safe to print on a terminal:
// control and bidi characters are escaped (so no escape sequence or
// reordering reaches the terminal), and the length is capped near 1 KiB.
func Printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxMessage {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			fmt.Fprintf(&b, "\\u%04x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// do sends cl and decodes the answer into T. It also returns the answer as
// the registry sent it, for callers that print the raw JSON.
func do[T any](ctx context.Context, c *Client, cl call) (T, json.RawMessage, error) {
	var v T
	status, raw, err := c.send(ctx, cl)
	if err != nil {
		return v, nil, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, nil, fmt.Errorf("the registry sent invalid JSON for %s %s (HTTP %d): %w", cl.method, cl.path, status, err)
	}
	return v, raw, nil
}

// jsonBody encodes v as a request body.
func jsonBody(v any) (io.Reader, int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, 0, err
	}
	return bytes.NewReader(b), int64(len(b)), nil
}
