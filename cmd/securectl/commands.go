package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ai-model-registry/ai-model-registry/atomicfile"
	"github.com/ai-model-registry/ai-model-registry/client"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/token"
)

// cli is one invocation's wiring: the client and where output goes.
type cli struct {
	c              *client.Client
	stdout, stderr io.Writer
	json           bool // print the registry's JSON answers
	tty            bool // stderr is a terminal: progress bars are welcome
	// What run read from the environment, for doctor, which also runs
	// when the client could not be made (clientErr).
	url, tokenPath string
	clientErr      error
}

// progress returns a progress display for label on stderr, or nil (which
// draws nothing) unless stderr is a terminal and the output is not JSON
// for a script.
func (cl *cli) progress(label string) *progress {
	if !cl.tty || cl.json {
		return nil
	}
	return newProgress(cl.stderr, label)
}

// exec parses a command's arguments and runs it.
func (cl *cli) exec(ctx context.Context, cmd *command, args []string) error {
	o := &options{json: &cl.json}
	pos, err := cmd.parse(o, args)
	if err != nil {
		return err
	}
	return cmd.run(ctx, cl, o, pos)
}

// raw prints a JSON answer as the registry sent it.
func (cl *cli) raw(raw json.RawMessage) {
	cl.stdout.Write(raw)
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		io.WriteString(cl.stdout, "\n")
	}
}

func reasonFlag(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.reason, "reason", "", "why; kept in the artifact's history")
}

// commands are the verbs, in the order the usage lists them.
var commands = []*command{
	{
		names: []string{"list", "ls"}, synopsis: "[--wide]",
		summary: "List every model, in every state: NAME, FORMAT, STATE, SIZE, SHA256 (first 12), PROMOTED.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.wide, "wide", false, "also show the manifest digest and the OCI reference")
		},
		run: runList,
	},
	{
		names: []string{"info"}, synopsis: "<name>", nargs: 1,
		summary: "Show one model's record as JSON.",
		run:     runInfo,
	},
	{
		names: []string{"verify"}, synopsis: "<name>", nargs: 1,
		summary: "Have the registry re-hash a model's stored bytes.",
		detail: "Prints VERIFIED or FAILED. Exits 1 unless the bytes match and the model is trusted (safe_to_use).\n" +
			"A trusted model that fails is moved to quarantined by the registry.",
		run: runVerify,
	},
	{
		names:   []string{"verify-all"},
		summary: "Have the registry re-hash every model; deleted ones are skipped. Exits 1 if any fails.",
		run:     runVerifyAll,
	},
	{
		names: []string{"path"}, synopsis: "<name> [--json]", nargs: 1,
		summary: "Print the read-only path a runtime loads a trusted model from (--json: also its sha256, size, directory).",
		run:     runPath,
	},
	{
		names: []string{"history"}, synopsis: "<name>", nargs: 1,
		summary: "Show a model's transition records and whether they form an intact hash chain. Exits 1 if the chain is broken.",
		run:     runHistory,
	},
	{
		names:    []string{"acquire"},
		synopsis: "<name> <file> [--source URL] [--source-revision REV] [--reason R]\n       securectl acquire --import <name> <filename> --sha256 HEX [--size N] [--source URL] [--source-revision REV] [--reason R]",
		summary:  "Register a new model in state acquired.",
		detail: "With a local <file>: hashes it (sha256), then streams it to the registry under its base name.\n" +
			"A progress bar is shown on a terminal (not with --json). --sha256/--size, if given, must match the file.\n" +
			"With --import: <filename> is already in the registry's import directory; the registry hashes it\n" +
			"and refuses a mismatch with --sha256 (required) and --size.",
		nargs: 2, paths: true,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.BoolVar(&o.importFile, "import", false, "the file is in the registry's import directory")
			fs.StringVar(&o.sha256, "sha256", "", "expected SHA-256 (64 hex); required with --import")
			fs.Int64Var(&o.size, "size", 0, "expected size in bytes")
			fs.StringVar(&o.source, "source", "", "where the model came from (URL)")
			fs.StringVar(&o.sourceRevision, "source-revision", "", "the source's revision (e.g. a git commit)")
			reasonFlag(fs, o)
		},
		run: runAcquire,
	},
	{
		names: []string{"quarantine"}, synopsis: "<name> [--reason R]", nargs: 1,
		summary: "Move an acquired model to quarantined (scanning).",
		flags:   reasonFlag,
		run:     simple("quarantine", (*client.Client).Quarantine),
	},
	{
		names:    []string{"promote"},
		synopsis: "<name> --sha256 HEX [--filename F] [--size N] [--scan k=pass ...] [--scanner-version k=v ...] [--policy-version V] [--source-revision R] [--reason R]",
		summary:  "Make a quarantined model trusted. The registry re-hashes its bytes and refuses a mismatch with --sha256.",
		nargs:    1,
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.sha256, "sha256", "", "SHA-256 of the model file (64 hex; required)")
			fs.StringVar(&o.filename, "filename", "", "which file of the model --sha256 names (default: its primary file)")
			fs.Int64Var(&o.size, "size", 0, "size of that file in bytes")
			fs.Var(&o.scan, "scan", "a scan result, scanner=result (repeatable)")
			fs.Var(&o.scannerVersions, "scanner-version", "a scanner's version, scanner=version (repeatable)")
			fs.StringVar(&o.policyVersion, "policy-version", "", "the promotion policy's version")
			fs.StringVar(&o.source, "source", "", "where the model came from (for a file never acquired)")
			fs.StringVar(&o.sourceRevision, "source-revision", "", "the source's revision")
			reasonFlag(fs, o)
		},
		run: runPromote,
	},
	{
		names: []string{"revoke"}, synopsis: "<name> [--reason R]", nargs: 1,
		summary: "Block a model from runtime use at once. Its history is kept.",
		flags:   reasonFlag,
		run:     simple("revoke", (*client.Client).Revoke),
	},
	{
		names: []string{"delete", "rm"}, synopsis: "<name> [--reason R]", nargs: 1,
		summary: "Soft-delete a model: its bytes are removed, its metadata and history are kept.",
		flags:   reasonFlag,
		run:     simple("delete", (*client.Client).Delete),
	},
	{
		names: []string{"integrity"}, synopsis: "run | status", nargs: 1, choices: []string{"run", "status"},
		summary: "Run an integrity check of every model now (run), or show the last one (status). Exits 1 if it failed.",
		detail: "run starts the check on the registry, follows it to the end and prints each model's outcome;\n" +
			"the registry writes the result to its INTEGRITY_RESULT_PATH as its own periodic checks do,\n" +
			"and quarantines any trusted model whose bytes fail. This is what the systemd timer runs.\n" +
			"On a terminal a progress bar follows the job (not with --json).",
		run: runIntegrity,
	},
	{
		names: []string{"lock"}, synopsis: "[-o FILE]",
		summary: "Export the trusted set as models.lock.yaml (to stdout, or atomically to FILE).",
		detail: "The export is byte-identical for the same registry content. Put it with the model files in an\n" +
			"import directory and point REGISTRY_LOCK_PATH at it to boot another registry into the same trusted set.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.output, "o", "", "write to this file instead of stdout")
		},
		run: runLock,
	},
	{
		names: []string{"token"}, synopsis: "new <name> <role> [-o FILE]", nargs: 3, choices: []string{"new"},
		summary: "Make a named token for the registry's TOKENS_PATH file (roles: reader, pusher, promoter, admin). Runs offline.",
		detail: "Prints the token (or writes it to FILE, owner-only, never overwriting) and the entry to add to the\n" +
			"tokens file, which holds only the token's SHA-256. The registry reads the file at start.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.output, "o", "", "write the token to this new file (mode 0600) instead of stdout")
		},
		run: runToken,
	},
	{
		names: []string{"policy"}, synopsis: "show | check <name> [--scan k=pass ...] [--scanner-version k=v ...] [--source URL]", varargs: true,
		choices: []string{"show", "check"},
		summary: "Show the promotion policy in force (show), or dry-run it against a model (check). check exits 1 if the policy would refuse.",
		detail: "check evaluates the policy as a promotion would, with the evidence given here plus what is attached to the\n" +
			"model as signed referrers, and prints every unmet rule with what to do about it. Nothing is recorded.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.Var(&o.scan, "scan", "a scan result, scanner=result (repeatable)")
			fs.Var(&o.scannerVersions, "scanner-version", "a scanner's version, scanner=version (repeatable)")
			fs.StringVar(&o.source, "source", "", "where the model came from")
		},
		run: runPolicy,
	},
	{
		names: []string{"key"}, synopsis: "[rotate]", varargs: true, choices: []string{"rotate"},
		summary: "Print the public keys that verify the registry's attestations (PEM, current first), or rotate the signing key.",
		detail: "The output is what cosign takes: securectl key > registry.pub, then\n" +
			"cosign verify-attestation --key registry.pub --type https://slsa.dev/verification_summary/v1 --insecure-ignore-tlog=true <ref>@<digest>\n" +
			"(with several keys, split the file: cosign takes one key). rotate needs an admin token; old keys stay trusted.",
		run: runKey,
	},
	{
		names: []string{"audit"}, synopsis: "verify [<dir>] [--key FILE] | list [--from N] [--limit N]", varargs: true,
		choices: []string{"verify", "list"}, paths: true,
		summary: "Check the audit log's hash chain offline and name the first broken entry (verify), or page through it (list).",
		detail: "verify reads the log files in <dir> (default: $AUDIT_DIR, else $REGISTRY_DIR/audit) without the registry;\n" +
			"with --key (the registry's public keys, securectl key), signed checkpoints are checked too, which catches\n" +
			"entries cut off the end. Exits 1 if anything is broken. list needs an admin token.",
		flags: func(fs *flag.FlagSet, o *options) {
			fs.StringVar(&o.keyFile, "key", "", "PEM file of public keys to check checkpoint signatures with")
			fs.Uint64Var(&o.from, "from", 1, "first sequence number to list")
			fs.IntVar(&o.limit, "limit", 100, "entries to list (at most 1000)")
		},
		run: runAudit,
	},
	{
		names:   []string{"status"},
		summary: "Show the registry's health and model counts (sends no token).",
		run:     runStatus,
	},
	{
		names:   []string{"doctor"},
		summary: "Check this host's setup against the registry, one line per check with a fix. Exits 1 if any check FAILs.",
		detail: "Checks the token file (SERVICE_TOKEN_PATH: present, a regular file, owner-only, a valid token), that\n" +
			"REGISTRY_URL answers /health and whether it requires a token, /ready (if the registry has it), the clock\n" +
			"against the registry's (WARN beyond 30 s), that /v1/keys serves PEM public keys, the local key ring\n" +
			"(SIGNING_KEY_DIR, else $REGISTRY_DIR/keys, when readable here: promotion.key 0600 in a 0700 directory),\n" +
			"and that the registry accepts the token. Each line is OK, WARN, FAIL or SKIP (could not be checked).",
		noClient: true,
		run:      runDoctor,
	},
	{
		names: []string{"completion"}, synopsis: "bash | zsh | fish", nargs: 1, choices: []string{"bash", "zsh", "fish"},
		summary: "Print a shell completion script for securectl's commands, aliases and flags.",
		detail: "bash:  source <(securectl completion bash)        (or save it in /etc/bash_completion.d/securectl)\n" +
			"zsh:   securectl completion zsh > \"${fpath[1]}/_securectl\"   (then start a new shell)\n" +
			"fish:  securectl completion fish > ~/.config/fish/completions/securectl.fish",
		noClient: true, // run: set by init, as the script is made from this table
	},
}

// The completion script is made from the verb table, which therefore
// cannot name its run function itself (an initialization cycle).
func init() { lookup("completion").run = runCompletion }

func lookup(name string) *command {
	for _, c := range commands {
		if slices.Contains(c.names, name) {
			return c
		}
	}
	return nil
}

func usage() string {
	var b strings.Builder
	b.WriteString("securectl — ai-model-registry command-line client\n\nUsage: securectl [--json] <command> [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-16s %s\n", strings.Join(c.names, " | "), firstSentence(c.summary))
	}
	b.WriteString(`
Every command takes --json: print the registry's JSON answer (for scripts)
instead of a table. "securectl help <command>" shows a command's flags.

Environment:
  REGISTRY_URL        registry address (default http://127.0.0.1:8470;
                      plain http only to loopback, otherwise https)
  SERVICE_TOKEN_PATH  service token file (default /run/secure-ai/service-token)

Exit status: 0 success, 1 failure, 2 usage error.
`)
	return b.String()
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func runList(ctx context.Context, cl *cli, o *options, _ []string) error {
	models, raw, err := cl.c.Models(ctx)
	if err != nil {
		return fmt.Errorf("list: %w", err)
	}
	if cl.json {
		cl.raw(raw)
		return nil
	}
	return listTable(cl.stdout, models, o.wide)
}

func runInfo(ctx context.Context, cl *cli, _ *options, args []string) error {
	_, raw, err := cl.c.Model(ctx, args[0])
	if err != nil {
		return fmt.Errorf("info %q: %w", args[0], err)
	}
	if cl.json {
		cl.raw(raw)
		return nil
	}
	return printIndented(cl.stdout, raw)
}

func runVerify(ctx context.Context, cl *cli, _ *options, args []string) error {
	name := args[0]
	p := cl.progress("")
	p.wait("verifying " + client.Printable(name))
	res, raw, err := cl.c.Verify(ctx, name)
	p.finish()
	if err != nil {
		return fmt.Errorf("verify %q: %w", name, err)
	}
	if cl.json {
		cl.raw(raw)
	} else {
		printVerify(cl.stdout, res)
	}
	switch {
	case res.Status == "verified" && res.SafeToUse == "true":
		return nil
	case res.Status == "verified" && res.State == lifecycle.Trusted && res.Provenance != nil:
		return fmt.Errorf("verify %q: the bytes match, but it is not safe to use: its promotion attestation is %s and REQUIRE_SIGNED_PROVENANCE is on (promote it again to attest it)",
			name, client.Printable(res.Provenance.Status))
	case res.Status == "verified":
		return fmt.Errorf("verify %q: the bytes match, but it is not safe to use: its state is %s, and only trusted models are", name, client.Printable(string(res.State)))
	case res.Status == "skipped":
		return fmt.Errorf("verify %q: not verified: %s", name, client.Printable(res.Reason))
	}
	return fmt.Errorf("verify %q: FAILED: %s", name, client.Printable(res.Error))
}

func runVerifyAll(ctx context.Context, cl *cli, _ *options, _ []string) error {
	// The registry answers when every model is hashed and tells nothing
	// on the way (a job would, but its result lacks the per-model answer
	// printed here): a spinner shows it is still at work.
	p := cl.progress("")
	p.wait("verifying every model")
	res, raw, err := cl.c.VerifyAll(ctx)
	p.finish()
	if err != nil {
		return fmt.Errorf("verify-all: %w", err)
	}
	if cl.json {
		cl.raw(raw)
	} else if err := verifyAllTable(cl.stdout, res); err != nil {
		return err
	}
	failed := 0
	for _, m := range res.Models {
		if m.Status == "failed" {
			failed++
		}
	}
	if res.Status != "ok" || failed > 0 {
		return fmt.Errorf("verify-all: %d of %d models FAILED verification", failed, res.Checked)
	}
	return nil
}

func runPath(ctx context.Context, cl *cli, _ *options, args []string) error {
	p, raw, err := cl.c.Path(ctx, args[0])
	if err != nil {
		return fmt.Errorf("path %q: %w", args[0], err)
	}
	if cl.json {
		cl.raw(raw)
		return nil
	}
	fmt.Fprintln(cl.stdout, client.Printable(p.Path))
	return nil
}

func runHistory(ctx context.Context, cl *cli, _ *options, args []string) error {
	rep, raw, err := cl.c.History(ctx, args[0])
	if err != nil {
		return fmt.Errorf("history %q: %w", args[0], err)
	}
	if cl.json {
		cl.raw(raw)
	} else if err := historyTable(cl.stdout, rep); err != nil {
		return err
	}
	if rep.Chain != "verified" {
		msg := rep.Error
		if msg == "" {
			msg = "chain status " + rep.Chain
		}
		return fmt.Errorf("history %q: the transition chain is BROKEN: %s", args[0], client.Printable(msg))
	}
	return nil
}

func runAcquire(ctx context.Context, cl *cli, o *options, args []string) error {
	if o.size < 0 {
		return usagef("--size must not be negative")
	}
	req := lifecycle.AcquireRequest{Name: args[0], SHA256: o.sha256, SizeBytes: o.size, Source: o.source,
		SourceRevision: o.sourceRevision, Reason: o.reason}
	var a lifecycle.Artifact
	var raw json.RawMessage
	var err error
	if o.importFile {
		if o.sha256 == "" {
			return usagef("acquire --import needs --sha256: the registry hashes the file and compares")
		}
		req.Filename = args[1]
		p := cl.progress("")
		p.wait("the registry is hashing " + client.Printable(args[1]))
		a, raw, err = cl.c.Acquire(ctx, req)
		p.finish()
	} else {
		p := cl.progress(client.Printable(filepath.Base(args[1])))
		var report client.Progress
		if p != nil {
			report = p.update
		}
		a, raw, err = cl.c.AcquireFile(ctx, req, args[1], report)
		p.finish()
	}
	if err != nil {
		return fmt.Errorf("acquire %q: %w", args[0], err)
	}
	if cl.json {
		cl.raw(raw)
		return nil
	}
	printArtifact(cl.stdout, "ACQUIRED", a)
	return nil
}

func runPromote(ctx context.Context, cl *cli, o *options, args []string) error {
	if o.sha256 == "" {
		return usagef("promote needs --sha256: the SHA-256 of the file that was scanned")
	}
	if o.size < 0 {
		return usagef("--size must not be negative")
	}
	req := lifecycle.PromoteRequest{Name: args[0], Filename: o.filename, SHA256: o.sha256, SizeBytes: o.size,
		Source: o.source, ScanResults: o.scan, ScannerVersions: o.scannerVersions, PolicyVersion: o.policyVersion,
		SourceRevision: o.sourceRevision, Reason: o.reason}
	p := cl.progress("")
	p.wait("the registry is checking " + client.Printable(args[0]))
	a, raw, err := cl.c.Promote(ctx, req)
	p.finish()
	if err != nil {
		return fmt.Errorf("promote %q: %w", args[0], err)
	}
	if cl.json {
		cl.raw(raw)
		return nil
	}
	printArtifact(cl.stdout, "PROMOTED", a)
	return nil
}

// simple runs quarantine, revoke or delete.
func simple(verb string, act func(*client.Client, context.Context, string, string) (lifecycle.Result, json.RawMessage, error)) func(context.Context, *cli, *options, []string) error {
	return func(ctx context.Context, cl *cli, o *options, args []string) error {
		res, raw, err := act(cl.c, ctx, args[0], o.reason)
		if err != nil {
			return fmt.Errorf("%s %q: %w", verb, args[0], err)
		}
		if cl.json {
			cl.raw(raw)
			return nil
		}
		fmt.Fprintf(cl.stdout, "%s: %s\n", strings.ToUpper(strings.ReplaceAll(client.Printable(res.Status), "_", " ")), client.Printable(res.Name))
		return nil
	}
}

func runIntegrity(ctx context.Context, cl *cli, _ *options, args []string) error {
	switch args[0] {
	case "status":
		raw, err := cl.c.IntegrityStatus(ctx)
		if err != nil {
			return fmt.Errorf("integrity status: %w", err)
		}
		var v struct {
			Status string `json:"status"`
			Stale  bool   `json:"stale"`
		}
		_ = json.Unmarshal(raw, &v)
		if cl.json {
			cl.raw(raw)
		} else if err := printIndented(cl.stdout, raw); err != nil {
			return err
		}
		switch {
		case v.Status != "ok":
			return fmt.Errorf("integrity status: %s", client.Printable(v.Status))
		case v.Stale:
			return fmt.Errorf("integrity status: the last check is stale (older than two intervals)")
		}
		return nil
	case "run":
	default:
		return usagef("integrity takes run or status, not %q", args[0])
	}
	job, _, err := cl.c.StartIntegrityCheck(ctx)
	if err != nil {
		return fmt.Errorf("integrity run: %w", err)
	}
	p := cl.progress("integrity check")
	p.wait("integrity check running")
	// Poll: a long check is never cut off by a proxy or a write timeout.
	for wait := 200 * time.Millisecond; job.Status == "running"; wait = min(2*wait, 2*time.Second) {
		select {
		case <-ctx.Done():
			p.finish()
			return fmt.Errorf("integrity run: interrupted (the check goes on on the registry as job %s)", client.Printable(job.ID))
		case <-time.After(wait):
		}
		if job, _, err = cl.c.Job(ctx, job.ID); err != nil {
			p.finish()
			return fmt.Errorf("integrity run: job %s: %w", client.Printable(job.ID), err)
		}
		p.update("hashing", job.Progress.BytesDone, job.Progress.BytesTotal)
	}
	if job.Status == "done" {
		// The bar ends full: the registry's total counts a blob that several
		// models share once per model, but hashes it once.
		p.update("hashing", job.Progress.BytesTotal, job.Progress.BytesTotal)
	}
	p.finish()
	if job.Status != "done" || job.Result == nil {
		return fmt.Errorf("integrity run: the check did not finish: %s", client.Printable(job.Error))
	}
	if cl.json {
		out, err := json.Marshal(job.Result)
		if err != nil {
			return err
		}
		cl.raw(out)
	} else if err := integrityTable(cl.stdout, *job.Result); err != nil {
		return err
	}
	if job.Result.Status != "ok" {
		return fmt.Errorf("integrity run: %d of %d models FAILED", job.Result.Failures, job.Result.ModelsChecked)
	}
	return nil
}

func runLock(ctx context.Context, cl *cli, o *options, _ []string) error {
	// The registry builds the whole export before it answers, which for
	// a big registry takes a while.
	p := cl.progress("")
	p.wait("exporting the trusted set")
	data, err := cl.c.Lock(ctx)
	p.finish()
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if o.output == "" {
		_, err = cl.stdout.Write(data)
		return err
	}
	if err := atomicfile.Write(o.output, data, 0o644); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

func runToken(_ context.Context, cl *cli, o *options, args []string) error {
	if args[0] != "new" {
		return usagef("token takes new, not %q", args[0])
	}
	name, role := args[1], token.Role(args[2])
	if !slices.Contains(token.Roles, role) {
		return usagef("role %q: use reader, pusher, promoter or admin", role)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	secret := hex.EncodeToString(raw[:])
	entry := fmt.Sprintf("  - name: %s\n    role: %s\n    sha256: %q\n", name, role, token.Hash(secret))
	// The entry must be one the registry accepts.
	if _, err := token.ParseFile([]byte("version: 1\ntokens:\n" + entry)); err != nil {
		return usagef("%v", err)
	}
	if o.output == "" {
		fmt.Fprintln(cl.stdout, secret)
		fmt.Fprintf(cl.stderr, "# add to the tokens file (TOKENS_PATH), under tokens:, then restart the registry:\n%s", entry)
		return nil
	}
	f, err := os.OpenFile(o.output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = f.WriteString(secret + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintf(cl.stdout, "# token written to %s; add to the tokens file (TOKENS_PATH), under tokens:, then restart the registry:\n%s", o.output, entry)
	return nil
}

func runStatus(ctx context.Context, cl *cli, _ *options, _ []string) error {
	h, raw, err := cl.c.Health(ctx)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if cl.json {
		cl.raw(raw)
	} else {
		printStatus(cl.stdout, h)
	}
	if h.Status != "ok" {
		return fmt.Errorf("status: the registry reports %q", client.Printable(h.Status))
	}
	return nil
}
