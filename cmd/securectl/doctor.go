package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ai-model-registry/ai-model-registry/client"
	"github.com/ai-model-registry/ai-model-registry/provenance"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// The outcomes of a doctor check. SKIP is a check that could not be made
// here (nothing to check, or what it needs failed an earlier check).
const (
	checkOK   = "OK"
	checkWarn = "WARN"
	checkFail = "FAIL"
	checkSkip = "SKIP"
)

const (
	// maxClockSkew is how far this host's clock may be off the registry's
	// before doctor warns: timestamps in attestations, audit entries and
	// the integrity result's freshness are read across the two.
	maxClockSkew = 30 * time.Second
	// probeTimeout bounds each request doctor sends.
	probeTimeout = 10 * time.Second
)

// check is one line of doctor's report.
type check struct {
	Name   string `json:"check"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctor holds what one check tells the later ones.
type doctor struct {
	cl        *cli
	tokenOK   bool          // the token file passed (OK or WARN)
	reachable bool          // /health answered
	health    client.Health // its answer, when it parsed
	healthed  bool
	probe     client.Probe // the /health exchange, for the clock
}

func runDoctor(ctx context.Context, cl *cli, _ *options, _ []string) error {
	d := &doctor{cl: cl}
	checks := []check{
		d.tokenFile(),
		d.registry(ctx),
		d.auth(),
		d.remote(ctx, "ready", d.ready),
		d.clock(),
		d.remote(ctx, "keys", d.keys),
		keyFiles(),
		d.remote(ctx, "token accepted", d.tokenAccepted),
	}
	failed := 0
	for _, c := range checks {
		if c.Status == checkFail {
			failed++
		}
	}
	if cl.json {
		out, err := json.Marshal(struct {
			Checks []check `json:"checks"`
			Failed int     `json:"failed"`
		}{checks, failed})
		if err != nil {
			return err
		}
		cl.raw(out)
	} else {
		tw := newTable(cl.stdout)
		for _, c := range checks {
			line := c.Detail
			if c.Fix != "" {
				line += "; fix: " + c.Fix
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %d of %d checks FAILED", failed, len(checks))
	}
	return nil
}

// tokenFile checks SERVICE_TOKEN_PATH by the rules token.Read applies
// (which refuses a group/other-writable file) and warns about a file
// others may read.
func (d *doctor) tokenFile() check {
	c := check{Name: "token file"}
	path := d.cl.tokenPath
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c.fail(path+" does not exist",
			"set SERVICE_TOKEN_PATH to the registry's service token file, or to a named token made with `securectl token new`")
	case err != nil:
		return c.fail(err.Error(), "run securectl as a user that may read "+path)
	case !fi.Mode().IsRegular():
		return c.fail(path+" is not a regular file", "point SERVICE_TOKEN_PATH at the token file itself")
	case fi.Mode().Perm()&0o022 != 0:
		return c.fail(fmt.Sprintf("%s is writable by group or others (mode %04o): it is refused", path, fi.Mode().Perm()), "chmod 600 "+path)
	}
	if _, err := token.Read(path); err != nil {
		return c.fail(err.Error(), fmt.Sprintf("put one token of at least %d characters in it, e.g. `openssl rand -hex 32`", token.MinLength))
	}
	d.tokenOK = true
	if m := fi.Mode().Perm(); m&0o044 != 0 {
		return c.warn(fmt.Sprintf("%s is readable by group or others (mode %04o)", path, m), "chmod 600 "+path)
	}
	return c.ok(fmt.Sprintf("%s: a regular file, mode %04o, holding a valid token", path, fi.Mode().Perm()))
}

// registry checks that REGISTRY_URL answers /health.
func (d *doctor) registry(ctx context.Context) check {
	c := check{Name: "registry"}
	if d.cl.clientErr != nil {
		return c.fail(d.cl.clientErr.Error(), "set REGISTRY_URL to http://127.0.0.1:PORT or https://HOST")
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	p, err := d.cl.c.Probe(ctx, "/health")
	if err != nil {
		return c.fail(err.Error(), "start the registry, or set REGISTRY_URL to its address")
	}
	d.reachable, d.probe = true, p
	if json.Unmarshal(p.Body, &d.health) == nil && d.health.Status != "" {
		d.healthed = true
	}
	switch {
	case !d.healthed:
		return c.fail(fmt.Sprintf("%s answered GET /health with HTTP %d and no health report", d.cl.url, p.Status),
			"check that REGISTRY_URL is the registry's address")
	case p.Status != http.StatusOK || d.health.Status != "ok":
		return c.fail(fmt.Sprintf("%s reports status %s (HTTP %d)", d.cl.url, client.Printable(d.health.Status), p.Status),
			"see the registry's log")
	}
	return c.ok(fmt.Sprintf("%s is up: %d models, %d trusted", d.cl.url, d.health.ModelCount, d.health.TrustedCount))
}

// auth reports whether the registry requires a token.
func (d *doctor) auth() check {
	c := check{Name: "auth"}
	switch {
	case !d.healthed:
		return c.skip("the registry's health report is unavailable")
	case !d.health.AuthRequired:
		return c.warn("the registry requires no token: whoever reaches it may change it",
			"unset INSECURE_DEV_MODE on the registry unless this is a development machine")
	}
	return c.ok("the registry requires a token for changes and listings")
}

// remote runs the check named name that asks the registry again: skipped
// when /health did not answer, and bounded by probeTimeout.
func (d *doctor) remote(ctx context.Context, name string, run func(context.Context, check) check) check {
	c := check{Name: name}
	if !d.reachable {
		return c.skip("the registry is unreachable")
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	return run(ctx, c)
}

// ready checks the readiness endpoint, on registries that have one.
func (d *doctor) ready(ctx context.Context, c check) check {
	p, err := d.cl.c.Probe(ctx, "/ready")
	switch {
	case err != nil:
		return c.fail(err.Error(), "see the registry's log")
	case p.Status == http.StatusNotFound:
		return c.skip("this registry has no /ready endpoint")
	case p.Status != http.StatusOK:
		return c.fail(fmt.Sprintf("not ready (HTTP %d): %s", p.Status, answerText(p.Body)),
			"the registry is starting, recovering or cannot use its store; see its log")
	}
	return c.ok("the registry is ready to serve")
}

// clock compares this host's clock, halfway through the /health exchange,
// with the registry's Date header. The header is cut to whole seconds, so
// the middle of its second is the best guess and the skew is known to
// about half a second.
func (d *doctor) clock() check {
	c := check{Name: "clock"}
	switch {
	case !d.reachable:
		return c.skip("the registry is unreachable")
	case d.probe.Date.IsZero():
		return c.skip("the registry sent no Date header")
	}
	local := d.probe.Sent.Add(d.probe.Received.Sub(d.probe.Sent) / 2)
	skew := local.Sub(d.probe.Date.Add(time.Second / 2))
	rounded := skew.Round(time.Second)
	if skew.Abs() <= maxClockSkew {
		return c.ok(fmt.Sprintf("within %s of the registry's clock", max(rounded.Abs(), time.Second)))
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	return c.warn(fmt.Sprintf("this host's clock is %s %s the registry's (more than %s)", rounded.Abs(), dir, maxClockSkew),
		"keep both clocks synced with NTP (timedatectl set-ntp true)")
}

// keys checks that /v1/keys serves the attestation public keys.
func (d *doctor) keys(ctx context.Context, c check) check {
	pemData, err := d.cl.c.Keys(ctx)
	if err != nil {
		return c.fail("GET /v1/keys: "+err.Error(), "see the registry's log (SIGNING_KEY_DIR)")
	}
	keys, err := provenance.ParsePublicKeysPEM(pemData)
	if err != nil {
		return c.fail("GET /v1/keys: "+err.Error(), "see the registry's log (SIGNING_KEY_DIR)")
	}
	return c.ok(fmt.Sprintf("/v1/keys serves %d PEM public key(s); current key %s", len(keys), keys[0].ID()))
}

// keyFiles checks the registry's key ring on this host, when its directory
// is named (SIGNING_KEY_DIR, else $REGISTRY_DIR/keys) and readable here.
// It applies the registry's own rules, which refuse a directory others may
// write or a private key others may read, and warns about a directory
// others may list.
func keyFiles() check {
	c := check{Name: "key files"}
	dir := os.Getenv("SIGNING_KEY_DIR")
	if dir == "" && os.Getenv("REGISTRY_DIR") != "" {
		dir = filepath.Join(os.Getenv("REGISTRY_DIR"), "keys")
	}
	if dir == "" {
		return c.skip("neither SIGNING_KEY_DIR nor REGISTRY_DIR is set (set one on the registry's host to check its key ring)")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c.skip(dir + " does not exist here (the registry makes it at its first start)")
	case err != nil:
		return c.skip(fmt.Sprintf("%s cannot be read here (%v); run doctor as the registry's user", dir, errors.Unwrap(err)))
	case !fi.IsDir():
		return c.fail(dir+" is not a directory", "point SIGNING_KEY_DIR at the key ring directory")
	case fi.Mode().Perm()&0o022 != 0:
		return c.fail(fmt.Sprintf("%s is writable by group or others (mode %04o): the registry refuses it", dir, fi.Mode().Perm()), "chmod 700 "+dir)
	}
	key := filepath.Join(dir, provenance.KeyFileName)
	kfi, err := os.Stat(key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c.warn(key+" does not exist", "start the registry once: it makes the key")
	case err != nil:
		return c.skip(fmt.Sprintf("%s cannot be read here (%v); run doctor as the registry's user", key, errors.Unwrap(err)))
	case !kfi.Mode().IsRegular():
		return c.fail(key+" is not a regular file", "restore the key file from a backup")
	case kfi.Mode().Perm()&0o077 != 0:
		return c.fail(fmt.Sprintf("%s is accessible by group or others (mode %04o): the registry refuses it", key, kfi.Mode().Perm()), "chmod 600 "+key)
	case fi.Mode().Perm() != 0o700:
		return c.warn(fmt.Sprintf("%s has mode %04o", dir, fi.Mode().Perm()), "chmod 700 "+dir)
	}
	return c.ok(fmt.Sprintf("%s mode %04o, %s mode %04o", dir, fi.Mode().Perm(), provenance.KeyFileName, kfi.Mode().Perm()))
}

// tokenAccepted lists the models with the token: the registry says
// whether it knows the token and whether its role may read.
func (d *doctor) tokenAccepted(ctx context.Context, c check) check {
	switch {
	case !d.tokenOK:
		return c.skip("the token file is unusable (see above)")
	case d.healthed && !d.health.AuthRequired:
		return c.skip("the registry requires no token")
	}
	_, _, err := d.cl.c.Models(ctx)
	var ce *client.Error
	switch {
	case err == nil:
		return c.ok("the registry accepts the token in " + d.cl.tokenPath)
	case errors.As(err, &ce) && ce.Status == http.StatusUnauthorized:
		return c.fail("the registry refused the token in "+d.cl.tokenPath+": "+ce.Message,
			"SERVICE_TOKEN_PATH must hold this registry's service token or a named token from its TOKENS_PATH")
	case errors.As(err, &ce) && ce.Status == http.StatusForbidden:
		return c.fail("the registry refuses the token: "+ce.Message, "the registry's message says what it needs")
	}
	return c.fail("GET /v1/models: "+err.Error(), "see the registry's log")
}

// answerText is the message in an error answer's body, made printable.
func answerText(body []byte) string {
	var v struct {
		Error, Status, Detail string
	}
	_ = json.Unmarshal(body, &v)
	for _, s := range []string{v.Error, v.Detail, v.Status} {
		if s != "" {
			return client.Printable(s)
		}
	}
	return client.Printable(strings.TrimSpace(string(body)))
}

func (c check) with(status, detail, fix string) check {
	c.Status, c.Detail, c.Fix = status, client.Printable(detail), client.Printable(fix)
	return c
}

func (c check) ok(detail string) check        { return c.with(checkOK, detail, "") }
func (c check) skip(detail string) check      { return c.with(checkSkip, detail, "") }
func (c check) warn(detail, fix string) check { return c.with(checkWarn, detail, fix) }
func (c check) fail(detail, fix string) check { return c.with(checkFail, detail, fix) }
