package registry

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// getBlob serves GET and HEAD of a blob, with Range support (206/416) from
// http.ServeContent and sendfile(2) for the bytes.
func (h *Handler) getBlob(c echo.Context, name, ref string) error {
	ctx := c.Request().Context()
	d, err := oci.ParseDigest(ref)
	if err != nil {
		return h.ociError(c, err)
	}
	f, size, err := h.backend.OpenBlob(ctx, name, d)
	if err != nil {
		return h.ociError(c, err)
	}
	defer f.Close()
	hdr := c.Response().Header()
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("ETag", `"`+d.String()+`"`)
	if c.Request().Method == http.MethodHead {
		hdr.Set("Accept-Ranges", "bytes")
		hdr.Set("Content-Length", itoa(size))
		return c.NoContent(http.StatusOK)
	}
	http.ServeContent(h.newBlobWriter(c), c.Request(), "", zeroTime, f)
	return nil
}

func (h *Handler) deleteBlob(c echo.Context, name, ref string) error {
	d, err := oci.ParseDigest(ref)
	if err != nil {
		return h.ociError(c, err)
	}
	if err := h.backend.DeleteBlob(c.Request().Context(), name, d); err != nil {
		return h.ociError(c, err)
	}
	return c.NoContent(http.StatusAccepted)
}
