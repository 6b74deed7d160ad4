package registry

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/audit"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

// AuditLog is where the audit trail goes (package audit's *Log).
type AuditLog interface {
	Append(ctx context.Context, e audit.Entry) (audit.Entry, error)
	Read(ctx context.Context, from uint64, limit int) ([]audit.Entry, error)
}

// Auditor turns requests and lifecycle transitions into audit entries:
// one entry per mutating request, whatever its outcome (refused by auth or
// policy included), written before the response leaves, and one per
// transition the registry makes on its own (integrity failures, the lock
// at boot).
type Auditor struct {
	log AuditLog
	slg *slog.Logger
}

// NewAuditor returns an Auditor appending to l.
func NewAuditor(l AuditLog, logger *slog.Logger) *Auditor {
	if logger == nil {
		logger = slog.Default()
	}
	return &Auditor{log: l, slg: logger}
}

// pendingKey carries the request's entry in its context, so transitions
// the request makes land in it.
type pendingKey struct{}

// pending is the entry of one request, filled as the request runs.
type pending struct {
	mu          sync.Mutex
	transitions []lifecycle.Transition
	detail      string
	done        bool
}

// Transition is lifecycle's OnTransition: inside a request it joins the
// request's entry; otherwise it is an entry of its own.
func (a *Auditor) Transition(ctx context.Context, t lifecycle.Transition) {
	if a == nil {
		return
	}
	if p, ok := ctx.Value(pendingKey{}).(*pending); ok {
		p.mu.Lock()
		p.transitions = append(p.transitions, t)
		p.mu.Unlock()
		return
	}
	a.append(ctx, audit.Entry{Who: t.Who, Action: string(t.Action), Name: t.Name, Repository: t.Repository, Digest: t.Digest.String(),
		From: string(t.From), To: string(t.To), Result: audit.ResultOK, Detail: t.Reason})
}

func (a *Auditor) append(ctx context.Context, e audit.Entry) {
	if _, err := a.log.Append(context.WithoutCancel(ctx), e); err != nil {
		a.slg.Error("ALERT: audit entry not written", "action", e.Action, "name", e.Name, "result", e.Result, "error", err)
	}
}

// noteDetail records why a request was refused or failed, for its entry.
func noteDetail(c echo.Context, msg string) {
	if p, ok := c.Request().Context().Value(pendingKey{}).(*pending); ok {
		p.mu.Lock()
		if p.detail == "" {
			p.detail = msg
		}
		p.mu.Unlock()
	}
}

// middleware audits one mutating route. It sits outside the credential
// check, so refusals by auth are audited too. The entry is appended (and
// synced) just before the response status is written: an acknowledged
// mutation always has its entry.
func (a *Auditor) middleware(action func(c echo.Context) (act, name, repo string, ok bool)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			act, name, repo, ok := action(c)
			if a == nil || !ok {
				return next(c)
			}
			p := &pending{}
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), pendingKey{}, p)))
			write := func(status int) {
				p.mu.Lock()
				if p.done || (act == actUploadStep && status < 400) {
					p.done = true
					p.mu.Unlock()
					return
				}
				p.done = true
				e := audit.Entry{Who: lifecycle.CallerFrom(c.Request().Context()).Who, Action: act, Name: name, Repository: repo, Detail: p.detail}
				switch {
				case status < 400:
					e.Result = audit.ResultOK
				case status < 500:
					e.Result = audit.ResultRefused
				default:
					e.Result = audit.ResultFailed
				}
				if e.Detail == "" && status >= 400 {
					e.Detail = strconv.Itoa(status) + " " + http.StatusText(status)
				}
				if n := len(p.transitions); n > 0 {
					first, last := p.transitions[0], p.transitions[n-1]
					e.Name, e.Repository, e.Digest, e.From, e.To = last.Name, last.Repository, last.Digest.String(), string(first.From), string(last.To)
					switch {
					case n > 1:
						var acts []string
						for _, t := range p.transitions {
							acts = append(acts, string(t.Action))
						}
						e.Detail = strings.Join(acts, ", ")
					case e.Detail == "":
						e.Detail = last.Reason // the reason the caller gave
					}
				}
				p.mu.Unlock()
				a.append(c.Request().Context(), e)
			}
			c.Response().Before(func() { write(c.Response().Status) })
			err := next(c)
			if !c.Response().Committed {
				// Nothing was answered (the client went away): still on record.
				write(http.StatusInternalServerError)
			}
			return err
		}
	}
}

// actUploadStep is opening an upload session or sending a chunk: nothing
// becomes visible, so only a refusal is worth an entry (and an fsync); the
// blob's arrival is the entry of the request that completes it.
const actUploadStep = "push.blob.step"

// v1Action names a /v1 mutation in the audit log, with the artifact name
// from the query (the body's name is taken from the transition).
func v1Action(act string) func(c echo.Context) (string, string, string, bool) {
	return func(c echo.Context) (string, string, string, bool) {
		return act, c.QueryParam("name"), "", true
	}
}

// v2Action names a /v2 mutation; reads are not audited.
func v2Action(c echo.Context) (act, name, repo string, ok bool) {
	r := c.Request()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return "", "", "", false
	}
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		return "", "", "", false
	}
	switch rt.kind {
	case "manifest":
		act = "push.manifest"
		if r.Method == http.MethodDelete {
			act = "delete.manifest"
		}
		return act, rt.name + refSep(rt.arg) + rt.arg, rt.name, true
	case "blob":
		return "delete.blob", rt.name + "@" + rt.arg, rt.name, true
	case "uploads":
		if r.URL.Query().Get("digest") == "" && r.URL.Query().Get("mount") == "" {
			return actUploadStep, rt.name, rt.name, true
		}
		return "push.blob", rt.name, rt.name, true
	case "upload":
		switch r.Method {
		case http.MethodDelete:
			return "cancel.upload", rt.name, rt.name, true
		case http.MethodPatch:
			return actUploadStep, rt.name, rt.name, true
		}
		return "push.blob", rt.name, rt.name, true
	}
	return "", "", "", false
}

func refSep(ref string) string {
	if strings.Contains(ref, ":") {
		return "@"
	}
	return ":"
}

// auditPage answers GET /v1/audit?from=SEQ&limit=N (admin).
func (h *Handler) auditPage(c echo.Context) error {
	if h.auditor == nil {
		return h.v1Error(c, http.StatusNotFound, "this registry keeps no audit log")
	}
	from, limit := uint64(1), 100
	if v := c.QueryParam("from"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return h.v1Error(c, http.StatusBadRequest, "from must be a sequence number (1 or more)")
		}
		from = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > audit.MaxReadLimit {
			return h.v1Error(c, http.StatusBadRequest, "limit must be 1 to "+strconv.Itoa(audit.MaxReadLimit))
		}
		limit = n
	}
	entries, err := h.auditor.log.Read(c.Request().Context(), from, limit)
	if err != nil {
		return h.v1Fail(c, err)
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	out := map[string]any{"entries": entries}
	if len(entries) == limit {
		out["next"] = entries[len(entries)-1].Seq + 1
	}
	return c.JSON(http.StatusOK, out)
}
