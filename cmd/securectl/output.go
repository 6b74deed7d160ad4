package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/ai-model-registry/ai-model-registry/client"
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

// cell is a table cell: the registry's text made safe for a terminal (no
// control or bidi characters, no tab to break the columns), "-" if empty.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return client.Printable(s)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func row(tw io.Writer, cells ...string) {
	for i := range cells {
		cells[i] = cell(cells[i])
	}
	fmt.Fprintln(tw, strings.Join(cells, "\t"))
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// humanBytes writes a size with decimal units (as model hubs quote sizes).
func humanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

func listTable(w io.Writer, models []lifecycle.Artifact, wide bool) error {
	tw := newTable(w)
	hdr := []string{"NAME", "FORMAT", "STATE", "SIZE", "SHA256", "PROMOTED"}
	if wide {
		hdr = append(hdr, "DIGEST", "OCI REFERENCE")
	}
	fmt.Fprintln(tw, strings.Join(hdr, "\t"))
	for _, a := range models {
		cells := []string{a.Name, a.Format, string(a.State), humanBytes(a.SizeBytes), short(a.SHA256, 12), a.PromotedAt}
		if wide {
			cells = append(cells, a.Digest, a.OCIReference)
		}
		row(tw, cells...)
	}
	return tw.Flush()
}

// printIndented pretty-prints a JSON answer for a person. Characters that
// could drive or reorder the terminal (DEL, bidi controls: JSON allows them
// raw inside strings) are written as \u escapes, which keeps it valid JSON.
func printIndented(w io.Writer, raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		return fmt.Errorf("the registry sent invalid JSON: %w", err)
	}
	var out strings.Builder
	for _, r := range b.String() {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) {
			fmt.Fprintf(&out, "\\u%04x", r)
			continue
		}
		out.WriteRune(r)
	}
	out.WriteByte('\n')
	_, err := io.WriteString(w, out.String())
	return err
}

func printVerify(w io.Writer, res lifecycle.VerifyResult) {
	name := client.Printable(res.Name)
	switch res.Status {
	case "verified":
		fmt.Fprintf(w, "VERIFIED: %s (sha256=%s, state=%s)\n", name, cell(res.SHA256), cell(string(res.State)))
		if p := res.Provenance; p != nil {
			fmt.Fprintf(w, "  attestation: %s", cell(p.Status))
			if p.KeyID != "" {
				fmt.Fprintf(w, " (key %s, policy %s)", cell(p.KeyID), cell(p.PolicyVersion))
			}
			if p.Error != "" {
				fmt.Fprintf(w, ": %s", cell(p.Error))
			}
			fmt.Fprintln(w)
		}
	case "skipped":
		fmt.Fprintf(w, "SKIPPED: %s (state=%s): %s\n", name, cell(string(res.State)), cell(res.Reason))
	default:
		actual := ""
		if res.Actual != nil {
			actual = *res.Actual
		}
		fmt.Fprintf(w, "FAILED: %s (expected=%s, actual=%s): %s\n", name, cell(res.Expected), cell(actual), cell(res.Error))
	}
}

func verifyAllTable(w io.Writer, res lifecycle.VerifyAllResult) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tSTATUS\tDETAIL")
	for _, m := range res.Models {
		detail := ""
		switch m.Status {
		case "verified":
			detail = "sha256=" + short(m.SHA256, 12)
		case "skipped":
			detail = m.Reason
		default:
			detail = m.Error
		}
		row(tw, m.Name, m.Status, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "checked: %d, status: %s\n", res.Checked, cell(res.Status))
	return err
}

func integrityTable(w io.Writer, rep lifecycle.IntegrityReport) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tSTATUS\tSTATE\tDETAIL")
	for _, r := range rep.Results {
		row(tw, r.Name, r.Status, string(r.State), r.Error)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "checked: %d, failures: %d, skipped: %d, hashed: %s in %.1fs, status: %s\n",
		rep.ModelsChecked, rep.Failures, rep.Skipped, humanBytes(rep.BytesHashed), float64(rep.DurationMS)/1000, cell(rep.Status))
	return err
}

func historyTable(w io.Writer, rep lifecycle.HistoryReport) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "SEQ\tACTION\tFROM\tTO\tAT\tWHO\tREASON")
	for _, r := range rep.Records {
		row(tw, fmt.Sprint(r.Seq), string(r.Action), string(r.From), string(r.To), r.At.UTC().Format(time.RFC3339), r.Who, r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	if rep.Chain == "verified" {
		_, err = fmt.Fprintln(w, "chain: verified")
	} else {
		_, err = fmt.Fprintf(w, "chain: BROKEN (%s)\n", cell(rep.Error))
	}
	return err
}

// printArtifact prints the outcome of acquire or promote.
func printArtifact(w io.Writer, verb string, a lifecycle.Artifact) {
	fmt.Fprintf(w, "%s: %s\n", verb, client.Printable(a.Name))
	tw := newTable(w)
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, client.Printable(v))
		}
	}
	field("state", string(a.State))
	field("format", a.Format)
	field("filename", a.Filename)
	field("sha256", a.SHA256)
	field("size", fmt.Sprintf("%s (%d bytes)", humanBytes(a.SizeBytes), a.SizeBytes))
	field("source", a.Source)
	field("source_revision", a.SourceRevision)
	if a.State == lifecycle.Trusted {
		field("promoted_at", a.PromotedAt)
	}
	field("policy_version", a.PolicyVersion)
	field("scan_results", pairs(a.ScanResults))
	field("scanner_versions", pairs(a.ScannerVersions))
	field("digest", a.Digest)
	field("oci_reference", a.OCIReference)
	_ = tw.Flush()
}

func pairs(m map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, " ")
}

func printStatus(w io.Writer, h client.Health) {
	fmt.Fprintf(w, "status: %s\n", cell(h.Status))
	fmt.Fprintf(w, "auth_required: %t\n", h.AuthRequired)
	fmt.Fprintf(w, "models: %d (trusted: %d)\n", h.ModelCount, h.TrustedCount)
	if len(h.StateCounts) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(h.StateCounts)) {
			parts = append(parts, fmt.Sprintf("%s=%d", client.Printable(k), h.StateCounts[k]))
		}
		fmt.Fprintf(w, "states: %s\n", strings.Join(parts, " "))
	}
}
