package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// Vendor names. Everything under Prefix is reserved: clients cannot push
// manifests of the record type or carrying these annotations.
const (
	Prefix = "dev.aimr."

	// ArtifactTypeRecord is the artifactType of transition records.
	ArtifactTypeRecord = "application/vnd.aimr.lifecycle.transition.v1+json"

	annAction   = Prefix + "lifecycle.action"
	annFrom     = Prefix + "lifecycle.from"
	annTo       = Prefix + "lifecycle.to"
	annSeq      = Prefix + "lifecycle.seq"
	annPrev     = Prefix + "lifecycle.prev"
	annReason   = Prefix + "lifecycle.reason"
	annWho      = Prefix + "lifecycle.who"
	annEvidence = Prefix + "lifecycle.evidence"

	// MetaState and MetaHead are index annotations (storage.Txn.Meta) on an
	// artifact's descriptor: a cache of its current state and of the
	// digest of its newest record. The records are the source of truth.
	MetaState = Prefix + "lifecycle.state"
	MetaHead  = Prefix + "lifecycle.head"
)

// emptyJSON is the OCI empty descriptor; records use it as config and layer.
var emptyJSON = ocispec.DescriptorEmptyJSON

// Evidence is what a promotion relied on. It is kept in the promote record,
// because it changes over time while the artifact's bytes do not.
type Evidence struct {
	ScanResults          map[string]string `json:"scan_results,omitempty"`
	ScannerVersions      map[string]string `json:"scanner_versions,omitempty"`
	PolicyVersion        string            `json:"policy_version,omitempty"`
	SourceRevision       string            `json:"source_revision,omitempty"`
	GGUFGuardFingerprint json.RawMessage   `json:"gguf_guard_fingerprint,omitempty"`
	GGUFGuardManifest    string            `json:"gguf_guard_manifest,omitempty"`
}

func (e *Evidence) empty() bool {
	return e == nil || (len(e.ScanResults) == 0 && len(e.ScannerVersions) == 0 && e.PolicyVersion == "" &&
		e.SourceRevision == "" && len(e.GGUFGuardFingerprint) == 0 && e.GGUFGuardManifest == "")
}

// Record is one transition of one artifact.
type Record struct {
	Digest   digest.Digest `json:"digest"` // of the record manifest; set by Parse
	Seq      int           `json:"seq"`
	Action   Action        `json:"action"`
	From     State         `json:"from,omitempty"` // empty for the first record
	To       State         `json:"to"`
	At       time.Time     `json:"at"`
	Reason   string        `json:"reason,omitempty"`
	Who      string        `json:"who"`
	Prev     digest.Digest `json:"prev,omitempty"` // digest of the previous record
	Evidence *Evidence     `json:"evidence,omitempty"`
}

// Manifest renders the record as an OCI artifact manifest whose subject is
// the artifact. Everything is in annotations, so a referrers listing (and
// `oras discover`) shows the history without fetching any blob.
func (r Record) Manifest(subject ocispec.Descriptor) (*oci.Manifest, error) {
	ann := map[string]string{
		ocispec.AnnotationCreated: r.At.UTC().Format(time.RFC3339Nano),
		annAction:                 string(r.Action),
		annTo:                     string(r.To),
		annSeq:                    strconv.Itoa(r.Seq),
		annWho:                    r.Who,
	}
	if r.From != "" {
		ann[annFrom] = string(r.From)
	}
	if r.Prev != "" {
		ann[annPrev] = r.Prev.String()
	}
	if r.Reason != "" {
		ann[annReason] = r.Reason
	}
	if !r.Evidence.empty() {
		b, err := json.Marshal(r.Evidence)
		if err != nil {
			return nil, err
		}
		ann[annEvidence] = string(b)
	}
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactTypeRecord,
		Config:       emptyJSON,
		Layers:       []ocispec.Descriptor{emptyJSON},
		Subject:      &subj,
		Annotations:  ann,
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return oci.ParseManifest(ocispec.MediaTypeImageManifest, body, digest.SHA256)
}

// IsRecord reports whether a stored manifest is a transition record.
func IsRecord(m storage.Manifest) bool { return m.ArtifactType == ArtifactTypeRecord }

// vendorTypes prefixes the artifactTypes only the registry writes:
// transition records and per-tensor manifests.
const vendorTypes = "application/vnd.aimr."

// registryMade reports manifests the registry wrote about an artifact
// (records, tensor manifests): born trusted, never artifacts themselves.
func registryMade(m storage.Manifest) bool {
	return strings.HasPrefix(m.ArtifactType, vendorTypes) || m.Annotations[annMadeBy] == madeByRegistry
}

// ParseRecord reads a record back from a stored manifest.
func ParseRecord(m storage.Manifest) (Record, error) {
	if !IsRecord(m) || m.Subject == nil {
		return Record{}, errors.New("not a transition record")
	}
	a := m.Annotations
	r := Record{
		Digest: m.Descriptor.Digest,
		Action: Action(a[annAction]),
		From:   State(a[annFrom]),
		To:     State(a[annTo]),
		Reason: a[annReason],
		Who:    a[annWho],
		Prev:   digest.Digest(a[annPrev]),
	}
	var err error
	if r.Seq, err = strconv.Atoi(a[annSeq]); err != nil || r.Seq < 1 {
		return Record{}, fmt.Errorf("record %s: bad sequence number %q", m.Descriptor.Digest, a[annSeq])
	}
	if r.At, err = time.Parse(time.RFC3339Nano, a[ocispec.AnnotationCreated]); err != nil {
		return Record{}, fmt.Errorf("record %s: bad time: %w", m.Descriptor.Digest, err)
	}
	if !r.To.Valid() || (r.From != "" && !r.From.Valid()) {
		return Record{}, fmt.Errorf("record %s: unknown state", m.Descriptor.Digest)
	}
	if r.Prev != "" {
		if _, err := oci.ParseDigest(string(r.Prev)); err != nil {
			return Record{}, fmt.Errorf("record %s: bad previous digest", m.Descriptor.Digest)
		}
	}
	if ev := a[annEvidence]; ev != "" {
		r.Evidence = &Evidence{}
		if err := json.Unmarshal([]byte(ev), r.Evidence); err != nil {
			return Record{}, fmt.Errorf("record %s: bad evidence: %w", m.Descriptor.Digest, err)
		}
	}
	return r, nil
}

// History is an artifact's records in order, with the result of checking
// them as a hash chain.
type History struct {
	Records []Record
	// Err says why the chain does not verify; nil when it does.
	Err error
}

// State is the state the history ends in: "" when there are no records,
// and Quarantined when the chain does not verify, so a tampered history is
// never trusted.
func (h History) State() State {
	switch {
	case h.Err != nil:
		return Quarantined
	case len(h.Records) == 0:
		return ""
	}
	return h.Records[len(h.Records)-1].To
}

// Head is the digest of the newest record ("" when there is none).
func (h History) Head() digest.Digest {
	if len(h.Records) == 0 {
		return ""
	}
	return h.Records[len(h.Records)-1].Digest
}

// ReadHistory collects the records of artifact d from a view and verifies
// them as a chain: sequence numbers 1..n without gaps or duplicates, each
// record naming its predecessor's digest, each from-state equal to the
// previous to-state, and each step allowed by Decide.
func ReadHistory(v storage.View, d digest.Digest) History {
	var h History
	var errs []error
	for _, rd := range v.Referrers(d) {
		m, ok := v.Manifest(rd)
		if !ok || !IsRecord(m) {
			continue
		}
		r, err := ParseRecord(m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		h.Records = append(h.Records, r)
	}
	slices.SortFunc(h.Records, func(a, b Record) int { return a.Seq - b.Seq })
	errs = append(errs, verifyChain(h.Records))
	h.Err = errors.Join(errs...)
	return h
}

func verifyChain(recs []Record) error {
	for i, r := range recs {
		if r.Seq != i+1 {
			return fmt.Errorf("record %d of the chain has sequence number %d: a record is missing or duplicated", i+1, r.Seq)
		}
		if i == 0 {
			if r.Prev != "" || r.From != "" || r.Action != Acquire || r.To != Acquired {
				return fmt.Errorf("first record %s is not an acquisition", r.Digest)
			}
			continue
		}
		p := recs[i-1]
		if r.Prev != p.Digest {
			return fmt.Errorf("record %d names %s as its predecessor, but record %d is %s", r.Seq, r.Prev, p.Seq, p.Digest)
		}
		if r.From != p.To {
			return fmt.Errorf("record %d starts from %s, but record %d ended in %s", r.Seq, r.From, p.Seq, p.To)
		}
		if to, noop, err := Decide("", r.From, r.Action); err != nil || noop || to != r.To {
			return fmt.Errorf("record %d: %s from %s to %s is not an allowed transition", r.Seq, r.Action, r.From, r.To)
		}
	}
	return nil
}

// stateMeta returns the index annotations caching state and head.
func stateMeta(old map[string]string, s State, head digest.Digest) map[string]string {
	m := maps.Clone(old)
	if m == nil {
		m = map[string]string{}
	}
	m[MetaState] = string(s)
	if head != "" {
		m[MetaHead] = head.String()
	}
	return m
}

// recordMeta is the index annotation of a record: registry-made records are
// born trusted. (Only the registry can store a record: /v2 refuses client
// manifests of the record type or with annotations under Prefix.)
func recordMeta() map[string]string {
	return map[string]string{MetaState: string(Trusted)}
}
