package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/strictjson"
)

// Models is the model lifecycle service behind the /v1 API.
type Models interface {
	List(ctx context.Context) ([]lifecycle.Artifact, error)
	Get(ctx context.Context, name string) (lifecycle.Artifact, error)
	Path(ctx context.Context, name string) (lifecycle.PathInfo, error)
	History(ctx context.Context, name string) (lifecycle.HistoryReport, error)
	Verify(ctx context.Context, name string) (lifecycle.VerifyResult, error)
	VerifyAll(ctx context.Context) (lifecycle.VerifyAllResult, error)
	Acquire(ctx context.Context, req lifecycle.AcquireRequest, body io.Reader) (lifecycle.Artifact, error)
	Quarantine(ctx context.Context, name, reason string) (lifecycle.Result, error)
	Promote(ctx context.Context, req lifecycle.PromoteRequest) (lifecycle.Artifact, error)
	Revoke(ctx context.Context, name, reason string) (lifecycle.Result, error)
	Delete(ctx context.Context, name, reason string) (lifecycle.Result, error)
	Counts(ctx context.Context) (lifecycle.Counts, error)
	RunIntegrityCheck(ctx context.Context, p *lifecycle.Progress) (lifecycle.IntegrityReport, error)
	StartIntegrityCheck() lifecycle.Job
	JobStatus(id string) (lifecycle.Job, error)
	VerifyManifest(ctx context.Context, name string) (lifecycle.ManifestCheck, error)
	ExportLock(ctx context.Context) ([]byte, error)
	Trust
}

// maxJSONBody caps every /v1 JSON request body.
const maxJSONBody = 1 << 20

// maxIntegrityFile caps the integrity result read from disk.
const maxIntegrityFile = 1 << 20

func (h *Handler) routesV1(e *echo.Echo) {
	// Each route says what it needs; anonymous callers may resolve and
	// verify trusted artifacts (the service decides what they see and
	// rate-limits what they cause).
	a := h.auth
	g := e.Group("/v1")
	g.GET("/models", h.listModels, a.v1(h, permRead))
	g.GET("/model", h.getModel, a.v1(h, permRead))
	g.GET("/model/path", h.modelPath, a.v1(h, permNone))
	g.GET("/model/history", h.modelHistory, a.v1(h, permRead))
	g.POST("/model/verify", h.verifyModel, a.v1(h, permNone), h.longRunning)
	g.POST("/models/verify-all", h.verifyAll, a.v1(h, permNone), h.longRunning)
	g.GET("/integrity/status", h.integrityStatus, a.v1(h, permRead))
	g.POST("/integrity/run", h.integrityRun, a.v1(h, permRead), h.longRunning)
	g.GET("/jobs/:id", h.job, a.v1(h, permRead))
	g.GET("/lock", h.exportLock, a.v1(h, permRead))
	g.POST("/model/verify-manifest", h.verifyManifest, a.v1(h, permRead), h.longRunning)
	// Mutations are audited, refused ones included: the audit middleware
	// comes before the credential check.
	au := h.auditor
	g.POST("/model/acquire", h.acquire, au.middleware(v1Action("acquire")), a.v1(h, permPush), h.longRunning)
	g.POST("/model/quarantine", h.quarantine, au.middleware(v1Action("quarantine")), a.v1(h, permPromote))
	g.POST("/model/promote", h.promote, au.middleware(v1Action("promote")), a.v1(h, permPromote), h.longRunning)
	g.POST("/model/revoke", h.revoke, au.middleware(v1Action("revoke")), a.v1(h, permPromote))
	g.DELETE("/model/delete", h.deleteModel, au.middleware(v1Action("delete")), a.v1(h, permAdmin))
	g.GET("/audit", h.auditPage, a.v1(h, permAdmin))
	h.routesTrust(g)
}

// v1Error writes the /v1 error shape.
func (h *Handler) v1Error(c echo.Context, status int, msg string) error {
	if c.Response().Committed {
		return nil
	}
	noteDetail(c, msg)
	return c.JSON(status, map[string]string{"error": msg})
}

// v1Fail maps a service error to its status. Internal errors are logged
// with the request id and answered without details.
func (h *Handler) v1Fail(c echo.Context, err error) error {
	if ok, werr := h.policyRefusal(c, err); ok {
		return werr
	}
	status := 0
	switch lifecycle.KindOf(err) {
	case lifecycle.KindInvalid:
		status = http.StatusBadRequest
	case lifecycle.KindForbidden:
		status = http.StatusForbidden
	case lifecycle.KindNotFound:
		status = http.StatusNotFound
	case lifecycle.KindConflict:
		status = http.StatusConflict
	case lifecycle.KindTooLarge:
		status = http.StatusRequestEntityTooLarge
	case lifecycle.KindUnavailable:
		status = http.StatusServiceUnavailable
	case lifecycle.KindRateLimited:
		status = http.StatusTooManyRequests
	case lifecycle.KindUnauthorized:
		status = http.StatusUnauthorized
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
	}
	var oe *oci.Error
	if status == 0 && errors.As(err, &oe) {
		status = oe.Status
	}
	// Show the service's own message, not the layers that wrapped it.
	var le *lifecycle.Error
	var ref *lifecycle.Refusal
	switch {
	case errors.As(err, &le):
		err = le
		if le.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(le.RetryAfter.Round(time.Second)/time.Second)))
		}
	case errors.As(err, &ref):
		err = ref
	}
	var mbe *http.MaxBytesError
	switch {
	case status != 0:
		return h.v1Error(c, status, err.Error())
	case errors.As(err, &mbe):
		return h.v1Error(c, http.StatusRequestEntityTooLarge, "request too large")
	case errors.Is(err, context.Canceled):
		return nil
	}
	h.log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method, "path", c.Request().URL.Path, "error", err)
	return h.v1Error(c, http.StatusInternalServerError, "internal error; the registry log has the details under request id "+requestID(c))
}

// longRunning lifts the write deadline for requests that hash large files
// before they answer; the idle timeout still applies to reading the body.
func (h *Handler) longRunning(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Time{})
		return next(c)
	}
}

// decodeJSON reads a capped JSON body strictly: one object, no duplicate
// keys, top-level keys spelled exactly as the fields of v (encoding/json
// would match "Name" to "name", and keep the last of two "name"s, so a body
// could say one thing to a proxy and another to the registry), no unknown
// fields, nothing after the object.
func decodeJSON(c echo.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxJSONBody))
	if err != nil {
		return err
	}
	fields := jsonFields(v)
	err = strictjson.Check(body, 32, func(depth int, _, key string) error {
		if depth == 1 && !slices.Contains(fields, key) {
			return fmt.Errorf("unknown field %q", key)
		}
		return nil
	})
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		return &lifecycle.Error{Kind: lifecycle.KindInvalid, Msg: "invalid request body: " + err.Error()}
	}
	return nil
}

// jsonFields lists the JSON names of the fields of the struct v points at.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	var out []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func (h *Handler) listModels(c echo.Context) error {
	list, err := h.models.List(c.Request().Context())
	if err != nil {
		return h.v1Fail(c, err)
	}
	return c.JSON(http.StatusOK, list)
}

// byName answers a read of one artifact named by ?name= with what get
// returns for it.
func byName[T any](h *Handler, c echo.Context, get func(ctx context.Context, name string) (T, error)) error {
	v, err := get(c.Request().Context(), c.QueryParam("name"))
	if err != nil {
		return h.v1Fail(c, err)
	}
	return c.JSON(http.StatusOK, v)
}

func (h *Handler) getModel(c echo.Context) error { return byName(h, c, h.models.Get) }

func (h *Handler) modelPath(c echo.Context) error { return byName(h, c, h.models.Path) }

func (h *Handler) modelHistory(c echo.Context) error { return byName(h, c, h.models.History) }

func (h *Handler) verifyModel(c echo.Context) error {
	res, err := h.models.Verify(c.Request().Context(), c.QueryParam("name"))
	if err != nil {
		return h.v1Fail(c, err)
	}
	status := http.StatusOK
	if res.Status == "failed" {
		status = http.StatusConflict
	}
	return c.JSON(status, res)
}

// verifyAll answers with the predecessor's synchronous shape, or, with
// ?async=1, starts a background job (202) to poll at /v1/jobs/<id>.
func (h *Handler) verifyAll(c echo.Context) error {
	ctx := c.Request().Context()
	if c.QueryParam("async") != "" {
		if !lifecycle.CallerFrom(ctx).Authenticated {
			return h.v1Fail(c, &lifecycle.Error{Kind: lifecycle.KindUnauthorized, Msg: "authentication required to start a verification job"})
		}
		return h.jobAccepted(c, h.models.StartIntegrityCheck())
	}
	res, err := h.models.VerifyAll(ctx)
	if err != nil {
		return h.v1Fail(c, err)
	}
	status := http.StatusOK
	if res.Status == "failed" {
		status = http.StatusConflict
	}
	return c.JSON(status, res)
}

func (h *Handler) jobAccepted(c echo.Context, j lifecycle.Job) error {
	c.Response().Header().Set("Location", "/v1/jobs/"+j.ID)
	return c.JSON(http.StatusAccepted, j)
}

// integrityRun runs the integrity check now and writes its result file,
// as the periodic check does (for a systemd timer via securectl); ?async=1
// runs it as a job.
func (h *Handler) integrityRun(c echo.Context) error {
	if c.QueryParam("async") != "" {
		return h.jobAccepted(c, h.models.StartIntegrityCheck())
	}
	rep, err := h.models.RunIntegrityCheck(c.Request().Context(), nil)
	if err != nil {
		return h.v1Fail(c, err)
	}
	status := http.StatusOK
	if rep.Status == "failed" {
		status = http.StatusConflict
	}
	return c.JSON(status, rep)
}

func (h *Handler) job(c echo.Context) error {
	j, err := h.models.JobStatus(c.Param("id"))
	if err != nil {
		return h.v1Fail(c, err)
	}
	return c.JSON(http.StatusOK, j)
}

// exportLock answers the trusted set as models.lock.yaml.
func (h *Handler) exportLock(c echo.Context) error {
	data, err := h.models.ExportLock(c.Request().Context())
	if err != nil {
		return h.v1Fail(c, err)
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="models.lock.yaml"`)
	return c.Blob(http.StatusOK, "application/yaml", data)
}

func (h *Handler) verifyManifest(c echo.Context) error {
	res, err := h.models.VerifyManifest(c.Request().Context(), c.QueryParam("name"))
	if err != nil {
		return h.v1Fail(c, err)
	}
	status := http.StatusOK
	if res.Status == "failed" {
		status = http.StatusConflict
	}
	return c.JSON(status, res)
}

// integrityStatus serves the last integrity result file: "unknown" when
// none was written yet, 503 when it cannot be read or is not a JSON object,
// and "stale": true when it is older than two check intervals.
func (h *Handler) integrityStatus(c echo.Context) error {
	unknown := map[string]any{"status": "unknown", "detail": "no integrity check has run yet", "stale": false}
	if h.integrityPath == "" {
		return c.JSON(http.StatusOK, unknown)
	}
	f, err := os.Open(h.integrityPath)
	if errors.Is(err, os.ErrNotExist) {
		return c.JSON(http.StatusOK, unknown)
	}
	if err != nil {
		return h.v1Error(c, http.StatusServiceUnavailable, "integrity result unavailable")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIntegrityFile+1))
	var v map[string]any
	if err != nil || len(b) > maxIntegrityFile || json.Unmarshal(b, &v) != nil || v == nil {
		return h.v1Error(c, http.StatusServiceUnavailable, "integrity result unavailable")
	}
	stale := false
	if h.integrityInterval > 0 {
		at, _ := v["checked_at"].(string)
		t, err := time.Parse(time.RFC3339, at)
		stale = err != nil || time.Since(t) > 2*h.integrityInterval
	}
	v["stale"] = stale
	return c.JSON(http.StatusOK, v)
}

// acquire takes a JSON body (the file is in the import directory) or the
// file itself as application/octet-stream with the fields as query
// parameters.
func (h *Handler) acquire(c echo.Context) error {
	ctx := c.Request().Context()
	var req lifecycle.AcquireRequest
	var body io.Reader
	ct := c.Request().Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/octet-stream") {
		q := c.QueryParams()
		for k := range q {
			switch k {
			case "name", "filename", "sha256", "size_bytes", "source", "source_revision", "reason":
			default:
				return h.v1Error(c, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q", k))
			}
		}
		req = lifecycle.AcquireRequest{Name: q.Get("name"), Filename: q.Get("filename"), SHA256: q.Get("sha256"),
			Source: q.Get("source"), SourceRevision: q.Get("source_revision"), Reason: q.Get("reason")}
		if s := q.Get("size_bytes"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return h.v1Error(c, http.StatusBadRequest, "size_bytes must be an integer")
			}
			req.SizeBytes = n
		}
		body = h.uploadBody(c)
	} else if err := decodeJSON(c, &req); err != nil {
		return h.v1Fail(c, err)
	}
	a, err := h.models.Acquire(ctx, req, body)
	if err != nil {
		return h.v1Fail(c, err)
	}
	return c.JSON(http.StatusCreated, a)
}

func (h *Handler) promote(c echo.Context) error {
	var req lifecycle.PromoteRequest
	if err := decodeJSON(c, &req); err != nil {
		return h.v1Fail(c, err)
	}
	a, err := h.models.Promote(c.Request().Context(), req)
	if err != nil {
		return h.v1Fail(c, err)
	}
	return c.JSON(http.StatusCreated, a)
}

type simpleAction func(ctx context.Context, name, reason string) (lifecycle.Result, error)

func (h *Handler) simple(c echo.Context, act simpleAction) error {
	reason := c.QueryParam("reason")
	if err := lifecycle.ValidateReason(reason); err != nil {
		return h.v1Fail(c, err)
	}
	res, err := act(c.Request().Context(), c.QueryParam("name"), reason)
	if err != nil {
		return h.v1Fail(c, err)
	}
	return c.JSON(http.StatusOK, res)
}

func (h *Handler) quarantine(c echo.Context) error  { return h.simple(c, h.models.Quarantine) }
func (h *Handler) revoke(c echo.Context) error      { return h.simple(c, h.models.Revoke) }
func (h *Handler) deleteModel(c echo.Context) error { return h.simple(c, h.models.Delete) }
