package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

// maxPage caps one page of tags or repositories; clients follow Link.
const maxPage = 10000

// page reads ?n= and ?last=. It returns n+1 as the number to fetch, so one
// extra item tells whether a next page exists.
func page(c echo.Context) (n int, last string, err error) {
	last = c.QueryParam("last")
	n = maxPage
	if s := c.QueryParam("n"); s != "" {
		v, perr := strconv.Atoi(s)
		if perr != nil || v < 0 {
			return 0, "", &oci.Error{Code: "PAGINATION_NUMBER_INVALID", Status: http.StatusBadRequest, Message: "n must be a non-negative integer"}
		}
		n = min(v, maxPage)
	}
	return n, last, nil
}

// paginate trims items to n and sets a Link header to the next page.
func paginate(c echo.Context, items []string, n int, path string) []string {
	if len(items) <= n {
		return items
	}
	items = items[:n]
	if n > 0 {
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {items[n-1]}}
		c.Response().Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
	}
	return items
}

func (h *Handler) tagsList(c echo.Context, name string) error {
	n, last, err := page(c)
	if err != nil {
		return h.ociError(c, err)
	}
	tags, err := h.backend.Tags(c.Request().Context(), name, last, n+1)
	if err != nil {
		return h.ociError(c, err)
	}
	tags = paginate(c, tags, n, "/v2/"+name+"/tags/list")
	if tags == nil {
		tags = []string{}
	}
	return c.JSON(http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags})
}

func (h *Handler) catalog(c echo.Context) error {
	n, last, err := page(c)
	if err != nil {
		return h.ociError(c, err)
	}
	repos, err := h.backend.Repositories(c.Request().Context(), last, n+1)
	if err != nil {
		return h.ociError(c, err)
	}
	repos = paginate(c, repos, n, "/v2/_catalog")
	if repos == nil {
		repos = []string{}
	}
	return c.JSON(http.StatusOK, struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

// referrers answers the referrers API: always 200 with an image index (an
// empty one for unknown subjects and repositories), filtered by
// artifactType when asked, which OCI-Filters-Applied then says.
func (h *Handler) referrers(c echo.Context, name, ref string) error {
	d, err := oci.ParseDigest(ref)
	if err != nil {
		return h.ociError(c, err)
	}
	descs, err := h.backend.Referrers(c.Request().Context(), name, d)
	if err != nil {
		return h.ociError(c, err)
	}
	if types := c.QueryParams()["artifactType"]; len(types) > 0 {
		kept := descs[:0]
		for _, desc := range descs {
			for _, t := range types {
				if desc.ArtifactType == t {
					kept = append(kept, desc)
					break
				}
			}
		}
		descs = kept
		c.Response().Header().Set("OCI-Filters-Applied", "artifactType")
	}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: descs}
	idx.SchemaVersion = 2
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return h.ociError(c, err)
	}
	return c.Blob(http.StatusOK, ocispec.MediaTypeImageIndex, b)
}
