package registry

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

var zeroTime time.Time

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func uploadLocation(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }

// setUploadHeaders describes a session the way clients resume from: where
// to send the next chunk and which bytes the registry holds.
func setUploadHeaders(c echo.Context, name string, st oci.UploadStatus) {
	hdr := c.Response().Header()
	hdr.Set("Location", uploadLocation(name, st.ID))
	hdr.Set("Docker-Upload-UUID", st.ID)
	hdr.Set("Range", "0-"+itoa(max(st.Offset-1, 0)))
	hdr.Set("Content-Length", "0")
}

func (h *Handler) blobCreated(c echo.Context, name string, d digest.Digest) error {
	hdr := c.Response().Header()
	hdr.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("Content-Length", "0")
	return c.NoContent(http.StatusCreated)
}

// startUpload handles POST /v2/<name>/blobs/uploads/: a cross-repository
// mount (?mount=&from=), a monolithic upload (?digest= with the body), or the
// start of a session (202).
func (h *Handler) startUpload(c echo.Context, name string) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	if m := q.Get("mount"); m != "" {
		d, err := oci.ParseDigest(m)
		if err != nil {
			return h.ociError(c, err)
		}
		from := q.Get("from")
		if from != "" {
			if err := oci.ValidateName(from); err != nil {
				return h.ociError(c, err)
			}
		}
		ok, err := h.backend.MountBlob(ctx, name, from, d)
		if err != nil {
			return h.ociError(c, err)
		}
		if ok {
			return h.blobCreated(c, name, d)
		}
		// Not mountable: fall back to a normal upload session (202).
	}
	if ds := q.Get("digest"); ds != "" {
		d, err := oci.ParseDigest(ds)
		if err != nil {
			return h.ociError(c, err)
		}
		st, err := h.backend.StartUpload(ctx, name, d.Algorithm())
		if err != nil {
			return h.ociError(c, err)
		}
		desc, err := h.backend.CommitUpload(ctx, name, st.ID, -1, h.uploadBody(c), d)
		if err != nil {
			_ = h.backend.CancelUpload(ctx, name, st.ID)
			return h.ociError(c, err)
		}
		return h.blobCreated(c, name, desc.Digest)
	}
	algo := digest.Canonical
	if a := q.Get("digest-algorithm"); a != "" {
		var err error
		if algo, err = oci.ParseAlgorithm(a); err != nil {
			return h.ociError(c, err)
		}
	}
	st, err := h.backend.StartUpload(ctx, name, algo)
	if err != nil {
		return h.ociError(c, err)
	}
	setUploadHeaders(c, name, st)
	return c.NoContent(http.StatusAccepted)
}

func (h *Handler) uploadStatus(c echo.Context, name, id string) error {
	st, err := h.backend.UploadStatus(c.Request().Context(), name, id)
	if err != nil {
		return h.ociError(c, err)
	}
	setUploadHeaders(c, name, st)
	return c.NoContent(http.StatusNoContent)
}

// patchUpload appends a chunk. With Content-Range the chunk must start where
// the session ends (416 otherwise, with the current Range so the client can
// resume); without it the body is streamed onto the end.
func (h *Handler) patchUpload(c echo.Context, name, id string) error {
	ctx := c.Request().Context()
	start, body, err := h.chunk(c)
	if err != nil {
		return h.ociError(c, err)
	}
	st, err := h.backend.AppendUpload(ctx, name, id, start, body)
	if err != nil {
		return h.uploadError(c, name, id, err)
	}
	setUploadHeaders(c, name, st)
	return c.NoContent(http.StatusAccepted)
}

// putUpload finishes a session, with an optional last chunk in the body.
func (h *Handler) putUpload(c echo.Context, name, id string) error {
	ctx := c.Request().Context()
	ds := c.QueryParam("digest")
	if ds == "" {
		return h.ociError(c, oci.Errorf(oci.CodeDigestInvalid, "the digest query parameter is required to finish an upload"))
	}
	d, err := oci.ParseDigest(ds)
	if err != nil {
		return h.ociError(c, err)
	}
	start, body, err := h.chunk(c)
	if err != nil {
		return h.ociError(c, err)
	}
	desc, err := h.backend.CommitUpload(ctx, name, id, start, body, d)
	if err != nil {
		return h.uploadError(c, name, id, err)
	}
	return h.blobCreated(c, name, desc.Digest)
}

func (h *Handler) cancelUpload(c echo.Context, name, id string) error {
	if err := h.backend.CancelUpload(c.Request().Context(), name, id); err != nil {
		return h.ociError(c, err)
	}
	return c.NoContent(http.StatusNoContent)
}

// uploadError adds the session's current range to a 416, so the client can
// continue from the right byte.
func (h *Handler) uploadError(c echo.Context, name, id string, err error) error {
	var oe *oci.Error
	if errors.As(err, &oe) && oe.Status == http.StatusRequestedRangeNotSatisfiable {
		if st, serr := h.backend.UploadStatus(c.Request().Context(), name, id); serr == nil {
			setUploadHeaders(c, name, st)
			c.Response().Header().Del("Content-Length")
		}
	}
	return h.ociError(c, err)
}

// chunk reads the request's Content-Range and returns where the chunk
// starts (-1 if not given) and a body reader that fails unless exactly the
// declared number of bytes arrives. A body of zero length is reported as nil.
func (h *Handler) chunk(c echo.Context) (int64, io.Reader, error) {
	r := c.Request()
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		if r.ContentLength == 0 {
			return -1, nil, nil
		}
		return -1, h.uploadBody(c), nil
	}
	start, end, err := parseContentRange(cr)
	if err != nil {
		return 0, nil, err
	}
	n := end - start + 1
	if r.ContentLength >= 0 && r.ContentLength != n {
		return 0, nil, oci.Errorf(oci.CodeBlobUploadInvalid, "Content-Range %q covers %d bytes but Content-Length is %d", cr, n, r.ContentLength)
	}
	return start, &exactReader{r: h.uploadBody(c), n: n}, nil
}

// parseContentRange accepts "<start>-<end>" as the distribution spec writes
// it, and the RFC 9110 form "bytes <start>-<end>/<size|*>" some clients send.
func parseContentRange(s string) (int64, int64, error) {
	v := strings.TrimSpace(s)
	v = strings.TrimPrefix(v, "bytes ")
	v = strings.TrimPrefix(v, "bytes=")
	v, _, _ = strings.Cut(v, "/")
	a, b, ok := strings.Cut(v, "-")
	start, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	end, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if !ok || err1 != nil || err2 != nil || start < 0 || end < start || end == math.MaxInt64 {
		return 0, 0, oci.Errorf(oci.CodeBlobUploadInvalid, "invalid Content-Range %q: expected <start>-<end>", s).WithStatus(http.StatusRequestedRangeNotSatisfiable)
	}
	return start, end, nil
}

// exactReader yields exactly n bytes of r and fails if r ends early or has
// more, so a chunk that does not match its Content-Range is rolled back
// instead of stored.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		var one [1]byte
		if m, _ := io.ReadFull(e.r, one[:]); m > 0 {
			return 0, oci.Errorf(oci.CodeBlobUploadInvalid, "the request body is longer than its Content-Range; the chunk was discarded")
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	m, err := e.r.Read(p)
	e.n -= int64(m)
	if err == io.EOF && e.n > 0 {
		return m, fmt.Errorf("body ended %d bytes before the end of its Content-Range: %w", e.n, io.ErrUnexpectedEOF)
	}
	if err == io.EOF {
		err = nil
		if e.n == 0 {
			err = io.EOF
		}
	}
	return m, err
}
