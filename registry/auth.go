package registry

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

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
		return refuse(log, fmt.Sprintf("the service token at SERVICE_TOKEN_PATH cannot be used: %v", err)), nil
	}
	a := &Auth{hasToken: true, tokenSum: sha256.Sum256([]byte(tok))}
	log.Info("service token loaded; mutations require it", "path", cfg.Path)
	return a, nil
}

func refuse(log *slog.Logger, why string) *Auth {
	log.Error("mutations are disabled (fail-closed): " + why)
	return &Auth{refusal: "mutations are disabled on this registry: " + why}
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

// middleware enforces the token on /v2: every mutation needs it; the ping
// (GET /v2/) challenges clients without credentials so that oras, crane,
// skopeo and podman know to send them; wrong credentials are rejected
// everywhere; other reads stay open (the lifecycle gates them by state).
func (a *Auth) middleware(h *Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if a.devMode {
				return next(c)
			}
			r := c.Request()
			cred := a.check(r)
			mutation := isMutation(r.Method)
			ping := r.URL.Path == "/v2/" || r.URL.Path == "/v2"
			switch {
			case cred == credValid:
				return next(c)
			case mutation && !a.hasToken:
				h.log.Warn("mutation refused: no usable service token", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path)
				return h.ociError(c, oci.Errorf(oci.CodeDenied, "%s", a.refusal))
			case cred == credInvalid:
				h.log.Warn("authentication failed", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "remote", c.RealIP())
				return a.challenge(h, c, "invalid credentials: use the registry's service token as the password (any user name) or as a Bearer token")
			case mutation:
				return a.challenge(h, c, "authentication required: this operation needs the registry's service token")
			case ping && a.hasToken:
				return a.challenge(h, c, "authentication required")
			}
			return next(c)
		}
	}
}

func (a *Auth) challenge(h *Handler, c echo.Context, msg string) error {
	c.Response().Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
	return h.ociError(c, oci.Errorf(oci.CodeUnauthorized, "%s", msg))
}
