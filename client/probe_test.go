package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProbe: any status is an answer, with the server's clock; the token
// is never sent; only an unreachable registry is an error.
func TestProbe(t *testing.T) {
	date := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("%s got a token", r.URL.Path)
		}
		w.Header().Set("Date", date.Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Repeat("x", maxErrorBody+10)))
	}))
	defer srv.Close()
	c, err := New(srv.URL, writeToken(t, strings.Repeat("a", 40)), true)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Probe(context.Background(), "/ready")
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusServiceUnavailable || !p.Date.Equal(date) || len(p.Body) != maxErrorBody ||
		p.Sent.IsZero() || p.Received.Before(p.Sent) {
		t.Fatalf("probe: status %d, date %v, %d body bytes, sent %v, received %v", p.Status, p.Date, len(p.Body), p.Sent, p.Received)
	}
	srv.Close()
	if _, err := c.Probe(context.Background(), "/health"); err == nil || !strings.Contains(err.Error(), "cannot reach the registry") {
		t.Fatalf("closed server: %v", err)
	}
}
