package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
)

// client speaks the distribution API to the server under test over one
// keep-alive transport.
type client struct {
	base  string // http://127.0.0.1:PORT
	token string
	hc    *http.Client
}

// newHTTPClient is shared by the registry client and the ServeFile limit so
// that both downloads go through identical client code.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // loopback only; never an environment proxy
			DisableCompression:  true,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     time.Minute,
		},
		// A redirect would mean measuring something else; surface it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// statusError records an unexpected answer with the exact request and
// response, so a misbehaving server can be reported as-is.
type statusError struct {
	req  string
	resp string
}

func (e *statusError) Error() string { return e.req + "\n  -> " + e.resp }

// do sends req and returns the response if it has status want; the caller
// must drain and close the body.
func (c *client) do(req *http.Request, want int) (*http.Response, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.RequestURI(), err)
	}
	if resp.StatusCode == want {
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	resp.Body.Close()
	var hdr strings.Builder
	for _, k := range []string{"Content-Type", "Content-Range", "Range"} {
		if v := req.Header.Get(k); v != "" {
			fmt.Fprintf(&hdr, " %s: %s;", k, v)
		}
	}
	if req.ContentLength > 0 {
		fmt.Fprintf(&hdr, " body: %d bytes;", req.ContentLength)
	}
	var rh []string
	for _, k := range []string{"Location", "Content-Type", "Docker-Upload-UUID", "Range"} {
		if v := resp.Header.Get(k); v != "" {
			rh = append(rh, k+": "+v)
		}
	}
	return nil, &statusError{
		req:  fmt.Sprintf("%s %s (want %d)%s", req.Method, req.URL.RequestURI(), want, hdr.String()),
		resp: fmt.Sprintf("%s [%s] %q", resp.Status, strings.Join(rh, "; "), body),
	}
}

func discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
}

func (c *client) request(ctx context.Context, method, u string, body io.Reader, size int64, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req, nil
}

// openBlob returns a fresh handle to the blob: the transport closes request
// bodies, and an *os.File body streams from the page cache (with sendfile
// where the transport can), never from a buffer holding the blob.
func openBlob(b blobFile) (*os.File, error) { return os.Open(b.path) }

// pushMonolithic is POST /v2/<repo>/blobs/uploads/?digest= with the blob as
// body, answered 201 once the blob is durable.
func (c *client) pushMonolithic(ctx context.Context, repo string, b blobFile) error {
	f, err := openBlob(b)
	if err != nil {
		return err
	}
	u := c.base + "/v2/" + repo + "/blobs/uploads/?digest=" + b.digest
	req, err := c.request(ctx, http.MethodPost, u, f, b.size, "application/octet-stream")
	if err != nil {
		f.Close()
		return err
	}
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}

// pushStreamed is POST (202), one streamed PATCH with the whole blob (202),
// then PUT ?digest= with no body (201).
func (c *client) pushStreamed(ctx context.Context, repo string, b blobFile) error {
	loc, err := c.startUpload(ctx, repo)
	if err != nil {
		return err
	}
	f, err := openBlob(b)
	if err != nil {
		return err
	}
	req, err := c.request(ctx, http.MethodPatch, loc.String(), f, b.size, "application/octet-stream")
	if err != nil {
		f.Close()
		return err
	}
	resp, err := c.do(req, http.StatusAccepted)
	if err != nil {
		return err
	}
	discard(resp)
	if loc, err = resp.Location(); err != nil {
		return fmt.Errorf("PATCH %s: 202 without a usable Location: %w", req.URL.RequestURI(), err)
	}
	return c.finishUpload(ctx, loc, b.digest, nil, 0)
}

// startUpload is POST /v2/<repo>/blobs/uploads/, returning the upload URL.
func (c *client) startUpload(ctx context.Context, repo string) (*url.URL, error) {
	req, err := c.request(ctx, http.MethodPost, c.base+"/v2/"+repo+"/blobs/uploads/", nil, 0, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	discard(resp)
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("POST %s: 202 without a usable Location: %w", req.URL.RequestURI(), err)
	}
	return loc, nil
}

// finishUpload is PUT <upload URL>?digest= with an optional final body.
func (c *client) finishUpload(ctx context.Context, loc *url.URL, digest string, body io.Reader, size int64) error {
	u := *loc
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "digest=" + digest // [a-z0-9:] needs no escaping
	ct := ""
	if body != nil {
		ct = "application/octet-stream"
	}
	req, err := c.request(ctx, http.MethodPut, u.String(), body, size, ct)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}

// pull is GET /v2/<repo>/blobs/<digest> into a discarding drain loop.
func (c *client) pull(ctx context.Context, repo string, b blobFile) error {
	return c.pullRange(ctx, repo, b, 0, b.size-1, false)
}

// pullRanged fetches the blob as parts parallel Range requests.
func (c *client) pullRanged(ctx context.Context, repo string, b blobFile, parts int) error {
	step := (b.size + int64(parts) - 1) / int64(parts)
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for i := range parts {
		start := int64(i) * step
		end := min(start+step, b.size) - 1
		if start > end {
			break
		}
		wg.Go(func() { errs[i] = c.pullRange(ctx, repo, b, start, end, true) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *client) pullRange(ctx context.Context, repo string, b blobFile, start, end int64, ranged bool) error {
	req, err := c.request(ctx, http.MethodGet, c.base+"/v2/"+repo+"/blobs/"+b.digest, nil, 0, "")
	if err != nil {
		return err
	}
	want := http.StatusOK
	if ranged {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end))
		want = http.StatusPartialContent
	}
	resp, err := c.do(req, want)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := copyChunks(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s after %d bytes: %w", req.URL.RequestURI(), n, err)
	}
	if n != end-start+1 {
		return fmt.Errorf("GET %s (Range %q): got %d bytes, want %d", req.URL.RequestURI(), req.Header.Get("Range"), n, end-start+1)
	}
	return nil
}

// artifact is one small image: a 4 KiB tar layer, its config and manifest.
type artifact struct {
	tag                    string
	layer, config, manifst []byte
	layerDgst, configDgst  string
}

// makeArtifact builds artifact i with content no other run produces: a
// valid 4 KiB uncompressed tar (so a validating server accepts it), a config
// naming it as its diff_id, and an OCI image manifest.
func makeArtifact(i int, rng *rand.ChaCha8) (artifact, error) {
	data := make([]byte, 4096-3*512) // header block + data + two end blocks = 4 KiB
	rng.Read(data)
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: fmt.Sprintf("model/shard-%06d.bin", i), Mode: 0o644,
		Size: int64(len(data)), ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return artifact{}, err
	}
	tw.Write(data)
	if err := tw.Close(); err != nil {
		return artifact{}, err
	}
	a := artifact{tag: fmt.Sprintf("a%06d", i), layer: layer.Bytes()}
	a.layerDgst = digestOf(a.layer)

	var err error
	a.config, err = json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Labels": map[string]string{"bench.index": fmt.Sprint(i)}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{a.layerDgst}},
	})
	if err != nil {
		return artifact{}, err
	}
	a.configDgst = digestOf(a.config)

	type descriptor struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
		Size      int    `json:"size"`
	}
	a.manifst, err = json.Marshal(struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Config        descriptor   `json:"config"`
		Layers        []descriptor `json:"layers"`
	}{
		SchemaVersion: 2,
		MediaType:     mediaManifest,
		Config:        descriptor{mediaConfig, a.configDgst, len(a.config)},
		Layers:        []descriptor{{mediaLayer, a.layerDgst, len(a.layer)}},
	})
	return a, err
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// pushArtifact is exactly five requests: POST+PUT layer, POST+PUT config,
// PUT manifest by tag.
func (c *client) pushArtifact(ctx context.Context, repo string, a artifact) error {
	for _, blob := range []struct {
		data   []byte
		digest string
	}{{a.layer, a.layerDgst}, {a.config, a.configDgst}} {
		loc, err := c.startUpload(ctx, repo)
		if err != nil {
			return err
		}
		if err := c.finishUpload(ctx, loc, blob.digest, bytes.NewReader(blob.data), int64(len(blob.data))); err != nil {
			return err
		}
	}
	req, err := c.request(ctx, http.MethodPut, c.base+"/v2/"+repo+"/manifests/"+a.tag,
		bytes.NewReader(a.manifst), int64(len(a.manifst)), mediaManifest)
	if err != nil {
		return err
	}
	resp, err := c.do(req, http.StatusCreated)
	if err != nil {
		return err
	}
	discard(resp)
	return nil
}
