package registry

import (
	"net/http"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// SignIn checks a token typed into the operator page exactly as decide
// checks a request's Bearer token: the same tokens and roles, and a wrong
// token counts towards the same per-address limit, so the sign-in form is no
// faster a guessing oracle than the API. It answers who the token belongs to
// and its role; errors are *lifecycle.Error (unauthorized, forbidden when no
// token is configured, rate limited).
func (a *Auth) SignIn(r *http.Request, secret string) (who string, role token.Role, err error) {
	if a.devMode {
		return "dev-mode", token.Admin, nil
	}
	cr := r.Clone(r.Context())
	cr.Header.Set("Authorization", "Bearer "+secret)
	v := a.decide(cr, permRead)
	switch v.d {
	case allow:
		return v.who.who, v.who.role, nil
	case refuse403:
		return "", "", &lifecycle.Error{Kind: lifecycle.KindForbidden, Msg: a.refusal}
	case limited:
		if err := a.fails.wait(r.Context(), remoteIP(r)); err != nil {
			return "", "", err
		}
		return "", "", &lifecycle.Error{Kind: lifecycle.KindRateLimited, RetryAfter: v.retryAfter,
			Msg: "invalid token, and too many failed attempts from this address: each further failure is answered after a delay"}
	}
	if v.cred == credNone {
		return "", "", &lifecycle.Error{Kind: lifecycle.KindUnauthorized, Msg: "enter a token"}
	}
	return "", "", &lifecycle.Error{Kind: lifecycle.KindUnauthorized, Msg: "invalid token"}
}
