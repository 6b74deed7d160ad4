package policy

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/ai-model-registry/ai-model-registry/strictyaml"
)

// Input is what the caller knows about the artifact to promote. Evaluate
// reads nothing else: gathering these facts (re-hashing blobs, reading the
// history, verifying signatures, collecting scan results) is the caller's
// work.
type Input struct {
	// Name is the artifact's name, used in messages only.
	Name string
	// Format is the detected format (modelformat: "gguf", "safetensors",
	// "onnx", "pytorch"; "" when unknown).
	Format string
	// MediaTypes are the media types of the artifact's layers.
	MediaTypes []string
	// SizeBytes is the artifact's size (all layers); 0 or negative if
	// unknown, so that a caller that forgets it cannot pass
	// max_size_bytes.
	SizeBytes int64
	// Source is where the model came from (a URL), "" if unknown.
	Source string
	// HadQuarantine: the artifact's history contains a quarantine.
	HadQuarantine bool
	// OneStep: this request acquires a never-acquired file and promotes
	// it at once.
	OneStep bool
	// HashVerified: every stored blob was just re-hashed and matched its
	// digest. Checked under every policy.
	HashVerified bool
	// ScanResults maps a scanner's name to its verdict ("pass", ...).
	ScanResults map[string]string
	// ScannerVersions maps a scanner's name to its version.
	ScannerVersions map[string]string
	// TensorManifest: a per-tensor manifest of the artifact exists.
	TensorManifest bool
	// TensorManifestApplies: the format has per-tensor manifests (GGUF,
	// safetensors). A Format of "gguf" or "safetensors" implies it.
	TensorManifestApplies bool
	// SignedBy names the policy keys (NamedKey.Name) with which a
	// signature of the artifact verified. Other names are ignored.
	SignedBy []string
	// Licenses are the artifact's SPDX license identifiers.
	Licenses []string
}

// Unmet is one rule the artifact does not meet.
type Unmet struct {
	// Rule is a stable identifier: "hash_verified", "require_quarantine",
	// "allow_one_step_promote", "scanners.<name>.result",
	// "scanners.<name>.version", "min_passing_scanners", "formats",
	// "media_types", "max_size_bytes", "sources",
	// "require_tensor_manifest", "signatures.<name>", "min_signatures",
	// "licenses"; or "policy" when there is no policy at all, followed
	// by "hash_verified" if that is unmet too.
	Rule string `json:"rule"`
	// Message is one sentence saying what is missing and how to provide
	// it. Values from the Input appear quoted and cut short.
	Message string `json:"message"`
}

// Decision is the outcome of Evaluate.
type Decision struct {
	// Allowed is true exactly when Unmet is empty.
	Allowed bool `json:"allowed"`
	// Unmet lists every unmet rule, in the order of the Rule list above
	// (scanners and signatures in the policy file's order).
	Unmet []Unmet `json:"unmet,omitempty"`
	// PolicyVersion and PolicyDigest name the policy that decided.
	PolicyVersion string        `json:"policy_version"`
	PolicyDigest  digest.Digest `json:"policy_digest"`
}

// Evaluate checks in against the policy. It is pure and deterministic,
// and lists all unmet rules rather than the first. Hash verification is
// checked whatever the policy says. A nil or zero Policy allows nothing.
func (p *Policy) Evaluate(in Input) Decision {
	if p == nil || p.r.Version == "" {
		e := evaluation{in: &in}
		e.fail("policy", "no promotion policy is loaded; configure a policy file or use the default policy")
		e.hashVerified()
		return Decision{Unmet: e.unmet}
	}
	e := evaluation{r: &p.r, in: &in}
	e.run()
	return Decision{Allowed: len(e.unmet) == 0, Unmet: e.unmet, PolicyVersion: p.r.Version, PolicyDigest: p.digest}
}

type evaluation struct {
	r     *rules
	in    *Input
	unmet []Unmet
}

func (e *evaluation) fail(rule, format string, args ...any) {
	e.unmet = append(e.unmet, Unmet{Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// artifact names the artifact in messages.
func (e *evaluation) artifact() string {
	if e.in.Name == "" {
		return "the artifact"
	}
	return strictyaml.Show(e.in.Name)
}

// hashVerified is the one rule no policy can leave out.
func (e *evaluation) hashVerified() {
	if !e.in.HashVerified {
		e.fail("hash_verified", "the stored bytes of %s did not verify against their digest (hash_verified, checked under every policy); re-acquire or re-push the model so that every blob matches its sha256, then promote again", e.artifact())
	}
}

func (e *evaluation) run() {
	r, in := e.r, e.in
	artifact := e.artifact()

	e.hashVerified()
	if r.RequireQuarantine && !in.HadQuarantine {
		e.fail("require_quarantine", "%s was never quarantined and this policy requires it (require_quarantine); quarantine it first, then promote it", artifact)
	}
	if in.OneStep && !r.AllowOneStepPromote {
		e.fail("allow_one_step_promote", "%s was never acquired, and acquiring and promoting it in one request is refused because this policy does not set allow_one_step_promote: true; acquire and quarantine it first, then promote it", artifact)
	}

	e.scanners()

	if len(r.Formats) > 0 {
		switch {
		case in.Format == "":
			e.fail("formats", "the format of %s is unknown, and this policy allows only %s (formats); acquire the model in one of those formats", artifact, list(r.Formats, false))
		case !slices.ContainsFunc(r.Formats, func(f string) bool { return asciiEqualFold(f, in.Format) }):
			e.fail("formats", "format %s is not allowed by this policy (formats: %s); convert the model to one of those formats and acquire it again", strictyaml.Show(in.Format), list(r.Formats, false))
		}
	}

	if len(r.MediaTypes) > 0 {
		bad := notAllowed(in.MediaTypes, r.MediaTypes, func(p, mt string) bool { ok, _ := path.Match(p, mt); return ok })
		switch {
		case len(in.MediaTypes) == 0:
			e.fail("media_types", "%s has no layer media types to check, and this policy allows only %s (media_types); push the model as an OCI artifact whose layers use an allowed media type", artifact, list(r.MediaTypes, true))
		case len(bad) > 0:
			e.fail("media_types", "%s not allowed by this policy (media_types: %s); push the layers with an allowed media type", these(bad, "layer media type"), list(r.MediaTypes, true))
		}
	}

	if r.MaxSizeBytes > 0 {
		switch {
		case in.SizeBytes <= 0:
			e.fail("max_size_bytes", "the size of %s is unknown, so max_size_bytes (%d) cannot be checked; send size_bytes with the request", artifact, r.MaxSizeBytes)
		case in.SizeBytes > r.MaxSizeBytes:
			e.fail("max_size_bytes", "%s is %d bytes, more than this policy's max_size_bytes of %d; use a smaller model or quantization", artifact, in.SizeBytes, r.MaxSizeBytes)
		}
	}

	if len(r.Sources) > 0 {
		switch {
		case in.Source == "":
			e.fail("sources", "%s has no source, and this policy allows only sources matching %s (sources); send source with the acquire or promote request", artifact, list(r.Sources, true))
		case !slices.ContainsFunc(r.Sources, func(p string) bool { return matchSource(p, in.Source) }):
			e.fail("sources", "source %s is not allowed by this policy (sources: %s); acquire the model from an allowed source", strictyaml.Show(in.Source), list(r.Sources, true))
		}
	}

	if r.RequireTensorManifest && !in.TensorManifest && e.tensorManifestApplies() {
		e.fail("require_tensor_manifest", "%s has no per-tensor manifest yet, and this policy requires one for GGUF and safetensors files (require_tensor_manifest); wait until the registry has computed it after the upload, then promote again", artifact)
	}

	e.signatures()

	if len(r.Licenses) > 0 {
		bad := notAllowed(in.Licenses, r.Licenses, asciiEqualFold)
		switch {
		case len(in.Licenses) == 0:
			e.fail("licenses", "%s has no license information, and this policy allows only %s (licenses); record the model's SPDX license identifier before promoting it", artifact, list(r.Licenses, false))
		case len(bad) > 0:
			e.fail("licenses", "%s not allowed by this policy (licenses: %s); only models under an allowed license can be promoted, so correct the recorded license if it is wrong", these(bad, "license"), list(r.Licenses, false))
		}
	}
}

// notAllowed lists, once each and in order, the items that match none of
// allowed.
func notAllowed(items, allowed []string, match func(allowed, item string) bool) []string {
	var bad []string
	for _, it := range items {
		if !slices.ContainsFunc(allowed, func(a string) bool { return match(a, it) }) && !slices.Contains(bad, it) {
			bad = append(bad, it)
		}
	}
	return bad
}

// these starts a sentence about items: `license "x" is` or
// `licenses "x", "y" are`.
func these(items []string, noun string) string {
	if len(items) == 1 {
		return noun + " " + strictyaml.Show(items[0]) + " is"
	}
	return noun + "s " + list(items, true) + " are"
}

func (e *evaluation) tensorManifestApplies() bool {
	// The format decides too, so that a caller's forgotten flag does not
	// skip the rule.
	f := e.in.Format
	return e.in.TensorManifestApplies || asciiEqualFold(f, "gguf") || asciiEqualFold(f, "safetensors")
}

// scanners checks each listed scanner, then min_passing_scanners.
func (e *evaluation) scanners() {
	r, in := e.r, e.in
	for _, s := range r.Scanners {
		got, reported := in.ScanResults[s.Name]
		if !reported && !s.Required {
			continue
		}
		rule := "scanners." + s.Name
		switch {
		case !reported:
			e.fail(rule+".result", "no scan result from scanner %s, which this policy requires (scanners); run it and send its verdict as scan_results.%s with the promote request or attach an in-toto test-result attestation", strictyaml.Show(s.Name), s.Name)
		case !asciiEqualFold(got, s.Result):
			e.fail(rule+".result", "scanner %s reported %s, and this policy needs %s (scanners); fix what it found or rescan, then send the new verdict as scan_results.%s", strictyaml.Show(s.Name), strictyaml.Show(got), strictyaml.Show(s.Result), s.Name)
		}
		if ok, why := versionAllowed(s, in.ScannerVersions); !ok {
			e.fail(rule+".version", "%s", why)
		}
	}

	if r.MinPassingScanners <= 0 {
		return
	}
	var passing []string
	for name, result := range in.ScanResults {
		if e.passes(name, result) {
			passing = append(passing, name)
		}
	}
	slices.Sort(passing)
	if len(passing) >= r.MinPassingScanners {
		return
	}
	need := "1 passing scanner"
	if r.MinPassingScanners > 1 {
		need = strconv.Itoa(r.MinPassingScanners) + " passing scanners"
	}
	if len(passing) == 0 {
		e.fail("min_passing_scanners", "no scanner passed, and this policy needs at least %s (min_passing_scanners); run a scanner such as modelscan and send its verdict as scan_results.<scanner> with the promote request or attach an in-toto test-result attestation", need)
		return
	}
	e.fail("min_passing_scanners", "only %d scanner(s) passed (%s), and this policy needs at least %s (min_passing_scanners); run more scanners and send their verdicts as scan_results.<scanner> with the promote request", len(passing), list(passing, true), need)
}

// passes says whether a reported verdict counts towards
// min_passing_scanners: it equals the verdict the policy expects from that
// scanner ("pass" unless the scanners list says otherwise), and a version
// the policy constrains is allowed.
func (e *evaluation) passes(name, result string) bool {
	i := slices.IndexFunc(e.r.Scanners, func(s scannerRule) bool { return s.Name == name })
	if i < 0 {
		return asciiEqualFold(result, "pass")
	}
	s := e.r.Scanners[i]
	ok, _ := versionAllowed(s, e.in.ScannerVersions)
	return ok && asciiEqualFold(result, s.Result)
}

// versionAllowed checks a scanner's reported version against versions
// (exact, case-sensitive) or min_version.
func versionAllowed(s scannerRule, versions map[string]string) (bool, string) {
	if len(s.Versions) == 0 && s.MinVersion == "" {
		return true, ""
	}
	want := "version " + s.MinVersion + " or newer"
	if len(s.Versions) > 0 {
		want = "version " + list(s.Versions, true)
		if len(s.Versions) > 1 {
			want = "one of the versions " + list(s.Versions, true)
		}
	}
	got, ok := versions[s.Name]
	if !ok || got == "" {
		return false, fmt.Sprintf("no version reported for scanner %s, and this policy needs %s; send scanner_versions.%s with the promote request", strictyaml.Show(s.Name), want, s.Name)
	}
	if len(s.Versions) > 0 {
		if slices.Contains(s.Versions, got) {
			return true, ""
		}
		return false, fmt.Sprintf("scanner %s version %s is not allowed by this policy; rescan with %s and send the new result and version", strictyaml.Show(s.Name), strictyaml.Show(got), want)
	}
	v, parsed := parseVersion(got)
	if !parsed {
		return false, fmt.Sprintf("scanner %s reported version %s, which is not a dotted version number that can be compared with the minimum %s; send the scanner's numeric version in scanner_versions.%s", strictyaml.Show(s.Name), strictyaml.Show(got), s.MinVersion, s.Name)
	}
	minV, _ := parseVersion(s.MinVersion)
	if !v.atLeast(minV) {
		return false, fmt.Sprintf("scanner %s version %s is older than this policy's minimum %s; rescan with %s %s or newer and send the new result and version", strictyaml.Show(s.Name), strictyaml.Show(got), s.MinVersion, s.Name, s.MinVersion)
	}
	return true, ""
}

// signatures: every listed key, or min_signatures of them.
func (e *evaluation) signatures() {
	r := e.r
	if len(r.Signatures) == 0 {
		return
	}
	var signed, unsigned []string
	for _, k := range r.Signatures {
		if slices.Contains(e.in.SignedBy, k.Name) {
			signed = append(signed, k.Name)
		} else {
			unsigned = append(unsigned, k.Name)
		}
	}
	if r.MinSignatures == 0 {
		for _, name := range unsigned {
			e.fail("signatures."+name, "the artifact has no valid signature by key %s, which this policy requires (signatures); sign it with that key and push the signature as a referrer of the artifact", strictyaml.Show(name))
		}
		return
	}
	if len(signed) >= r.MinSignatures {
		return
	}
	have := "none of them"
	if len(signed) > 0 {
		have = "only " + list(signed, true)
	}
	e.fail("min_signatures", "this policy needs valid signatures by at least %d of the keys %s (min_signatures), and %s signed; sign the artifact with %d more of %s and push the signatures as referrers of the artifact",
		r.MinSignatures, list(namesOf(r.Signatures), true), have, r.MinSignatures-len(signed), list(unsigned, true))
}

func namesOf(keys []NamedKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

// list writes at most 8 items for a message, quoted if quote (values
// that may hold anything) or as they are (checked tokens).
func list(items []string, quote bool) string {
	const most = 8
	var b strings.Builder
	for i, s := range items {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(items)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if quote {
			b.WriteString(strictyaml.Show(s))
		} else {
			b.WriteString(s)
		}
	}
	return b.String()
}
