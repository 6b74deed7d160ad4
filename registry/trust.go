package registry

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

// Trust is what the /v1 trust routes need from the lifecycle service: the
// promotion policy and its dry run.
type Trust interface {
	CheckPolicy(ctx context.Context, req lifecycle.PromoteRequest) (lifecycle.PolicyCheck, error)
	PolicyYAML() []byte
}

// routesTrust adds the policy and key routes.
func (h *Handler) routesTrust(g *echo.Group) {
	a := h.auth
	g.POST("/model/policy-check", h.policyCheck, a.v1(h, permRead))
	g.GET("/policy", h.showPolicy, a.v1(h, permRead))
	g.GET("/keys", h.keys, a.v1(h, permNone))
	g.POST("/keys/rotate", h.rotateKey, h.auditor.middleware(v1Action("key_rotate")), a.v1(h, permAdmin))
}

// policyCheck evaluates the policy against an artifact with the evidence a
// promotion would send (the same body; sha256 is not needed), recording
// nothing. 200 whether or not the policy allows it.
func (h *Handler) policyCheck(c echo.Context) error {
	var req lifecycle.PromoteRequest
	if c.Request().ContentLength != 0 && c.Request().Header.Get("Content-Type") != "" {
		if err := decodeJSON(c, &req); err != nil {
			return h.v1Fail(c, err)
		}
	}
	if n := c.QueryParam("name"); n != "" && req.Name == "" {
		req.Name = n
	}
	res, err := h.models.CheckPolicy(c.Request().Context(), req)
	if err != nil {
		return h.v1Fail(c, err)
	}
	return c.JSON(http.StatusOK, res)
}

// showPolicy answers the policy in force, as YAML.
func (h *Handler) showPolicy(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", h.models.PolicyYAML())
}

// keys answers every public key that verifies this registry's
// attestations (current first), PEM: what cosign --key and
// securectl key take.
func (h *Handler) keys(c echo.Context) error {
	if h.keyring == nil {
		return h.v1Error(c, http.StatusNotFound, "this registry has no signing key")
	}
	return c.Blob(http.StatusOK, "application/x-pem-file", h.keyring.PublicKeysPEM())
}

// rotateKey makes a new signing key; the old public key stays trusted for
// the attestations it signed.
func (h *Handler) rotateKey(c echo.Context) error {
	if h.keyring == nil {
		return h.v1Error(c, http.StatusNotFound, "this registry has no signing key")
	}
	k, err := h.keyring.Rotate()
	if err != nil {
		return h.v1Fail(c, err)
	}
	h.log.Info("signing key rotated", "request_id", requestID(c), "key_id", k.ID(), "who", lifecycle.CallerFrom(c.Request().Context()).Who)
	return c.JSON(http.StatusOK, map[string]string{"key_id": k.ID(), "public_key": string(k.PublicKeyPEM())})
}

// policyRefusal writes a 422 listing every unmet rule.
func (h *Handler) policyRefusal(c echo.Context, err error) (bool, error) {
	var pe *lifecycle.PolicyError
	if !errors.As(err, &pe) {
		return false, nil
	}
	noteDetail(c, pe.Error())
	h.metrics.policyRefused(pe.Decision.Unmet)
	return true, c.JSON(http.StatusUnprocessableEntity, map[string]any{
		"error":          pe.Error(),
		"policy_version": pe.Decision.PolicyVersion,
		"policy_digest":  pe.Decision.PolicyDigest,
		"unmet":          pe.Decision.Unmet,
	})
}
