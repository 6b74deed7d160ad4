package registry

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

func (h *Handler) getManifest(c echo.Context, name, refStr string) error {
	ctx := c.Request().Context()
	ref, err := oci.ParseReference(refStr)
	if err != nil {
		return h.ociError(c, err)
	}
	hdr := c.Response().Header()
	if c.Request().Method == http.MethodHead {
		desc, err := h.backend.ResolveManifest(ctx, name, ref)
		if err != nil {
			return h.ociError(c, err)
		}
		hdr.Set("Content-Type", desc.MediaType)
		hdr.Set("Content-Length", itoa(desc.Size))
		hdr.Set("Docker-Content-Digest", desc.Digest.String())
		hdr.Set("ETag", `"`+desc.Digest.String()+`"`)
		return c.NoContent(http.StatusOK)
	}
	desc, body, err := h.backend.GetManifest(ctx, name, ref)
	if err != nil {
		return h.ociError(c, err)
	}
	hdr.Set("Docker-Content-Digest", desc.Digest.String())
	hdr.Set("ETag", `"`+desc.Digest.String()+`"`)
	hdr.Set("Content-Length", itoa(int64(len(body))))
	return c.Blob(http.StatusOK, desc.MediaType, body)
}

// putManifest stores the exact bytes pushed. By tag, the manifest is hashed
// with sha256; by digest, with the digest's algorithm, and the body must
// hash to it. With a digest reference, ?tag= parameters tag it in the same
// request (answered with OCI-Tag headers).
func (h *Handler) putManifest(c echo.Context, name, refStr string) error {
	ctx := c.Request().Context()
	req := c.Request()
	ref, err := oci.ParseReference(refStr)
	if err != nil {
		return h.ociError(c, err)
	}
	if req.ContentLength > oci.MaxManifestSize {
		return h.ociError(c, oci.Errorf(oci.CodeManifestInvalid, "manifest is %d bytes; the limit is %d", req.ContentLength, oci.MaxManifestSize).WithStatus(http.StatusRequestEntityTooLarge))
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, oci.MaxManifestSize+1))
	if err != nil {
		return h.ociError(c, oci.Errorf(oci.CodeManifestInvalid, "could not read the manifest body: %v", err))
	}
	if len(body) > oci.MaxManifestSize {
		return h.ociError(c, oci.Errorf(oci.CodeManifestInvalid, "manifest exceeds the %d-byte limit", oci.MaxManifestSize).WithStatus(http.StatusRequestEntityTooLarge))
	}
	algo := digest.Canonical
	var tags []string
	if ref.Digest != "" {
		algo = ref.Digest.Algorithm()
		for _, t := range c.QueryParams()["tag"] {
			if err := oci.ValidateTag(t); err != nil {
				return h.ociError(c, err)
			}
			tags = append(tags, t)
		}
	} else {
		tags = []string{ref.Tag}
	}
	m, err := oci.ParseManifest(req.Header.Get("Content-Type"), body, algo)
	if err != nil {
		return h.ociError(c, err)
	}
	if ref.Digest != "" && m.Digest != ref.Digest {
		return h.ociError(c, oci.Errorf(oci.CodeDigestInvalid, "manifest body hashes to %s, not %s", m.Digest, ref.Digest))
	}
	if err := h.backend.PutManifest(ctx, name, m, tags); err != nil {
		return h.ociError(c, err)
	}
	hdr := c.Response().Header()
	hdr.Set("Location", "/v2/"+name+"/manifests/"+m.Digest.String())
	hdr.Set("Docker-Content-Digest", m.Digest.String())
	if m.Subject != nil {
		hdr.Set("OCI-Subject", m.Subject.Digest.String())
	}
	if ref.Digest != "" {
		for _, t := range tags {
			hdr.Add("OCI-Tag", t)
		}
	}
	hdr.Set("Content-Length", "0")
	return c.NoContent(http.StatusCreated)
}

// deleteManifest deletes a manifest by digest, or only the tag when the
// reference is a tag.
func (h *Handler) deleteManifest(c echo.Context, name, refStr string) error {
	ctx := c.Request().Context()
	ref, err := oci.ParseReference(refStr)
	if err != nil {
		return h.ociError(c, err)
	}
	if ref.Tag != "" {
		err = h.backend.DeleteTag(ctx, name, ref.Tag)
	} else {
		err = h.backend.DeleteManifest(ctx, name, ref.Digest)
	}
	if err != nil {
		return h.ociError(c, err)
	}
	return c.NoContent(http.StatusAccepted)
}
