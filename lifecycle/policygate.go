package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/policy"
	"github.com/ai-model-registry/ai-model-registry/provenance"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// PredicateTestResult is the in-toto predicate of a scanner's verdict
// attached to an artifact as a signed referrer.
const PredicateTestResult = "https://in-toto.io/attestation/test-result/v0.1"

// maxEvidenceReferrers bounds the signed referrers read per evaluation: a
// pusher must not make every promotion read unbounded attachments.
const maxEvidenceReferrers = 64

// PolicyError is a promotion the policy refuses (422): every unmet rule,
// each with a message a person can act on. Nothing was recorded.
type PolicyError struct {
	Name     string
	Decision policy.Decision
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "promotion of %q refused by policy %q: ", e.Name, e.Decision.PolicyVersion)
	for i, u := range e.Decision.Unmet {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(u.Message)
	}
	return b.String()
}

// PolicyCheck is the answer to a dry run of the policy on an artifact.
type PolicyCheck struct {
	Name string `json:"name"`
	policy.Decision
	// Evidence is what the decision saw besides the request: scanner
	// verdicts from signed referrers and the pipeline keys that signed.
	ScanResults     map[string]string `json:"scan_results,omitempty"`
	ScannerVersions map[string]string `json:"scanner_versions,omitempty"`
	SignedBy        []string          `json:"signed_by,omitempty"`
}

// PolicyYAML is the policy that decides promotions, as YAML.
func (s *Service) PolicyYAML() []byte { return s.policy.YAML() }

// CheckPolicy evaluates the policy against an artifact as a promotion with
// the given evidence would, without hashing (it assumes the bytes verify,
// which a real promotion checks) and without recording anything.
func (s *Service) CheckPolicy(ctx context.Context, req PromoteRequest) (PolicyCheck, error) {
	if err := ValidateName(req.Name); err != nil {
		return PolicyCheck{}, err
	}
	if err := req.validateEvidence(); err != nil {
		return PolicyCheck{}, err
	}
	r, err := s.resolve(ctx, req.Name)
	if err != nil {
		return PolicyCheck{}, err
	}
	in, ev, err := s.policyInput(ctx, r, req)
	if err != nil {
		return PolicyCheck{}, err
	}
	in.HashVerified = true
	return PolicyCheck{Name: req.Name, Decision: s.policy.Evaluate(in), ScanResults: ev.referrerScans, ScannerVersions: ev.referrerVersions, SignedBy: in.SignedBy}, nil
}

// checkOneStep refuses, before anything is stored, a promotion of a file
// that was never acquired when the policy refuses it for reasons known
// already (one-step promotes, quarantine, scanners, sources, signatures);
// what needs the stored bytes (format, size, hashes, tensor manifest) is
// checked after the acquisition, like any promotion.
func (s *Service) checkOneStep(req PromoteRequest) error {
	in := policy.Input{Name: req.Name, Source: req.Source, OneStep: true, HashVerified: true,
		ScanResults: req.ScanResults, ScannerVersions: req.ScannerVersions}
	dec := s.policy.Evaluate(in)
	dec.Unmet = slices.DeleteFunc(dec.Unmet, func(u policy.Unmet) bool {
		switch u.Rule {
		case "formats", "media_types", "max_size_bytes", "require_tensor_manifest", "hash_verified", "licenses":
			return true
		}
		return false
	})
	if len(dec.Unmet) > 0 {
		dec.Allowed = false
		return &PolicyError{Name: req.Name, Decision: dec}
	}
	return nil
}

// gatherFacts is what policyInput learned from signed referrers.
type gatherFacts struct {
	referrerScans    map[string]string
	referrerVersions map[string]string
	inputs           []digest.Digest // the test-result referrers that counted
	tensorManifest   digest.Digest
	source           string
	sourceRevision   string
}

// policyInput collects the facts the policy decides on: the artifact's
// format, layers, size, source and history, the request's scanner
// evidence merged with signed test-result referrers, and the pipeline keys
// whose signatures on the artifact verify.
func (s *Service) policyInput(ctx context.Context, r ref, req PromoteRequest) (policy.Input, gatherFacts, error) {
	var in policy.Input
	var f gatherFacts
	type signedReferrer struct {
		ref, bundle   digest.Digest
		predicateType string
	}
	var bundles []signedReferrer
	err := s.store.Read(ctx, r.repo, func(v storage.View) error {
		a, h, ok := artifact(v, r.repo, r.digest)
		if !ok {
			return errNotFound()
		}
		m, _ := v.Manifest(r.digest)
		in.Name, in.Format, in.Source = req.Name, a.Format, a.Source
		if in.Source == "" {
			in.Source = req.Source
		}
		for _, l := range m.Layers {
			in.MediaTypes = append(in.MediaTypes, l.MediaType)
			in.SizeBytes += l.Size
		}
		in.MediaTypes = slices.Compact(slices.Sorted(slices.Values(in.MediaTypes)))
		for _, rec := range h.Records {
			if rec.To == Quarantined && rec.Action == Quarantine {
				in.HadQuarantine = true
			}
		}
		in.TensorManifest = a.GGUFGuardManifest != ""
		in.TensorManifestApplies = a.Format == "gguf" || a.Format == "safetensors"
		if d, err := digest.Parse(a.GGUFGuardManifest); err == nil {
			f.tensorManifest = d
		}
		if lic := m.Annotations[ocispec.AnnotationLicenses]; lic != "" {
			in.Licenses = spdxIDs(lic)
		}
		f.source, f.sourceRevision = in.Source, a.SourceRevision
		if req.SourceRevision != "" {
			f.sourceRevision = req.SourceRevision
		}
		for _, d := range v.Referrers(r.digest) {
			rm, ok := v.Manifest(d)
			pt := rm.Annotations[provenance.AnnotationBundlePredicateType]
			if !ok || rm.ArtifactType != provenance.ArtifactType || len(rm.Layers) != 1 || registryMade(rm) || pt == "" {
				continue
			}
			bundles = append(bundles, signedReferrer{d, rm.Layers[0].Digest, pt})
			if len(bundles) == maxEvidenceReferrers {
				break
			}
		}
		return nil
	})
	if err != nil {
		return in, f, err
	}
	scans, versions := maps.Clone(req.ScanResults), maps.Clone(req.ScannerVersions)
	f.referrerScans, f.referrerVersions = map[string]string{}, map[string]string{}
	keys := s.policy.SignatureKeys()
	signed := map[string]bool{}
	sets := make([]provenance.PublicKeys, len(keys))
	for i, k := range keys {
		if pubs, err := provenance.ParsePublicKeysPEM(k.PEM); err == nil {
			sets[i] = pubs
		}
	}
	for _, b := range bundles {
		raw, err := s.readBundle(ctx, r.repo, b.bundle)
		if err != nil {
			continue
		}
		for i, k := range keys {
			if len(sets[i]) == 0 {
				continue
			}
			v, err := provenance.VerifyBundle(ctx, raw, sets[i], r.digest, b.predicateType)
			if err != nil {
				s.log.Debug("a signed referrer does not verify with a policy key", "repository", r.repo, "referrer", b.ref, "key", k.Name, "error", err)
				continue
			}
			signed[k.Name] = true
			if b.predicateType != PredicateTestResult {
				continue
			}
			if name, verdict, version, ok := testResult(v.Predicate); ok {
				if cur, ok := f.referrerScans[name]; !ok || strings.EqualFold(cur, "pass") {
					f.referrerScans[name] = verdict // a failure wins over a pass
				}
				if version != "" {
					f.referrerVersions[name] = version
				}
				f.inputs = append(f.inputs, b.ref)
			}
		}
	}
	in.ScanResults, in.ScannerVersions = mergeVerdicts(scans, f.referrerScans), mergeVersions(versions, f.referrerVersions)
	for _, k := range keys {
		if signed[k.Name] {
			in.SignedBy = append(in.SignedBy, k.Name)
		}
	}
	slices.Sort(f.inputs)
	f.inputs = slices.Compact(f.inputs)
	return in, f, nil
}

func (s *Service) readBundle(ctx context.Context, repo string, d digest.Digest) ([]byte, error) {
	rc, size, err := s.store.OpenBlob(ctx, repo, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > provenance.MaxBundleSize {
		return nil, errors.New("bundle too large")
	}
	return io.ReadAll(io.LimitReader(rc, provenance.MaxBundleSize+1))
}

// mergeVerdicts combines the request's scanner verdicts with those of
// signed referrers. Where both name a scanner and disagree, anything but
// a pass wins: evidence can only make a promotion harder.
func mergeVerdicts(req, signed map[string]string) map[string]string {
	out := maps.Clone(req)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range signed {
		if cur, ok := out[k]; !ok || strings.EqualFold(cur, "pass") {
			out[k] = v
		}
	}
	return out
}

func mergeVersions(req, signed map[string]string) map[string]string {
	out := maps.Clone(req)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, signed)
	return out
}

// spdxIDs splits an SPDX license expression into its identifiers.
func spdxIDs(expr string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(expr, func(r rune) bool { return r == ' ' || r == '(' || r == ')' || r == ',' }) {
		switch strings.ToUpper(f) {
		case "AND", "OR", "WITH":
			continue
		}
		out = append(out, f)
	}
	return out
}

// validateEvidence checks the evidence fields of a request, as validate
// does for a promotion.
func (r *PromoteRequest) validateEvidence() error {
	for field, m := range map[string]map[string]string{"scan_results": r.ScanResults, "scanner_versions": r.ScannerVersions} {
		if len(m) > 64 {
			return errorf(KindInvalid, "%s has more than 64 entries", field)
		}
		for k, v := range m {
			if k == "" || boundedText(field+" key", k, 256) != nil || boundedText(field+" value", v, 1024) != nil {
				return errorf(KindInvalid, "%s: keys must be 1-256 bytes and values at most 1024 bytes, without NUL, CR or LF", field)
			}
		}
	}
	return boundedText("source", r.Source, 4096)
}

// testResult reads an in-toto test-result predicate: the scanner is the
// first configuration entry (its name, and its "version" annotation), the
// verdict PASSED, WARNED or FAILED becomes "pass", "warn" or "fail".
func testResult(pred json.RawMessage) (name, verdict, version string, ok bool) {
	var p struct {
		Result        string `json:"result"`
		Configuration []struct {
			Name        string            `json:"name"`
			Annotations map[string]string `json:"annotations"`
		} `json:"configuration"`
	}
	if json.Unmarshal(pred, &p) != nil || len(p.Configuration) == 0 {
		return "", "", "", false
	}
	name = p.Configuration[0].Name
	if name == "" || boundedText("scanner name", name, 256) != nil {
		return "", "", "", false
	}
	switch p.Result {
	case "PASSED":
		verdict = "pass"
	case "WARNED":
		verdict = "warn"
	case "FAILED":
		verdict = "fail"
	default:
		return "", "", "", false
	}
	version = p.Configuration[0].Annotations["version"]
	if boundedText("scanner version", version, 1024) != nil {
		version = ""
	}
	return name, verdict, version, true
}
