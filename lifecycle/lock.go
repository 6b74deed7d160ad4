package lifecycle

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ai-model-registry/ai-model-registry/lockfile"
	"github.com/ai-model-registry/ai-model-registry/modelformat"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// LockOutcome is what applying one lock entry did.
type LockOutcome struct {
	Name   string `json:"name"`
	Action string `json:"action"` // trusted, imported, revoked, deleted, blocked, unchanged, missing, mismatch
	Detail string `json:"detail,omitempty"`
}

// lockReason is the reason recorded on transitions the lock causes.
func lockReason(source, why string) string {
	if why == "" {
		return "applied from " + source
	}
	return fmt.Sprintf("applied from %s: %s", source, why)
}

// ApplyLock applies a models.lock.yaml at start, every start. A blocked
// entry is never served: its artifact is revoked and no promotion of its
// name or bytes is accepted. revoked and deleted entries override the
// runtime state. A trusted entry (or one without a state) is trusted only
// when its bytes are present and hash to its sha256: an artifact already
// stored under its name is verified and promoted from acquired or
// quarantined (a runtime revocation stands); a missing one is acquired
// from the import directory and promoted. Whatever cannot be honoured is
// reported and not served.
func (s *Service) ApplyLock(ctx context.Context, l *lockfile.Lock, source string) []LockOutcome {
	ctx = WithCaller(ctx, System)
	var out []LockOutcome
	for _, e := range l.Models {
		o := s.applyEntry(ctx, e, source)
		level := s.log.Info
		if o.Action == "missing" || o.Action == "mismatch" {
			level = s.log.Error
		}
		level("lock entry applied", "name", o.Name, "action", o.Action, "detail", o.Detail)
		out = append(out, o)
	}
	return out
}

func (s *Service) applyEntry(ctx context.Context, e lockfile.Entry, source string) LockOutcome {
	o := LockOutcome{Name: e.Name}
	if e.Blocked {
		s.mu.Lock()
		s.blocked[e.Name] = e.BlockedReason
		s.blocked["sha256:"+e.SHA256] = e.BlockedReason
		s.mu.Unlock()
	}
	r, err := s.resolve(ctx, e.Name)
	exists := err == nil
	var a Artifact
	if exists {
		if a, err = s.Get(ctx, e.Name); err != nil {
			return LockOutcome{Name: e.Name, Action: "missing", Detail: err.Error()}
		}
	}
	move := func(action Action, why string) LockOutcome {
		if !exists || a.State == Deleted || (action == Revoke && a.State == Revoked) {
			o.Action, o.Detail = "unchanged", "nothing to "+string(action)
			if e.Blocked {
				o.Action = "blocked"
			}
			return o
		}
		if _, err := s.transition(ctx, r, action, lockReason(source, why), nil, nil); err != nil {
			o.Action, o.Detail = "mismatch", err.Error()
			return o
		}
		o.Action = string(action) + "d"
		if action == Revoke {
			o.Action = "revoked"
		}
		if e.Blocked {
			o.Action = "blocked"
		}
		return o
	}
	switch {
	case e.Blocked:
		return move(Revoke, "blocked: "+e.BlockedReason)
	case e.State == string(Revoked):
		return move(Revoke, "revoked by the lock")
	case e.State == string(Deleted):
		return move(Delete, "deleted by the lock")
	case e.State == string(Acquired) || e.State == string(Quarantined):
		if !exists {
			return s.importEntry(ctx, e, source, false)
		}
		o.Action = "unchanged"
		return o
	}
	// trusted, or no state: only for bytes that are present and hash right.
	if !exists {
		return s.importEntry(ctx, e, source, true)
	}
	if a.SHA256 != e.SHA256 {
		o := move(Revoke, fmt.Sprintf("the lock lists sha256 %s for this name, the stored artifact is %s", e.SHA256, a.SHA256))
		o.Action, o.Detail = "mismatch", fmt.Sprintf("stored file hashes to %s, the lock says %s; not served", a.SHA256, e.SHA256)
		return o
	}
	switch a.State {
	case Trusted:
		o.Action = "unchanged"
		return o
	case Revoked, Deleted:
		o.Action, o.Detail = "unchanged", fmt.Sprintf("%s at runtime; the lock does not undo that", a.State)
		return o
	}
	if err := s.promoteVerified(ctx, r, a, lockReason(source, "trusted by the lock"), lockEvidence(e), lockFacts(e, source)); err != nil {
		o.Action, o.Detail = "mismatch", err.Error()
		return o
	}
	o.Action = "trusted"
	return o
}

// importEntry acquires a lock entry's file from the import directory, and
// promotes it when trust is asked for.
func (s *Service) importEntry(ctx context.Context, e lockfile.Entry, source string, trust bool) LockOutcome {
	o := LockOutcome{Name: e.Name}
	_, err := s.Acquire(ctx, AcquireRequest{Name: e.Name, Filename: e.Filename, SHA256: e.SHA256, SizeBytes: e.SizeBytes,
		Source: e.Source, SourceRevision: e.SourceRevision, Reason: lockReason(source, "listed in the lock")}, nil)
	if err != nil {
		o.Action = "missing"
		if KindOf(err) == KindConflict || KindOf(err) == KindForbidden {
			o.Action = "mismatch"
		}
		o.Detail = err.Error()
		return o
	}
	if !trust {
		o.Action = "imported"
		return o
	}
	r, err := s.resolve(ctx, e.Name)
	if err == nil {
		var a Artifact
		if a, err = s.Get(ctx, e.Name); err == nil {
			err = s.promoteVerified(ctx, r, a, lockReason(source, "trusted by the lock"), lockEvidence(e), lockFacts(e, source))
		}
	}
	if err != nil {
		o.Action, o.Detail = "mismatch", err.Error()
		return o
	}
	o.Action = "trusted"
	return o
}

// lockEvidence is what a lock entry says its promotion relied on, carried
// into the promote record so a registry booted from the lock shows (and
// exports) the same evidence.
func lockEvidence(e lockfile.Entry) *Evidence {
	return &Evidence{ScanResults: e.ScanResults, ScannerVersions: e.ScannerVersions, PolicyVersion: e.PolicyVersion, SourceRevision: e.SourceRevision}
}

// lockFacts is what the attestation of a promotion the lock made says: the
// lock decided, not the promotion policy (the lock is operator
// configuration on the registry's disk, as the policy file is).
func lockFacts(e lockfile.Entry, source string) *promotionFacts {
	version := e.PolicyVersion
	if version == "" {
		version = "lock"
	}
	return &promotionFacts{decision: decisionRef{uri: "lockfile:" + filepath.Base(source), version: version},
		scanResults: e.ScanResults, scanVersions: e.ScannerVersions, source: e.Source, sourceRevision: e.SourceRevision}
}

// promoteVerified re-hashes an artifact and promotes it.
func (s *Service) promoteVerified(ctx context.Context, r ref, a Artifact, reason string, ev *Evidence, facts *promotionFacts) error {
	if err := s.refuseBlocked(a); err != nil {
		return err
	}
	bad, err := s.hashAll(ctx, r)
	if err != nil {
		return err
	}
	if bad != nil {
		return errorf(KindConflict, "hash verification failed: %v", bad)
	}
	_, err = s.transition(ctx, r, Promote, reason, ev, facts)
	return err
}

// refuseBlocked refuses trust for an artifact the lock blocks: by its name,
// or by the digest of any of its files (the same bytes under another name
// stay blocked).
func (s *Service) refuseBlocked(a Artifact) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	why, ok := s.blocked[a.Name]
	for _, sha := range append([]string{a.SHA256}, fileDigests(a)...) {
		if ok {
			break
		}
		why, ok = s.blocked["sha256:"+sha]
	}
	if !ok {
		return nil
	}
	return errorf(KindConflict, "artifact %q is blocked by models.lock.yaml and can never be trusted: %s", a.Name, why)
}

func fileDigests(a Artifact) []string {
	var out []string
	for _, f := range a.Files {
		out = append(out, f.SHA256)
	}
	return out
}

// ExportLock writes the trusted set as a lock file: byte-identical for the
// same content (sorted, no times), and enough to boot an empty registry
// with the same files into the same trusted set. Artifacts with several
// files cannot be described by the lock format and are left out (they are
// logged).
func (s *Service) ExportLock(ctx context.Context) ([]byte, error) {
	l := &lockfile.Lock{Version: 1}
	err := s.eachRepo(ctx, func(repo string, v storage.View) {
		for _, d := range v.Manifests() {
			m, _ := v.Manifest(d)
			if !listed(v, m) || stateOf(v, d) != Trusted {
				continue
			}
			a, _, ok := artifact(v, repo, d)
			if !ok {
				continue
			}
			format := a.Format
			if format != modelformat.GGUF && format != modelformat.Safetensors || len(a.Files) > 1 || a.Filename == "" {
				s.log.Warn("trusted artifact left out of the lock export: the lock format describes single GGUF or safetensors files", "name", a.Name)
				continue
			}
			e := lockfile.Entry{Name: a.Name, Format: format, Filename: exportFilename(a.Filename, format), SHA256: a.SHA256,
				SizeBytes: a.SizeBytes, State: lockfile.StateTrusted, Source: a.Source, SourceRevision: a.SourceRevision, ScanResults: a.ScanResults,
				ScannerVersions: a.ScannerVersions, PolicyVersion: a.PolicyVersion}
			l.Models = append(l.Models, e)
		}
	})
	if err != nil {
		return nil, err
	}
	// A lock names each file once (they share one import directory), but
	// two artifacts may well both be "model.gguf": in name order, every
	// later one is exported under its digest's prefix, deterministically.
	slices.SortFunc(l.Models, func(a, b lockfile.Entry) int { return strings.Compare(a.Name, b.Name) })
	used := map[string]bool{}
	out := l.Models[:0]
	for _, e := range l.Models {
		for i := 0; used[e.Filename]; i++ {
			renamed := fmt.Sprintf("%s-%s", e.SHA256[:16], path.Base(e.Filename))
			if i > 0 {
				renamed = fmt.Sprintf("%s-%d-%s", e.SHA256[:16], i, path.Base(e.Filename))
			}
			s.log.Warn("lock export: a file name is taken by another entry; exported under its digest", "name", e.Name, "filename", e.Filename, "exported_as", renamed)
			e.Filename = renamed
		}
		// Evidence the lock format cannot hold (pushed under other rules)
		// must not fail the whole export: the entry goes out without it;
		// an entry the format cannot hold at all is left out. Both logged.
		if _, err := lockfile.Marshal(&lockfile.Lock{Version: 1, Models: []lockfile.Entry{e}}); err != nil {
			s.log.Warn("lock export: evidence left out of an entry the lock format cannot hold", "name", e.Name, "error", err)
			e.Source, e.SourceRevision, e.ScanResults, e.ScannerVersions, e.PolicyVersion = "", "", nil, nil, ""
			if _, err := lockfile.Marshal(&lockfile.Lock{Version: 1, Models: []lockfile.Entry{e}}); err != nil {
				s.log.Warn("trusted artifact left out of the lock export", "name", e.Name, "error", err)
				continue
			}
		}
		used[e.Filename] = true
		out = append(out, e)
	}
	l.Models = out
	return lockfile.Marshal(l)
}

// exportFilename is the name a file is listed under in an exported lock:
// its base name (the import directory is flat for the lock's purpose),
// with the format's extension, which the lock requires, added when
// missing.
func exportFilename(name, format string) string {
	base := path.Base(name)
	if ext := "." + format; !strings.HasSuffix(strings.ToLower(base), ext) {
		base += ext
	}
	return base
}
