package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/oci"
)

type errorBody struct {
	Errors []errorItem `json:"errors"`
}

type errorItem struct {
	Code    oci.Code `json:"code"`
	Message string   `json:"message"`
	Detail  any      `json:"detail,omitempty"`
}

// ociError writes err as the distribution spec's error body. Errors that are
// not *oci.Error are internal: they are logged with the request id and the
// client gets a message without paths or other internals.
func (h *Handler) ociError(c echo.Context, err error) error {
	var oe *oci.Error
	switch {
	case errors.As(err, &oe):
	case errors.Is(err, context.Canceled):
		return nil // the client went away; nothing to answer
	default:
		h.log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method, "path", c.Request().URL.Path, "error", err)
		oe = &oci.Error{Code: "UNKNOWN", Status: http.StatusInternalServerError, Message: "internal error; the registry log has the details under request id " + requestID(c)}
	}
	if oe.Status == 0 {
		oe.Status = oci.StatusOf(oe.Code)
	}
	if c.Response().Committed {
		return nil
	}
	noteDetail(c, oe.Message)
	if oe.Status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
	}
	return c.JSON(oe.Status, errorBody{Errors: []errorItem{{Code: oe.Code, Message: oe.Message, Detail: oe.Detail}}})
}

// httpErrorHandler answers what echo itself rejects (unknown routes,
// panics) in the shape of the API the path belongs to.
func (h *Handler) httpErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		if s, ok := he.Message.(string); ok {
			msg = s
		}
	} else {
		h.log.Error("unhandled error", "request_id", requestID(c), "error", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/v1/") || c.Request().URL.Path == "/health" {
		switch status {
		case http.StatusNotFound:
			msg = "no such endpoint"
		case http.StatusMethodNotAllowed:
			msg = "method not allowed"
		}
		_ = h.v1Error(c, status, msg)
		return
	}
	code := oci.Code("UNKNOWN")
	switch status {
	case http.StatusNotFound:
		code, msg = oci.CodeUnsupported, "no such endpoint"
	case http.StatusMethodNotAllowed:
		code = oci.CodeUnsupported
	case http.StatusRequestEntityTooLarge:
		code = oci.CodeSizeInvalid
	}
	_ = c.JSON(status, errorBody{Errors: []errorItem{{Code: code, Message: msg}}})
}

func requestID(c echo.Context) string {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return id
	}
	return c.Request().Header.Get(echo.HeaderXRequestID)
}
