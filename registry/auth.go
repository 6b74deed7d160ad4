package registry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// Realm is the realm of the Basic challenge sent to OCI clients.
const Realm = "ai-model-registry"

// Auth decides who may do what. The zero value refuses everything that
// needs a credential (fail closed).
type Auth struct {
	tokenSum [sha256.Size]byte
	hasToken bool
	who      string // the service token's fingerprint in records
	named    *token.Set
	devMode  bool
	// refusal explains, to the client, why mutations are disabled.
	refusal string
	fails   *failLimiter
}

// TokenConfig says where credentials come from.
type TokenConfig struct {
	// Path is the service token file (SERVICE_TOKEN_PATH): an admin token.
	Path string
	// Generate allows creating Path with a fresh random token when it does
	// not exist. Only the documented first-start path sets it; a token
	// path configured by an operator is never created.
	Generate bool
	// TokensPath is the named tokens file with roles (TOKENS_PATH); empty
	// for none. A configured file that cannot be read stops the start.
	TokensPath string
	// DevMode disables authentication (INSECURE_DEV_MODE=true).
	DevMode bool
}

// LoadAuth reads the service token and the named tokens. A missing, empty,
// short or unsafe service token does not stop the registry: it starts with
// what needs a credential refused (unless named tokens exist), and the
// refusal message says how to fix it.
func LoadAuth(cfg TokenConfig, log *slog.Logger) (*Auth, error) {
	if cfg.DevMode {
		log.Warn("INSECURE_DEV_MODE=true — auth will not be enforced: anyone who can reach this port can push, delete and (later) promote. Never use this outside local development.")
		return &Auth{devMode: true}, nil
	}
	var named *token.Set
	if cfg.TokensPath != "" {
		var err error
		if named, err = token.LoadFile(cfg.TokensPath); err != nil {
			return nil, fmt.Errorf("TOKENS_PATH: %w", err)
		}
		log.Info("named tokens loaded", "path", cfg.TokensPath, "tokens", named.Len())
	}
	if cfg.Path == "" {
		return refuse(log, named, "no service token is configured: set SERVICE_TOKEN_PATH to a file holding a token of at least 32 characters (e.g. `openssl rand -hex 32 > token && chmod 600 token`)"), nil
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
		return refuse(log, named, "the file SERVICE_TOKEN_PATH names is missing or unusable (the registry log says why); put a token of at least 32 characters in it (`openssl rand -hex 32 > FILE && chmod 600 FILE`) and restart the registry"), nil
	}
	id := sha256.Sum256([]byte("ai-model-registry token id:" + tok))
	a := &Auth{hasToken: true, tokenSum: sha256.Sum256([]byte(tok)), who: "token:" + hex.EncodeToString(id[:4]), named: named, fails: newFailLimiter()}
	log.Info("service token loaded; mutations require it", "path", cfg.Path)
	return a, nil
}

func refuse(log *slog.Logger, named *token.Set, why string) *Auth {
	if named.Len() > 0 {
		log.Warn("the service token is unusable; only the named tokens are accepted: " + why)
	} else {
		log.Error("requests that need the service token are refused (fail-closed): " + why)
	}
	return &Auth{named: named, fails: newFailLimiter(),
		refusal: "this registry has no usable service token, so it refuses every request that needs one: " + why}
}

// RequiresAuth reports whether mutations need a token (false in dev mode).
func (a *Auth) RequiresAuth() bool { return !a.devMode }

// configured reports whether any credential can succeed.
func (a *Auth) configured() bool { return a.hasToken || a.named.Len() > 0 }

type credential int

const (
	credNone credential = iota
	credValid
	credInvalid
)

// principal is who a valid credential belongs to.
type principal struct {
	who  string // in records: the service token's fingerprint, or a named token's name
	name string // the token's name, for messages ("service token" for the admin token)
	role token.Role
}

// check classifies the request's credentials: a Bearer token, or Basic auth
// whose password is the token (any user name), compared in constant time
// over SHA-256 sums so the token length does not leak either.
func (a *Auth) check(r *http.Request) (credential, principal) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return credNone, principal{}
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
			return credInvalid, principal{}
		}
		_, pass, _ := strings.Cut(string(raw), ":")
		secret = pass
	default:
		return credInvalid, principal{}
	}
	if secret == "" {
		return credNone, principal{} // some clients send empty Basic credentials when they have none
	}
	sum := sha256.Sum256([]byte(secret))
	service := a.hasToken && subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
	n, isNamed := a.named.Match(secret)
	switch {
	case service:
		return credValid, principal{who: a.who, name: "the service token", role: token.Admin}
	case isNamed:
		return credValid, principal{who: n.Name, name: fmt.Sprintf("token %q", n.Name), role: n.Role}
	}
	return credInvalid, principal{}
}

// perm is what a route needs.
type perm int

const (
	permNone    perm = iota // open (the lifecycle still gates what is served)
	permRead                // any valid token
	permPush                // pusher, admin
	permPromote             // promoter, admin
	permAdmin               // admin
)

func (p perm) String() string {
	return [...]string{"nothing", "a token", "the pusher or admin role", "the promoter or admin role", "the admin role"}[p]
}

func allows(role token.Role, p perm) bool {
	switch p {
	case permNone, permRead:
		return true
	case permPush:
		return role == token.Pusher || role == token.Admin
	case permPromote:
		return role == token.Promoter || role == token.Admin
	}
	return role == token.Admin
}

// caller names who a request comes from, for transition records.
func (a *Auth) caller(cred credential, p principal) lifecycle.Caller {
	switch {
	case a.devMode:
		return lifecycle.Caller{Authenticated: true, Who: "dev-mode"}
	case cred == credValid:
		return lifecycle.Caller{Authenticated: true, Who: p.who}
	}
	return lifecycle.Caller{Who: "anonymous"}
}

// decision is what the credential check concluded for a request.
type decision int

const (
	allow     decision = iota
	refuse403          // no usable credential is configured at all
	challenge          // 401: missing or wrong credentials
	forbidden          // 403: a valid token without the role the route needs
	limited            // 429: too many failed attempts from this client
)

// verdict is decide's answer.
type verdict struct {
	d          decision
	cred       credential
	who        principal
	need       perm
	retryAfter time.Duration
}

// decide is the one credential check, shared by both APIs. A route needs a
// permission; credentials that are present but wrong are refused
// everywhere, and counted: beyond maxFails in a window, a client's failed
// attempts are answered one at a time, after failDelay each (limited).
// Valid tokens are never slowed down, so a client failing on purpose
// cannot lock out others behind the same address (a proxy).
func (a *Auth) decide(r *http.Request, need perm) verdict {
	cred, p := a.check(r)
	v := verdict{cred: cred, who: p, need: need}
	if a.devMode {
		return v
	}
	switch {
	case cred == credValid && allows(p.role, need):
	case cred == credValid:
		v.d = forbidden
	case need > permNone && !a.configured():
		v.d = refuse403
	case cred == credInvalid:
		v.d = challenge
		if a.fails.fail(remoteIP(r)) > maxFails {
			v.d, v.retryAfter = limited, failDelay
		}
	case need > permNone:
		v.d = challenge
	}
	return v
}

// remoteIP is the connection's address: never a forwarding header, which
// the client controls.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// v2Need is what a /v2 request needs: the ping asks for credentials (so
// clients know to send them), reads are open (the lifecycle gates them),
// pushes need a pusher, deletes an admin (cancelling an upload is part of
// pushing).
func (a *Auth) v2Need(r *http.Request) perm {
	switch {
	case r.URL.Path == "/v2/" || r.URL.Path == "/v2":
		if a.configured() {
			return permRead
		}
		return permNone
	case r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions:
		return permNone
	case r.Method == http.MethodDelete && !strings.Contains(r.URL.Path, "/blobs/uploads/"):
		return permAdmin
	}
	return permPush
}

// middleware enforces credentials on /v2. Errors are OCI JSON.
func (a *Auth) middleware(h *Handler) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			v := a.decide(r, a.v2Need(r))
			h.metrics.authVerdict(v)
			switch v.d {
			case refuse403:
				h.log.Warn("request refused: no usable service token", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path)
				return h.ociError(c, oci.Errorf(oci.CodeDenied, "%s", a.refusal))
			case forbidden:
				h.log.Warn("request refused: role", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "who", v.who.who, "role", v.who.role)
				return h.ociError(c, oci.Errorf(oci.CodeDenied, "%s has the %s role; this operation needs %s", v.who.name, v.who.role, v.need))
			case limited:
				if err := a.fails.wait(r.Context(), remoteIP(r)); err != nil {
					return nil
				}
				h.log.Warn("authentication failed; client slowed down", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "remote", remoteIP(r))
				c.Response().Header().Set("Retry-After", retrySeconds(v.retryAfter))
				return h.ociError(c, oci.Errorf(oci.CodeTooManyRequests, "invalid credentials, and too many failed attempts from this address: each further failure is answered after a delay"))
			case challenge:
				msg := "authentication required: this operation needs the registry's service token"
				if v.cred == credInvalid {
					h.log.Warn("authentication failed", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "remote", remoteIP(r))
					msg = "invalid credentials: use the registry's service token as the password (any user name) or as a Bearer token"
				}
				c.Response().Header().Set("WWW-Authenticate", `Basic realm="`+Realm+`", charset="UTF-8"`)
				return h.ociError(c, oci.Errorf(oci.CodeUnauthorized, "%s", msg))
			}
			c.SetRequest(r.WithContext(lifecycle.WithCaller(r.Context(), a.caller(v.cred, v.who))))
			return next(c)
		}
	}
}

// v1 enforces need on one /v1 route. Errors are /v1 JSON.
func (a *Auth) v1(h *Handler, need perm) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			v := a.decide(r, need)
			h.metrics.authVerdict(v)
			switch v.d {
			case refuse403:
				h.log.Warn("request refused: no usable service token", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path)
				return h.v1Error(c, http.StatusForbidden, a.refusal)
			case forbidden:
				h.log.Warn("request refused: role", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "who", v.who.who, "role", v.who.role)
				return h.v1Error(c, http.StatusForbidden, fmt.Sprintf("%s has the %s role; this operation needs %s", v.who.name, v.who.role, v.need))
			case limited:
				if err := a.fails.wait(r.Context(), remoteIP(r)); err != nil {
					return nil
				}
				h.log.Warn("authentication failed; client slowed down", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "remote", remoteIP(r))
				c.Response().Header().Set("Retry-After", retrySeconds(v.retryAfter))
				return h.v1Error(c, http.StatusTooManyRequests, "invalid service token, and too many failed attempts from this address: each further failure is answered after a delay")
			case challenge:
				msg := "authentication required: send the service token as Authorization: Bearer <token>"
				if v.cred == credInvalid {
					h.log.Warn("authentication failed", "request_id", requestID(c), "method", r.Method, "path", r.URL.Path, "remote", remoteIP(r))
					msg = "invalid service token"
				}
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
				return h.v1Error(c, http.StatusUnauthorized, msg)
			}
			c.SetRequest(r.WithContext(lifecycle.WithCaller(r.Context(), a.caller(v.cred, v.who))))
			return next(c)
		}
	}
}

func retrySeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

// failLimiter counts failed authentications per client address. Beyond
// maxFails in a window, that client's failures are answered one at a time
// after failDelay each, so guessing runs at most 1/failDelay per address
// however many connections it opens. It holds at most maxClients
// addresses (expired windows, then the oldest, are dropped first).
type failLimiter struct {
	mu  sync.Mutex
	m   map[string]*failWindow
	now func() time.Time
}

type failWindow struct {
	n     int
	start time.Time
	slot  chan struct{} // one delayed answer at a time
}

const (
	maxFails      = 20
	failWindowLen = time.Minute
	failDelay     = 500 * time.Millisecond
	maxClients    = 4096
)

func newFailLimiter() *failLimiter {
	return &failLimiter{m: map[string]*failWindow{}, now: time.Now}
}

// fail counts a failure and returns the client's count in the window.
func (l *failLimiter) fail(ip string) int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w, ok := l.m[ip]
	if !ok || now.Sub(w.start) >= failWindowLen {
		if !ok && len(l.m) >= maxClients {
			l.evict(now)
		}
		slot := make(chan struct{}, 1)
		if ok {
			slot = w.slot // waiters of the old window keep their turn
		}
		w = &failWindow{start: now, slot: slot}
		l.m[ip] = w
	}
	w.n++
	return w.n
}

// wait takes the client's turn and holds it for failDelay.
func (l *failLimiter) wait(ctx context.Context, ip string) error {
	l.mu.Lock()
	w, ok := l.m[ip]
	l.mu.Unlock()
	if !ok {
		return nil
	}
	select {
	case w.slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.slot }()
	t := time.NewTimer(failDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// evict drops expired windows, or the oldest one when none has expired.
func (l *failLimiter) evict(now time.Time) {
	oldest := ""
	for ip, w := range l.m {
		if now.Sub(w.start) >= failWindowLen {
			delete(l.m, ip)
		} else if oldest == "" || w.start.Before(l.m[oldest].start) {
			oldest = ip
		}
	}
	if len(l.m) >= maxClients && oldest != "" {
		delete(l.m, oldest)
	}
}
