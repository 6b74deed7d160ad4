// Package client talks to a running registry for securectl. It refuses to
// send the service token anywhere it could leak: plain http only to a
// loopback host, no redirects, no credentials in URLs, bounded responses.
package client

import (
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

	"github.com/ai-model-registry/ai-model-registry/token"
)

// maxResponse caps what the client reads from one response.
const maxResponse = 8 << 20

// Client is a registry API client.
type Client struct {
	base      *url.URL
	tokenPath string
	explicit  bool // the token path was configured, so failing to read it is an error
	http      *http.Client
}

// New returns a client for the registry at rawURL. tokenPath is where the
// service token lives; explicit says the user configured it.
func New(rawURL, tokenPath string, explicit bool) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REGISTRY_URL %q: %w", rawURL, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("REGISTRY_URL %q must not contain credentials, a query or a fragment", rawURL)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("REGISTRY_URL %q: plain http is only allowed to a loopback address; use https", rawURL)
		}
	default:
		return nil, fmt.Errorf("REGISTRY_URL %q: use http://127.0.0.1:PORT or https://HOST", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{
		base:      u,
		tokenPath: tokenPath,
		explicit:  explicit,
		http: &http.Client{
			Timeout: 5 * time.Minute,
			// Never follow a redirect: it could carry the token elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
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
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("registry answered %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("registry answered %d: %s", e.Status, e.Message)
}

// do sends a request; auth says whether to attach the token.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, auth bool) (*http.Response, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if auth {
		tok, err := token.Read(c.tokenPath)
		switch {
		case err == nil:
			req.Header.Set("Authorization", "Bearer "+tok)
		case c.explicit:
			return nil, fmt.Errorf("SERVICE_TOKEN_PATH: %w", err)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the registry at %s: %w", c.base, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
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
	return e
}

func (c *Client) getJSON(ctx context.Context, path string, query url.Values, auth bool, v any) (http.Header, error) {
	resp, err := c.do(ctx, http.MethodGet, path, query, auth)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxResponse {
		return nil, errors.New("registry response exceeds 8 MiB")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("registry sent invalid JSON for %s: %w", path, err)
	}
	return resp.Header, nil
}

// Health returns the registry's /health answer. The token is never sent
// to the unauthenticated health endpoint.
func (c *Client) Health(ctx context.Context) (map[string]any, error) {
	var v map[string]any
	_, err := c.getJSON(ctx, "/health", nil, false, &v)
	return v, err
}

// Repositories lists every repository, following pagination.
func (c *Client) Repositories(ctx context.Context) ([]string, error) {
	var all []string
	q := url.Values{"n": {"1000"}}
	for {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		hdr, err := c.getJSON(ctx, "/v2/_catalog", q, true, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Repositories...)
		if hdr.Get("Link") == "" || len(page.Repositories) == 0 {
			return all, nil
		}
		q.Set("last", page.Repositories[len(page.Repositories)-1])
	}
}

// Tags lists every tag of a repository, following pagination.
func (c *Client) Tags(ctx context.Context, repo string) ([]string, error) {
	var all []string
	q := url.Values{"n": {"1000"}}
	for {
		var page struct {
			Tags []string `json:"tags"`
		}
		hdr, err := c.getJSON(ctx, "/v2/"+repo+"/tags/list", q, true, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Tags...)
		if hdr.Get("Link") == "" || len(page.Tags) == 0 {
			return all, nil
		}
		q.Set("last", page.Tags[len(page.Tags)-1])
	}
}

// Manifest is what a HEAD of a manifest tells.
type Manifest struct {
	Digest    string
	MediaType string
	Size      string
}

// HeadManifest resolves a tag or digest without downloading the manifest.
func (c *Client) HeadManifest(ctx context.Context, repo, ref string) (Manifest, error) {
	resp, err := c.do(ctx, http.MethodHead, "/v2/"+repo+"/manifests/"+ref, nil, true)
	if err != nil {
		return Manifest{}, err
	}
	resp.Body.Close()
	return Manifest{Digest: resp.Header.Get("Docker-Content-Digest"), MediaType: resp.Header.Get("Content-Type"), Size: resp.Header.Get("Content-Length")}, nil
}
