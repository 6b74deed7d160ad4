// Command registry runs the ai-model-registry server: the OCI distribution
// API (/v2) over an on-disk OCI image layout store.
//
// Configuration is by environment variable (see the README table); the only
// flag is -quickstart, the documented first-start path that uses
// ./registry-data and generates an owner-only token there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ai-model-registry/ai-model-registry/audit"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/lockfile"
	"github.com/ai-model-registry/ai-model-registry/ocilayout"
	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/provenance"
	"github.com/ai-model-registry/ai-model-registry/registry"
	"github.com/ai-model-registry/ai-model-registry/ui"
)

func main() {
	quickstart := flag.Bool("quickstart", false, "first start for a newcomer: data in ./registry-data (unless REGISTRY_DIR is set) and a generated owner-only token there (unless SERVICE_TOKEN_PATH is set)")
	flag.Parse()
	if err := run(*quickstart); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

type config struct {
	bindAddr        string
	dir             string
	importDir       string
	integrityPath   string
	lockPath        string
	integrityEvery  time.Duration
	tokenPath       string
	tokensPath      string
	policyPath      string
	keyDir          string
	auditDir        string
	checkpointEvery time.Duration
	requireProv     bool
	metricsToken    *bool // METRICS_REQUIRE_TOKEN; nil: decided by the listening address
	generateToken   bool
	devMode         bool
	remoteBind      bool
	uploadMaxAge    time.Duration
	idleTimeout     time.Duration
	maxUploads      int
	logLevel        slog.Level
}

func loadConfig(quickstart bool) (config, error) {
	var c config
	var err error
	c.bindAddr = env("BIND_ADDR", "127.0.0.1:8470")
	c.dir = env("REGISTRY_DIR", "/registry")
	if quickstart && os.Getenv("REGISTRY_DIR") == "" {
		c.dir = "registry-data"
	}
	c.importDir = env("IMPORT_DIR", filepath.Join(c.dir, "import"))
	c.integrityPath = env("INTEGRITY_RESULT_PATH", "/var/lib/secure-ai/logs/integrity-last.json")
	if quickstart && os.Getenv("INTEGRITY_RESULT_PATH") == "" {
		c.integrityPath = filepath.Join(c.dir, "integrity-last.json")
	}
	c.lockPath = env("REGISTRY_LOCK_PATH", "/etc/secure-ai/policy/models.lock.yaml")
	if quickstart && os.Getenv("REGISTRY_LOCK_PATH") == "" {
		c.lockPath = filepath.Join(c.dir, "models.lock.yaml")
	}
	c.tokenPath = env("SERVICE_TOKEN_PATH", "/run/secure-ai/service-token")
	if quickstart && os.Getenv("SERVICE_TOKEN_PATH") == "" {
		c.tokenPath = filepath.Join(c.dir, "service-token")
		c.generateToken = true
	}
	c.tokensPath = os.Getenv("TOKENS_PATH")
	c.policyPath = os.Getenv("POLICY_PATH")
	c.keyDir = env("SIGNING_KEY_DIR", filepath.Join(c.dir, "keys"))
	c.auditDir = env("AUDIT_DIR", filepath.Join(c.dir, "audit"))
	if v := os.Getenv("AUDIT_CHECKPOINT_INTERVAL"); v == "0" {
		c.checkpointEvery = 0 // disabled
	} else if c.checkpointEvery, err = envDuration("AUDIT_CHECKPOINT_INTERVAL", time.Hour); err != nil {
		return c, err
	}
	c.requireProv = true
	if os.Getenv("REQUIRE_SIGNED_PROVENANCE") != "" {
		if c.requireProv, err = envBool("REQUIRE_SIGNED_PROVENANCE"); err != nil {
			return c, err
		}
	}
	if os.Getenv("METRICS_REQUIRE_TOKEN") != "" {
		v, err := envBool("METRICS_REQUIRE_TOKEN")
		if err != nil {
			return c, err
		}
		c.metricsToken = &v
	}
	if c.devMode, err = envBool("INSECURE_DEV_MODE"); err != nil {
		return c, err
	}
	if c.remoteBind, err = envBool("ALLOW_REMOTE_BIND"); err != nil {
		return c, err
	}
	if v := os.Getenv("INTEGRITY_INTERVAL"); v == "0" {
		c.integrityEvery = 0 // disabled
	} else if c.integrityEvery, err = envDuration("INTEGRITY_INTERVAL", 15*time.Minute); err != nil {
		return c, err
	}
	if c.uploadMaxAge, err = envDuration("UPLOAD_MAX_AGE", 24*time.Hour); err != nil {
		return c, err
	}
	if c.idleTimeout, err = envDuration("TRANSFER_IDLE_TIMEOUT", 60*time.Second); err != nil {
		return c, err
	}
	if c.maxUploads, err = envInt("MAX_UPLOADS", 1024); err != nil {
		return c, err
	}
	if err := c.logLevel.UnmarshalText([]byte(env("LOG_LEVEL", "info"))); err != nil {
		return c, fmt.Errorf("LOG_LEVEL: %w (use debug, info, warn or error)", err)
	}
	host, _, err := net.SplitHostPort(c.bindAddr)
	if err != nil {
		return c, fmt.Errorf("BIND_ADDR %q: %w (use host:port, e.g. 127.0.0.1:8470)", c.bindAddr, err)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	if !loopback && !c.remoteBind {
		return c, fmt.Errorf("BIND_ADDR %q is not a loopback address; set ALLOW_REMOTE_BIND=true to listen beyond this host (and read the README's threat model first)", c.bindAddr)
	}
	if !loopback && c.devMode {
		return c, fmt.Errorf("INSECURE_DEV_MODE=true is refused with a non-loopback BIND_ADDR %q", c.bindAddr)
	}
	return c, nil
}

func run(quickstart bool) error {
	cfg, err := loadConfig(quickstart)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The server listens before boot recovery, behind a Gate that answers
	// /health, /ready (503 until recovery ends), /metrics, and 503 with
	// Retry-After to the API: a large store or lock may take minutes.
	auth, err := registry.LoadAuth(registry.TokenConfig{Path: cfg.tokenPath, Generate: cfg.generateToken, TokensPath: cfg.tokensPath, DevMode: cfg.devMode}, log)
	if err != nil {
		return err
	}
	metrics, err := registry.NewMetrics(prometheus.NewRegistry(), log)
	if err != nil {
		return err
	}
	ln, err := listen(cfg)
	if err != nil {
		return err
	}
	metricsToken := metricsTokenRequired(cfg.metricsToken, ln.Addr())
	gate := registry.NewGate(registry.Config{Auth: auth, Metrics: metrics, MetricsRequireToken: metricsToken, Logger: log})
	srv := registry.Server(cfg.bindAddr, gate, log)
	defer srv.Close() // when recovery fails; a clean stop shuts down below
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("registry listening; recovering the store, not ready yet", "addr", ln.Addr().String(), "dir", cfg.dir,
		"auth_required", auth.RequiresAuth(), "metrics_require_token", metricsToken)

	store, err := ocilayout.Open(ctx, ocilayout.Config{
		Dir:          cfg.dir,
		UploadMaxAge: cfg.uploadMaxAge,
		MaxUploads:   cfg.maxUploads,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing storage", "error", err)
		}
	}()
	if err := os.MkdirAll(cfg.importDir, 0o750); err != nil {
		return fmt.Errorf("IMPORT_DIR %s: %w", cfg.importDir, err)
	}
	pol, err := loadPolicy(cfg.policyPath, log)
	if err != nil {
		return err
	}
	keys, err := provenance.OpenKeyring(cfg.keyDir)
	if err != nil {
		return fmt.Errorf("SIGNING_KEY_DIR: %w", err)
	}
	log.Info("attestation signing key", "dir", cfg.keyDir, "key_id", keys.Current().ID(), "trusted_keys", len(keys.PublicKeys()),
		"require_signed_provenance", cfg.requireProv)
	if !cfg.requireProv {
		log.Warn("REQUIRE_SIGNED_PROVENANCE=false: trusted artifacts are served even when their promotion attestation is missing or does not verify")
	}
	auditLog, err := audit.Open(ctx, cfg.auditDir, audit.Options{Logger: log})
	if err != nil {
		return fmt.Errorf("AUDIT_DIR: %w", err)
	}
	defer func() {
		// A last checkpoint, so that a cut tail is detectable up to here.
		if cfg.checkpointEvery > 0 {
			checkpoint(context.Background(), auditLog, keys, log)
		}
		if err := auditLog.Close(); err != nil {
			log.Error("closing the audit log", "error", err)
		}
	}()
	auditor := registry.NewAuditor(auditLog, log)
	models, err := lifecycle.New(ctx, lifecycle.Config{Store: store, Files: store, ImportDir: cfg.importDir, Logger: log,
		IntegrityInterval: cfg.integrityEvery, IntegrityResultPath: cfg.integrityPath,
		Policy: pol, Keys: keys, RequireProvenance: cfg.requireProv, Version: buildVersion(),
		OnTransition: onTransitions(auditor.Transition, metrics.Transition), OnIntegrityCheck: metrics.IntegrityCheck})
	if err != nil {
		return err
	}
	if err := applyLock(ctx, models, cfg.lockPath, log); err != nil {
		return err
	}
	if cfg.integrityEvery > 0 {
		if err := os.MkdirAll(filepath.Dir(cfg.integrityPath), 0o750); err != nil {
			log.Warn("the integrity result directory cannot be created; periodic checks will run but not record their result", "error", err)
		}
	}
	go models.RunIntegrityChecks(ctx)
	go models.RunTensorWorker(ctx)
	if cfg.checkpointEvery > 0 {
		go func() {
			t := time.NewTicker(cfg.checkpointEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					checkpoint(ctx, auditLog, keys, log)
				}
			}
		}()
	}
	page, err := ui.New(ui.Config{Catalog: models, Integrity: models, Audit: auditLog, Auth: auth, Logger: log})
	if err != nil {
		return err
	}
	h, err := registry.New(registry.Config{Backend: models.Gate(store), Models: models, IntegrityResultPath: cfg.integrityPath, IntegrityInterval: cfg.integrityEvery,
		Auth: auth, Keys: keys, Auditor: auditor, Logger: log, IdleTimeout: cfg.idleTimeout, UI: page,
		Metrics: metrics, MetricsRequireToken: metricsToken, Check: store.Check})
	if err != nil {
		return err
	}
	if err := metrics.Watch(models.Counts, store.UploadSessions); err != nil {
		return err
	}
	gate.Ready(h)
	log.Info("registry ready", "addr", ln.Addr().String(), "dir", store.Dir())
	if quickstart {
		tok := cfg.tokenPath
		if abs, err := filepath.Abs(tok); err == nil {
			tok = abs
		}
		fmt.Printf("\nai-model-registry is running on http://%s (data: %s)\nService token: %s\nTry:  oras push --plain-http -u registry -p \"$(cat %s)\" %s/demo/model:v1 model.gguf\n\n",
			ln.Addr(), store.Dir(), tok, tok, ln.Addr())
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case <-ctx.Done():
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("shutdown did not finish cleanly", "error", err)
		}
	}
	return nil
}

// onTransitions hands each lifecycle transition to every hook in turn (the
// audit log, then the metrics).
func onTransitions(hooks ...func(context.Context, lifecycle.Transition)) func(context.Context, lifecycle.Transition) {
	return func(ctx context.Context, t lifecycle.Transition) {
		for _, h := range hooks {
			h(ctx, t)
		}
	}
}

// metricsTokenRequired is METRICS_REQUIRE_TOKEN when set; by default
// /metrics needs a token unless the server listens on this host only (a
// loopback address or a Unix socket). The address is the listener's, which
// a systemd socket may have chosen instead of BIND_ADDR.
func metricsTokenRequired(set *bool, addr net.Addr) bool {
	if set != nil {
		return *set
	}
	tcp, ok := addr.(*net.TCPAddr)
	return ok && !tcp.IP.IsLoopback()
}

// loadPolicy reads POLICY_PATH, or takes the strict default, and prints
// it: an operator must be able to see what decides promotions. A file that
// cannot be read or parsed stops the start; it never falls back to the
// default, which might be stricter or looser than what was meant.
func loadPolicy(path string, log *slog.Logger) (*policy.Policy, error) {
	p := policy.Default()
	if path != "" {
		var err error
		if p, err = policy.Load(path); err != nil {
			return nil, fmt.Errorf("POLICY_PATH: %w", err)
		}
	}
	uri := p.URI()
	log.Info("promotion policy", "uri", uri, "version", p.Version(), "digest", p.Digest(), "policy", string(p.YAML()))
	return p, nil
}

// checkpoint signs the audit log's head with the attestation key, so that
// entries cut off its end are detectable.
func checkpoint(ctx context.Context, l *audit.Log, keys *provenance.Keyring, log *slog.Logger) {
	k := keys.Current()
	cp, err := l.Checkpoint(ctx, k.Sign, k.ID())
	if err != nil {
		log.Error("audit checkpoint not written", "error", err)
		return
	}
	log.Debug("audit checkpoint", "count", cp.Count, "head", cp.Head)
}

// buildVersion is the module version the binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// applyLock reads REGISTRY_LOCK_PATH and applies it. No file is no lock;
// a file that cannot be read or parsed stops the start, because a lock
// that blocks a model must never be skipped silently.
func applyLock(ctx context.Context, models *lifecycle.Service, path string, log *slog.Logger) error {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		log.Info("no lock file; nothing to apply", "path", path)
		return nil
	case err != nil:
		return fmt.Errorf("REGISTRY_LOCK_PATH: %w", err)
	}
	defer f.Close()
	// One byte over the limit is enough for Parse to refuse it by size.
	data, err := io.ReadAll(io.LimitReader(f, lockfile.MaxInputBytes+1))
	if err != nil {
		return fmt.Errorf("REGISTRY_LOCK_PATH: %w", err)
	}
	l, err := lockfile.Parse(data)
	if err != nil {
		var le *lockfile.Error
		if errors.As(err, &le) {
			le.File = path
		}
		return fmt.Errorf("REGISTRY_LOCK_PATH: %w", err)
	}
	outcomes := models.ApplyLock(ctx, l, filepath.Base(path))
	failed := 0
	for _, o := range outcomes {
		if o.Action == "missing" || o.Action == "mismatch" {
			failed++
		}
	}
	log.Info("lock applied", "path", path, "entries", len(outcomes), "not_served", failed)
	return nil
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envBool(name string) (bool, error) {
	switch v := os.Getenv(name); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, fmt.Errorf("%s=%q: use true or false", name, v)
	}
}

func envDuration(name string, def time.Duration) (time.Duration, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: use a positive duration such as 30s, 15m or 24h", name, v)
	}
	return d, nil
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: use a positive integer", name, v)
	}
	return n, nil
}
