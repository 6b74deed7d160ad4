package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ai-model-registry/ai-model-registry/audit"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

// Every method returns the decoded answer and the JSON exactly as the
// registry sent it (for --json); the answer types are the server's own.

// Health is the /health answer.
type Health struct {
	Status       string         `json:"status"`
	AuthRequired bool           `json:"auth_required"`
	ModelCount   int            `json:"model_count"`
	TrustedCount int            `json:"trusted_count"`
	StateCounts  map[string]int `json:"state_counts"`
}

// Health returns the registry's /health answer (also when it reports an
// error with 503). The token is never sent to the unauthenticated health
// endpoint.
func (c *Client) Health(ctx context.Context) (Health, json.RawMessage, error) {
	return do[Health](ctx, c, call{method: http.MethodGet, path: "/health", answers: []int{http.StatusServiceUnavailable}})
}

func named(name string) url.Values { return url.Values{"name": {name}} }

// Models lists every artifact, in every state.
func (c *Client) Models(ctx context.Context) ([]lifecycle.Artifact, json.RawMessage, error) {
	return do[[]lifecycle.Artifact](ctx, c, call{method: http.MethodGet, path: "/v1/models", auth: true})
}

// Model returns one artifact.
func (c *Client) Model(ctx context.Context, name string) (lifecycle.Artifact, json.RawMessage, error) {
	return do[lifecycle.Artifact](ctx, c, call{method: http.MethodGet, path: "/v1/model", query: named(name), auth: true})
}

// Path returns where a runtime loads a trusted artifact from.
func (c *Client) Path(ctx context.Context, name string) (lifecycle.PathInfo, json.RawMessage, error) {
	return do[lifecycle.PathInfo](ctx, c, call{method: http.MethodGet, path: "/v1/model/path", query: named(name), auth: true})
}

// History returns an artifact's transition records as the registry
// checked them (Chain is "verified" or "broken").
func (c *Client) History(ctx context.Context, name string) (lifecycle.HistoryReport, json.RawMessage, error) {
	return do[lifecycle.HistoryReport](ctx, c, call{method: http.MethodGet, path: "/v1/model/history", query: named(name), auth: true})
}

// Verify has the registry re-hash an artifact. A failed verification (409)
// is an answer, not an error: its Status is "failed".
func (c *Client) Verify(ctx context.Context, name string) (lifecycle.VerifyResult, json.RawMessage, error) {
	res, raw, err := do[lifecycle.VerifyResult](ctx, c, call{method: http.MethodPost, path: "/v1/model/verify", query: named(name),
		auth: true, long: true, answers: []int{http.StatusConflict}})
	if err == nil && res.Status == "" {
		err = answerError(http.StatusConflict, raw)
	}
	return res, raw, err
}

// VerifyAll has the registry re-hash every artifact. A failure (409) is an
// answer: its Status is "failed".
func (c *Client) VerifyAll(ctx context.Context) (lifecycle.VerifyAllResult, json.RawMessage, error) {
	res, raw, err := do[lifecycle.VerifyAllResult](ctx, c, call{method: http.MethodPost, path: "/v1/models/verify-all",
		auth: true, long: true, answers: []int{http.StatusConflict}})
	if err == nil && res.Status == "" {
		err = answerError(http.StatusConflict, raw)
	}
	return res, raw, err
}

// answerError turns a body that was expected to be an answer but is not
// into an *Error.
func answerError(status int, raw []byte) error {
	var v struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(raw, &v)
	if v.Error == "" {
		v.Error = "unexpected answer from the registry"
	}
	return &Error{Status: status, Message: Printable(v.Error)}
}

// Acquire registers a file that is already in the registry's import
// directory (req.Filename, relative to it). The registry hashes it and
// refuses a mismatch with req.SHA256 (and req.SizeBytes when > 0).
func (c *Client) Acquire(ctx context.Context, req lifecycle.AcquireRequest) (lifecycle.Artifact, json.RawMessage, error) {
	body, n, err := jsonBody(req)
	if err != nil {
		return lifecycle.Artifact{}, nil, err
	}
	return do[lifecycle.Artifact](ctx, c, call{method: http.MethodPost, path: "/v1/model/acquire", auth: true, long: true,
		body: body, size: n, contentType: "application/json"})
}

// Quarantine moves an acquired artifact to quarantined.
func (c *Client) Quarantine(ctx context.Context, name, reason string) (lifecycle.Result, json.RawMessage, error) {
	return c.simple(ctx, http.MethodPost, "/v1/model/quarantine", name, reason)
}

// Revoke blocks an artifact from runtime use.
func (c *Client) Revoke(ctx context.Context, name, reason string) (lifecycle.Result, json.RawMessage, error) {
	return c.simple(ctx, http.MethodPost, "/v1/model/revoke", name, reason)
}

// Delete soft-deletes an artifact: its bytes go, its history stays.
func (c *Client) Delete(ctx context.Context, name, reason string) (lifecycle.Result, json.RawMessage, error) {
	return c.simple(ctx, http.MethodDelete, "/v1/model/delete", name, reason)
}

func (c *Client) simple(ctx context.Context, method, path, name, reason string) (lifecycle.Result, json.RawMessage, error) {
	q := named(name)
	if reason != "" {
		q.Set("reason", reason)
	}
	return do[lifecycle.Result](ctx, c, call{method: method, path: path, query: q, auth: true})
}

// Promote makes an artifact trusted; the registry re-hashes its bytes
// first and refuses a mismatch with req.SHA256.
func (c *Client) Promote(ctx context.Context, req lifecycle.PromoteRequest) (lifecycle.Artifact, json.RawMessage, error) {
	body, n, err := jsonBody(req)
	if err != nil {
		return lifecycle.Artifact{}, nil, err
	}
	return do[lifecycle.Artifact](ctx, c, call{method: http.MethodPost, path: "/v1/model/promote", auth: true, long: true,
		body: body, size: n, contentType: "application/json"})
}

// errNegativeSize is returned for an upload of unknown length.
var errNegativeSize = errors.New("the upload's size must be known")

// uploadQuery is the query of a streamed acquire: the request's fields,
// empty ones left out.
func uploadQuery(req lifecycle.AcquireRequest) url.Values {
	q := url.Values{"name": {req.Name}, "filename": {req.Filename}, "sha256": {req.SHA256},
		"size_bytes": {strconv.FormatInt(req.SizeBytes, 10)}}
	for k, v := range map[string]string{"source": req.Source, "source_revision": req.SourceRevision, "reason": req.Reason} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// StartIntegrityCheck starts a check of every artifact on the registry (it
// writes the registry's integrity result when done) and returns its job;
// if one is already running, that one.
func (c *Client) StartIntegrityCheck(ctx context.Context) (lifecycle.Job, json.RawMessage, error) {
	return do[lifecycle.Job](ctx, c, call{method: http.MethodPost, path: "/v1/integrity/run", query: url.Values{"async": {"1"}}, auth: true})
}

// Job returns a background job's status.
func (c *Client) Job(ctx context.Context, id string) (lifecycle.Job, json.RawMessage, error) {
	return do[lifecycle.Job](ctx, c, call{method: http.MethodGet, path: "/v1/jobs/" + url.PathEscape(id), auth: true})
}

// IntegrityStatus returns the last integrity result as the registry serves
// it (status "unknown" before the first check).
func (c *Client) IntegrityStatus(ctx context.Context) (json.RawMessage, error) {
	_, raw, err := do[map[string]any](ctx, c, call{method: http.MethodGet, path: "/v1/integrity/status", auth: true})
	return raw, err
}

// Lock returns the trusted set as models.lock.yaml, byte for byte as the
// registry wrote it.
func (c *Client) Lock(ctx context.Context) ([]byte, error) {
	_, b, err := c.send(ctx, call{method: http.MethodGet, path: "/v1/lock", auth: true})
	return b, err
}

// PolicyCheck dry-runs the registry's promotion policy against an
// artifact with the evidence req carries (only name is required).
func (c *Client) PolicyCheck(ctx context.Context, req lifecycle.PromoteRequest) (lifecycle.PolicyCheck, json.RawMessage, error) {
	body, n, err := jsonBody(req)
	if err != nil {
		return lifecycle.PolicyCheck{}, nil, err
	}
	return do[lifecycle.PolicyCheck](ctx, c, call{method: http.MethodPost, path: "/v1/model/policy-check", auth: true, long: true,
		body: body, size: n, contentType: "application/json"})
}

// Policy returns the promotion policy in force, as YAML.
func (c *Client) Policy(ctx context.Context) ([]byte, error) {
	_, b, err := c.send(ctx, call{method: http.MethodGet, path: "/v1/policy", auth: true})
	return b, err
}

// Keys returns the public keys that verify the registry's attestations,
// PEM, current first. No token is sent.
func (c *Client) Keys(ctx context.Context) ([]byte, error) {
	_, b, err := c.send(ctx, call{method: http.MethodGet, path: "/v1/keys"})
	return b, err
}

// KeyRotation is the answer to a key rotation.
type KeyRotation struct {
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"`
}

// RotateKey makes the registry sign with a new key from now on.
func (c *Client) RotateKey(ctx context.Context) (KeyRotation, json.RawMessage, error) {
	return do[KeyRotation](ctx, c, call{method: http.MethodPost, path: "/v1/keys/rotate", auth: true})
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Entries []audit.Entry `json:"entries"`
	Next    uint64        `json:"next,omitempty"` // the from of the next page; 0 at the end
}

// Audit returns up to limit audit entries from sequence number from.
func (c *Client) Audit(ctx context.Context, from uint64, limit int) (AuditPage, json.RawMessage, error) {
	q := url.Values{"from": {strconv.FormatUint(from, 10)}, "limit": {strconv.Itoa(limit)}}
	return do[AuditPage](ctx, c, call{method: http.MethodGet, path: "/v1/audit", query: q, auth: true})
}
