package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/ai-model-registry/ai-model-registry/audit"
	"github.com/ai-model-registry/ai-model-registry/client"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/provenance"
)

func runPolicy(ctx context.Context, cl *cli, o *options, args []string) error {
	switch {
	case len(args) == 1 && args[0] == "show":
		b, err := cl.c.Policy(ctx)
		if err != nil {
			return fmt.Errorf("policy show: %w", err)
		}
		_, err = cl.stdout.Write(b)
		return err
	case len(args) == 2 && args[0] == "check":
		name := args[1]
		res, raw, err := cl.c.PolicyCheck(ctx, lifecycle.PromoteRequest{Name: name, ScanResults: o.scan, ScannerVersions: o.scannerVersions, Source: o.source})
		if err != nil {
			return fmt.Errorf("policy check %q: %w", name, err)
		}
		if cl.json {
			cl.raw(raw)
		} else {
			verdict := "ALLOWED"
			if !res.Allowed {
				verdict = "REFUSED"
			}
			fmt.Fprintf(cl.stdout, "%s: %s by policy %s (%s)\n", verdict, client.Printable(name), client.Printable(res.PolicyVersion), client.Printable(string(res.PolicyDigest)))
			for _, u := range res.Unmet {
				fmt.Fprintf(cl.stdout, "  %s: %s\n", client.Printable(u.Rule), client.Printable(u.Message))
			}
		}
		if !res.Allowed {
			return fmt.Errorf("policy check %q: %d unmet rules", name, len(res.Unmet))
		}
		return nil
	}
	return usagef("policy takes show, or check <name>")
}

func runKey(ctx context.Context, cl *cli, _ *options, args []string) error {
	switch {
	case len(args) == 0:
		b, err := cl.c.Keys(ctx)
		if err != nil {
			return fmt.Errorf("key: %w", err)
		}
		_, err = cl.stdout.Write(b)
		return err
	case len(args) == 1 && args[0] == "rotate":
		k, raw, err := cl.c.RotateKey(ctx)
		if err != nil {
			return fmt.Errorf("key rotate: %w", err)
		}
		if cl.json {
			cl.raw(raw)
			return nil
		}
		fmt.Fprintf(cl.stdout, "ROTATED: new key %s\n%s", client.Printable(k.KeyID), k.PublicKey)
		return nil
	}
	return usagef("key takes no argument, or rotate")
}

func runAudit(ctx context.Context, cl *cli, o *options, args []string) error {
	if len(args) >= 1 && args[0] == "verify" && len(args) <= 2 {
		dir := ""
		if len(args) == 2 {
			dir = args[1]
		}
		return auditVerify(ctx, cl, o, dir)
	}
	if len(args) == 1 && args[0] == "list" {
		page, raw, err := cl.c.Audit(ctx, o.from, o.limit)
		if err != nil {
			return fmt.Errorf("audit list: %w", err)
		}
		if cl.json {
			cl.raw(raw)
			return nil
		}
		tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tTIME\tWHO\tACTION\tNAME\tFROM\tTO\tRESULT\tDETAIL")
		for _, e := range page.Entries {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339), cell(e.Who), cell(e.Action), cell(e.Name),
				cell(e.From), cell(e.To), cell(e.Result), cell(short(e.Detail, 60)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if page.Next != 0 {
			fmt.Fprintf(cl.stderr, "# more: securectl audit list --from %d\n", page.Next)
		}
		return nil
	}
	return usagef("audit takes verify [<dir>], or list")
}

// auditVerify checks the log files offline: it needs read access to them,
// not the registry.
func auditVerify(ctx context.Context, cl *cli, o *options, dir string) error {
	if dir == "" {
		dir = os.Getenv("AUDIT_DIR")
	}
	if dir == "" && os.Getenv("REGISTRY_DIR") != "" {
		dir = filepath.Join(os.Getenv("REGISTRY_DIR"), "audit")
	}
	if dir == "" {
		return usagef("audit verify: name the audit directory, or set AUDIT_DIR or REGISTRY_DIR")
	}
	var opts audit.VerifyOptions
	if o.keyFile != "" {
		pem, err := os.ReadFile(o.keyFile)
		if err != nil {
			return fmt.Errorf("audit verify: --key: %w", err)
		}
		keys, err := provenance.ParsePublicKeysPEM(pem)
		if err != nil {
			return fmt.Errorf("audit verify: --key %s: %w", o.keyFile, err)
		}
		opts.CheckSignature = func(c audit.Checkpoint) error {
			for _, k := range keys {
				if k.ID() == c.KeyID {
					return k.Verify(ctx, c.Message(), c.Signature)
				}
			}
			return fmt.Errorf("checkpoint signed by key %s, which is not among the --key keys", c.KeyID)
		}
	}
	rep, err := audit.Verify(ctx, dir, opts)
	var ce *audit.CorruptError
	if errors.As(err, &ce) {
		fmt.Fprintf(cl.stdout, "BROKEN: %s line %d (entry %d): %s\n", client.Printable(ce.File), ce.Line, ce.Seq, client.Printable(ce.Reason))
		return fmt.Errorf("audit verify: the log was altered: the first broken entry is %d, in %s line %d", ce.Seq, client.Printable(ce.File), ce.Line)
	}
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	fmt.Fprintf(cl.stdout, "INTACT: %d entries in %d files, head %s, %d checkpoints", rep.Entries, rep.Files, rep.Head, rep.Checkpoints)
	if o.keyFile == "" && rep.Checkpoints > 0 {
		fmt.Fprint(cl.stdout, " (signatures not checked: pass --key)")
	}
	fmt.Fprintln(cl.stdout)
	if rep.TornBytes > 0 {
		fmt.Fprintf(cl.stderr, "# the newest file ends in %d bytes of an unfinished entry (a write in progress, or a crash); the registry drops them at its next start\n", rep.TornBytes)
	}
	return nil
}
