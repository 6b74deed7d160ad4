package registry

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// Realm is the realm of the Basic challenge sent to OCI clients.
const Realm = "ai-model-registry"

// Auth decides who may mutate the registry. The zero value refuses every
// mutation (fail closed).
type Auth struct {
	tokenSum [sha256.Size]byte
	hasToken bool
	who      string // the token's fingerprint in transition records
	devMode  bool
	// refusal explains, to the client, why mutations are disabled.
	refusal string
}

// TokenConfig says where the service token comes from.
type TokenConfig struct {
	// Path is the token file (SERVICE_TOKEN_PATH).
	Path string
	// Generate allows creating Path with a fresh random token when it does
	// not exist. Only the documented first-start path sets it; a token
	// path configured by an operator is never created.
	Generate bool
	// DevMode disables authentication (INSECURE_DEV_MODE=true).
	DevMode bool
}

// LoadAuth reads the service token. A missing, empty, short or unsafe token
// does not stop the registry: it starts with mutations refused, and the
// refusal message says how to fix it.
func LoadAuth(cfg TokenConfig, log *slog.Logger) (*Auth, error) {
	if cfg.DevMode {
		log.Warn("INSECURE_DEV_MODE=true — auth will not be enforced: anyone who can reach this port can push, delete and (later) promote. Never use this outside local development.")
		return &Auth{devMode: true}, nil
	}
	if cfg.Path == "" {
		return refuse(log, "no service token is configured: set SERVICE_TOKEN_PATH to a file holding a token of at least 32 characters (e.g. `openssl rand -hex 32 > token && chmod 600 token`)"), nil
	}
	if cfg.Generate {
		created, err := token.Generate(cfg.Path)
		if err != nil {
			return nil, fmt.Errorf("create service token %s: %w", cfg.Path, err)
		}
		if created {
			log.Info("generated a new service token (owner-only file); use it as the password (any user name) or as a Bearer token", "path", cfg.Path)
		}
	}
	tok, err := token.Read(cfg.Path)
	if err != nil {
		// The details (with the path) go to the log only; clients learn
		// what to do, not where files are.
		log.Error("the service token cannot be used", "path", cfg.Path, "error", err)
		return refuse(log, "the file SERVICE_TOKEN_PATH names is missing or unusable (the registry log says why); put a token of at least 32 characters in it (`openssl rand -hex 32 > FILE && chmod 600 FILE`) and restart the registry"), nil
	}
	id := sha256.Sum256([]byte("ai-model-registry token id:" + tok))
	a := &Auth{hasToken: true, tokenSum: sha256.Sum256([]byte(tok)), who: "token:" + hex.EncodeToString(id[:4])}
	log.Info("service token loaded; mutations require it", "path", cfg.Path)
	return a, nil
}

func refuse(log *slog.Logger, why string) *Auth {
	log.Error("requests that need the service token are refused (fail-closed): " + why)
	return &Auth{refusal: "this registry has no usable service token, so it refuses every request that needs one: " + why}
}

// RequiresAuth reports whether mutations need a token (false in dev mode).
func (a *Auth) RequiresAuth() bool { return !a.devMode }

type credential int

const (
	credNone credential = iota
	credValid
	credInvalid
)

// check classifies the request's credentials: a Bearer token, or Basic auth
// whose password is the token (any user name), compared in constant time
// over SHA-256 sums so the token length does not leak either.
func (a *Auth) check(r *http.Request) credential {
	h := r.Header.Get("Authorization")
	if h == "" {
		return credNone
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	var secret string
	switch strings.ToLower(scheme) {
	case "bearer":
		secret = rest
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return credInvalid
		}
		_, pass, _ := strings.Cut(string(raw), ":")
		secret = pass
	default:
		return credInvalid
	}
	if secret == "" {
		return credNone // some clients send empty Basic credentials when they have none
	}
	if !a.hasToken {
		return credInvalid
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1 {
		return credValid
	}
	return credInvalid
}

func isMutation(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// caller names who a request comes from, for transition records: a short
// fingerprint of the token (never the token), or "dev-mode".
func (a *Auth) caller(cred credential) lifecycle.Caller {
	switch {
	case a.devMode:
		return lifecycle.Caller{Authenticated: true, Who: "dev-mode"}
	case cred == credValid:
		return lifecycle.Caller{Authenticated: true, Who: a.who}
	}
	return lifecycle.Caller{Who: "anonymous"}
}

// decision is what the token check concluded for a request.
type decision int

const (
	allow     decision = iota
	refuse403          // mutations are disabled: no usable token configured
	challenge          // 401: missing or wrong credentials
)

// decide is the one token check, shared by both APIs. Mutations need the
// token; reads need it when needToken says so; credentials that are present
// but wrong are refused everywhere; the /v2 ping challenges clients without
// credentials so oras, crane, skopeo and podman know to send them.
func (a *Auth) decide(r *http.Request, needToken bool) (decision, credential) {
	cred := a.check(r)
	if a.devMode {
		return allow, cred
	}
	switch {
	case cred == credValid:
		return allow, cred
	case (isMutation(r.Method) || needToken) && !a.hasToken:
		return refuse403, cred
	case cred == credInvalid || isMutation(r.Method) || needToken:
		return challenge, cred
	}
	return allow, cred
}

// middleware enforces the token on /v2: every mutation needs it, the ping
// challenges, other reads stay open (the lifecycle gates them by state).
func (a *Auth) middleware(h *Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			ping := r.URL.Path == "/v2/" || r.URL.Path == "/v2"
			d, cred := a.decide(r, ping && a.hasToken)
			switch d {
			case refuse403:
				h.log.Warn("mutation refused: no usable service token", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path)
				return h.ociError(c, oci.Errorf(oci.CodeDenied, "%s", a.refusal))
			case challenge:
				msg := "authentication required: this operation needs the registry's service token"
				if cred == credInvalid {
					h.log.Warn("authentication failed", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "remote", c.RealIP())
					msg = "invalid credentials: use the registry's service token as the password (any user name) or as a Bearer token"
				}
				c.Response().Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
				return h.ociError(c, oci.Errorf(oci.CodeUnauthorized, "%s", msg))
			}
			c.SetRequest(r.WithContext(lifecycle.WithCaller(r.Context(), a.caller(cred))))
			return next(c)
		}
	}
}

// v1Middleware enforces the token on /v1: everything needs it except the
// routes in open (runtime path resolution). Errors are /v1 JSON.
func (a *Auth) v1Middleware(h *Handler, open ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			d, cred := a.decide(r, !slices.Contains(open, r.URL.Path))
			switch d {
			case refuse403:
				h.log.Warn("request refused: no usable service token", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path)
				return h.v1Error(c, http.StatusForbidden, a.refusal)
			case challenge:
				msg := "authentication required: send the service token as Authorization: Bearer <token>"
				if cred == credInvalid {
					h.log.Warn("authentication failed", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "remote", c.RealIP())
					msg = "invalid service token"
				}
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
				return h.v1Error(c, http.StatusUnauthorized, msg)
			}
			c.SetRequest(r.WithContext(lifecycle.WithCaller(r.Context(), a.caller(cred))))
			return next(c)
		}
	}
}
