package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Probe is the registry's answer to an unauthenticated GET, whatever its
// status, for diagnosis (securectl doctor).
type Probe struct {
	Status int
	// Date is the registry's clock as its Date header gives it (to the
	// second); zero if it sent none or an invalid one.
	Date time.Time
	// Sent and Received bracket the request on the local clock.
	Sent, Received time.Time
	Body           []byte // at most 64 KiB
}

// Probe sends GET path (e.g. "/health", "/ready") without the token and
// returns the answer whatever its status; only failing to reach the
// registry is an error.
func (c *Client) Probe(ctx context.Context, path string) (Probe, error) {
	u := *c.base
	u.Path += path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Probe{}, err
	}
	req.Header.Set("Accept", "application/json")
	p := Probe{Sent: time.Now()}
	resp, err := c.short.Do(req)
	p.Received = time.Now()
	if err != nil {
		return p, fmt.Errorf("cannot reach the registry at %s: %w", c.base.Redacted(), err)
	}
	defer resp.Body.Close()
	p.Status = resp.StatusCode
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		p.Date = d
	}
	p.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return p, fmt.Errorf("reading the registry's answer to GET %s: %w", path, err)
	}
	return p, nil
}
