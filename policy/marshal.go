package policy

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// header starts every YAML text; it carries nothing that varies, so the
// same policy always prints the same bytes.
const header = `# Promotion policy (ai-model-registry, package policy).
# hash_verified is not a key: every blob is re-hashed and must match its
# digest before any promotion, whatever the policy says.
`

// YAML prints the policy as a policy file: deterministic (fixed key order,
// lists in the file's order, every string double-quoted, keys inline as
// public_key), and Parse of the text gives an equivalent policy (the same
// rules; its Digest is that of the text, not of the original file).
// Default().YAML() is the default policy's own text.
func (p *Policy) YAML() []byte {
	if p == nil {
		return nil
	}
	return marshal(&p.r)
}

func marshal(r *rules) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("version: " + strictyaml.Quote(r.Version) + "\n")
	b.WriteString("require_quarantine: " + strconv.FormatBool(r.RequireQuarantine) + "\n")
	b.WriteString("allow_one_step_promote: " + strconv.FormatBool(r.AllowOneStepPromote) + "\n")
	if len(r.Scanners) > 0 {
		b.WriteString("scanners:\n")
		for _, s := range r.Scanners {
			b.WriteString("  - name: " + strictyaml.Quote(s.Name) + "\n")
			b.WriteString("    result: " + strictyaml.Quote(s.Result) + "\n")
			b.WriteString("    required: " + strconv.FormatBool(s.Required) + "\n")
			if len(s.Versions) > 0 {
				b.WriteString("    versions:\n")
				writeList(&b, "      ", s.Versions)
			}
			if s.MinVersion != "" {
				b.WriteString("    min_version: " + strictyaml.Quote(s.MinVersion) + "\n")
			}
		}
	}
	if r.MinPassingScanners > 0 {
		b.WriteString("min_passing_scanners: " + strconv.Itoa(r.MinPassingScanners) + "\n")
	}
	for _, l := range []struct {
		key   string
		items []string
	}{{"formats", r.Formats}, {"media_types", r.MediaTypes}} {
		if len(l.items) > 0 {
			b.WriteString(l.key + ":\n")
			writeList(&b, "  ", l.items)
		}
	}
	if r.MaxSizeBytes > 0 {
		b.WriteString("max_size_bytes: " + strconv.FormatInt(r.MaxSizeBytes, 10) + "\n")
	}
	if len(r.Sources) > 0 {
		b.WriteString("sources:\n")
		writeList(&b, "  ", r.Sources)
	}
	b.WriteString("require_tensor_manifest: " + strconv.FormatBool(r.RequireTensorManifest) + "\n")
	if len(r.Signatures) > 0 {
		b.WriteString("signatures:\n")
		for _, k := range r.Signatures {
			b.WriteString("  - name: " + strictyaml.Quote(k.Name) + "\n")
			b.WriteString("    public_key: |\n")
			for _, line := range strings.SplitAfter(strings.TrimSuffix(string(k.PEM), "\n"), "\n") {
				b.WriteString("      " + strings.TrimSuffix(line, "\n") + "\n")
			}
		}
	}
	if r.MinSignatures > 0 {
		b.WriteString("min_signatures: " + strconv.Itoa(r.MinSignatures) + "\n")
	}
	if len(r.Licenses) > 0 {
		b.WriteString("licenses:\n")
		writeList(&b, "  ", r.Licenses)
	}
	return b.Bytes()
}

func writeList(b *bytes.Buffer, indent string, items []string) {
	for _, s := range items {
		b.WriteString(indent + "- " + strictyaml.Quote(s) + "\n")
	}
}
