package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/ai-model-registry/ai-model-registry/oci"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// Result is the answer to quarantine, revoke and delete: the new status, or
// "already_<state>" when the artifact was there already.
type Result struct {
	Status string `json:"status"`
	Name   string `json:"name"`
}

// errChanged is returned when an artifact's history moved between reading
// it and committing a transition; the caller retries once.
var errChanged = errors.New("artifact changed meanwhile")

// plannedTransition is a transition decided from one view of the store.
type plannedTransition struct {
	name     string
	from, to State
	noop     bool
	head     digest.Digest
	record   *oci.Manifest
	unlink   []digest.Digest // for delete: layer blobs no other live artifact uses
	runtime  map[string]digest.Digest
	artifact Artifact
	at       time.Time          // the record's time
	who      string             // the record's who
	subject  ocispec.Descriptor // the artifact's manifest
}

// transition moves the artifact at r by action and returns what happened.
// It is atomic and durable: the record and the cached state land in one
// storage transaction, which fails if the history moved meanwhile (then it
// retries once from a fresh view). Nothing is held across I/O.
//
// A promotion (facts set) also stores its signed attestation, in the same
// transaction as its record.
func (s *Service) transition(ctx context.Context, r ref, action Action, reason string, ev *Evidence, facts *promotionFacts) (plannedTransition, error) {
	var p plannedTransition
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		p, err = s.plan(ctx, r, action, reason, ev)
		if err != nil || p.noop {
			return p, err
		}
		var att *attachment
		if p.to == Trusted {
			if att, err = s.attest(ctx, r, p, facts); err != nil {
				return p, err
			}
		}
		if p.from == Trusted && p.to != Trusted && s.files != nil {
			// Take the runtime directory away first: its hard links
			// would otherwise keep a deleted artifact's bytes alive, and a
			// runtime must not find files of an artifact that is no longer
			// trusted. If the commit fails, /v1/model/path makes it again.
			if err := s.files.UnpublishRuntime(r.repo, r.digest); err != nil {
				return p, err
			}
		}
		err = s.commitTransition(ctx, r, p, att)
		if !errors.Is(err, errChanged) {
			break
		}
	}
	if err != nil {
		if errors.Is(err, errChanged) {
			return p, errorf(KindConflict, "artifact %q changed state while this request ran; retry", p.name)
		}
		return p, err
	}
	s.logTransition(ctx, r, p, action, reason)
	s.afterTransition(r, p)
	return p, nil
}

func (s *Service) plan(ctx context.Context, r ref, action Action, reason string, ev *Evidence) (plannedTransition, error) {
	var p plannedTransition
	err := s.store.Read(ctx, r.repo, func(v storage.View) error {
		a, h, ok := artifact(v, r.repo, r.digest)
		if !ok {
			return errNotFound()
		}
		m, _ := v.Manifest(r.digest)
		p.name, p.artifact, p.head, p.subject = a.Name, a, h.Head(), m.Descriptor
		p.from = h.State()
		if p.from == "" {
			p.from = Acquired
		}
		to, noop, err := Decide(a.Name, p.from, action)
		if err != nil {
			return err
		}
		p.to, p.noop = to, noop
		if noop {
			return nil
		}
		rec := Record{Seq: len(h.Records) + 1, Action: action, From: p.from, To: to, At: s.now().UTC(), Reason: reason, Who: CallerFrom(ctx).Who, Prev: h.Head(), Evidence: ev}
		if len(h.Records) == 0 { // cannot happen after New's rebuild; keep the chain valid anyway
			return errorf(KindConflict, "artifact %q has no acquisition record; restart the registry to repair it", a.Name)
		}
		p.at, p.who = rec.At, rec.Who
		if p.record, err = rec.Manifest(m.Descriptor); err != nil {
			return err
		}
		if to == Deleted {
			p.unlink = droppable(v, r.digest, m)
		}
		if to == Trusted {
			all, primary := files(m)
			p.runtime = map[string]digest.Digest{}
			for _, f := range all {
				p.runtime[f.Filename] = f.digest
			}
			if len(all) == 0 && primary.digest != "" {
				p.runtime[r.digest.Encoded()] = primary.digest
			}
		}
		return nil
	})
	return p, err
}

// droppable lists the layers of a deleted artifact whose bytes no other
// live (not deleted) manifest in the repository uses. Configs stay: they are
// metadata, and the deleted artifact keeps its metadata and history.
func droppable(v storage.View, d digest.Digest, m storage.Manifest) []digest.Digest {
	var out []digest.Digest
	for _, l := range m.Layers {
		shared := false
		for _, u := range v.Users(l.Digest) {
			if u != d && stateOf(v, u) != Deleted {
				shared = true
				break
			}
		}
		if !shared && !slices.Contains(out, l.Digest) && v.HasBlob(l.Digest) {
			out = append(out, l.Digest)
		}
	}
	return out
}

func (s *Service) commitTransition(ctx context.Context, r ref, p plannedTransition, att *attachment) error {
	tx := storage.Txn{
		Put:    []*oci.Manifest{p.record},
		Blobs:  [][]byte{emptyJSON.Data},
		Unlink: p.unlink,
		Meta: map[digest.Digest]map[string]string{
			p.record.Digest: recordMeta(),
		},
		Check: func(v storage.View) error {
			m, ok := v.Manifest(r.digest)
			if !ok {
				return errNotFound()
			}
			if ReadHistory(v, r.digest).Head() != p.head {
				return errChanged
			}
			if p.to == Deleted && !slices.Equal(droppable(v, r.digest, m), p.unlink) {
				return errChanged
			}
			return nil
		},
	}
	if att != nil {
		tx.Put = append(tx.Put, att.manifest)
		tx.Blobs = append(tx.Blobs, att.blobs...)
		tx.Meta[att.manifest.Digest] = recordMeta()
	}
	err := s.store.Read(ctx, r.repo, func(v storage.View) error {
		m, ok := v.Manifest(r.digest)
		if !ok {
			return errNotFound()
		}
		tx.Meta[r.digest] = stateMeta(m.Meta, p.to, p.record.Digest)
		return nil
	})
	if err != nil {
		return err
	}
	return s.store.Commit(ctx, r.repo, tx)
}

func (s *Service) logTransition(ctx context.Context, r ref, p plannedTransition, action Action, reason string) {
	s.log.Info("lifecycle transition", "name", p.name, "repository", r.repo, "digest", r.digest, "action", action,
		"from", p.from, "to", p.to, "record", p.record.Digest, "who", CallerFrom(ctx).Who, "reason", reason)
	s.observe(ctx, Transition{Name: p.name, Repository: r.repo, Digest: r.digest, Action: action, From: p.from, To: p.to,
		Record: p.record.Digest, Who: CallerFrom(ctx).Who, Reason: reason})
}

// observe hands a committed transition to OnTransition.
func (s *Service) observe(ctx context.Context, t Transition) {
	if s.onTransition != nil {
		s.onTransition(ctx, t)
	}
}

// afterTransition keeps the runtime directory in step with trust: it exists
// only while the artifact is trusted.
func (s *Service) afterTransition(r ref, p plannedTransition) {
	if s.files == nil {
		return
	}
	if p.to == Trusted {
		if _, err := s.files.PublishRuntime(r.repo, r.digest, p.runtime); err != nil {
			s.log.Error("could not publish the runtime directory; /v1/model/path will retry", "name", p.name, "error", err)
		}
		return
	}
}

func (s *Service) simple(ctx context.Context, name string, action Action, reason string) (Result, error) {
	r, err := s.resolve(ctx, name)
	if err != nil {
		return Result{}, err
	}
	p, err := s.transition(ctx, r, action, reason, nil, nil)
	if err != nil {
		return Result{}, err
	}
	if p.noop {
		return Result{Status: "already_" + string(p.to), Name: name}, nil
	}
	return Result{Status: string(p.to), Name: name}, nil
}

// Quarantine moves an acquired artifact to quarantined.
func (s *Service) Quarantine(ctx context.Context, name, reason string) (Result, error) {
	return s.simple(ctx, name, Quarantine, reason)
}

// Revoke blocks an artifact from runtime use; its history is kept.
func (s *Service) Revoke(ctx context.Context, name, reason string) (Result, error) {
	return s.simple(ctx, name, Revoke, reason)
}

// Delete soft-deletes an artifact: its bytes are removed unless another live
// artifact shares them; its metadata and full history are kept.
func (s *Service) Delete(ctx context.Context, name, reason string) (Result, error) {
	return s.simple(ctx, name, Delete, reason)
}

// IntegrityFailure is the registry's own transition when stored bytes no
// longer match: a trusted artifact becomes quarantined, recorded with who =
// system and the reason. Other states are left alone.
func (s *Service) IntegrityFailure(ctx context.Context, name, reason string) (State, error) {
	r, err := s.resolve(ctx, name)
	if err != nil {
		return "", err
	}
	return s.integrityFailure(ctx, r, reason)
}

func (s *Service) integrityFailure(ctx context.Context, r ref, reason string) (State, error) {
	p, err := s.transition(WithCaller(ctx, System), r, IntegrityFailure, reason, nil, nil)
	if err != nil {
		return "", err
	}
	if !p.noop {
		s.log.Error(fmt.Sprintf("ALERT: integrity check failed; artifact %q moved from trusted to quarantined", p.name), "name", p.name, "repository", r.repo, "digest", r.digest, "reason", reason)
	}
	return p.to, nil
}

// ValidateReason checks a transition reason: at most 1024 bytes, without
// control or bidirectional-formatting characters.
func ValidateReason(reason string) error { return boundedText("reason", reason, 1024) }
