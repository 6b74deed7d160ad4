package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"time"
)

// Read-only views for the operator page: what Verify and
// /v1/integrity/status report, without hashing anything or changing state.

// Provenance checks an artifact's promotion attestation (signature, subject,
// a passed promotion to trusted) without re-hashing its blobs: what Verify
// reports as its provenance, for a view that must not cost a full hash.
// Outcomes are cached per attestation, so repeated calls are cheap.
func (s *Service) Provenance(ctx context.Context, name string) (Provenance, error) {
	r, err := s.resolve(ctx, name)
	if err != nil {
		return Provenance{}, err
	}
	return s.provenance(ctx, r), nil
}

// IntegrityStatus is the last integrity check as its result file holds it.
type IntegrityStatus struct {
	// Found is false before the first check has written its result.
	Found  bool
	Report IntegrityReport
	// Stale: the result is older than two check intervals (never with the
	// built-in check disabled), as /v1/integrity/status reports it.
	Stale bool
}

// maxIntegrityReport bounds the result file read back.
const maxIntegrityReport = 16 << 20

// LastIntegrity reads the result the last integrity check wrote to
// IntegrityResultPath.
func (s *Service) LastIntegrity() (IntegrityStatus, error) {
	if s.integrity.path == "" {
		return IntegrityStatus{}, nil
	}
	f, err := os.Open(s.integrity.path)
	if errors.Is(err, os.ErrNotExist) {
		return IntegrityStatus{}, nil
	}
	unavailable := func(err error) (IntegrityStatus, error) {
		s.log.Error("the integrity result cannot be read", "error", err)
		return IntegrityStatus{}, errorf(KindUnavailable, "the last integrity result cannot be read (the registry log says why)")
	}
	if err != nil {
		return unavailable(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIntegrityReport+1))
	if err == nil && len(b) > maxIntegrityReport {
		err = errors.New("the result file is larger than 16 MiB")
	}
	var rep IntegrityReport
	if err == nil {
		err = json.Unmarshal(b, &rep)
	}
	if err != nil {
		return unavailable(err)
	}
	st := IntegrityStatus{Found: true, Report: rep}
	if s.integrity.interval > 0 {
		at, err := time.Parse(time.RFC3339, rep.CheckedAt)
		st.Stale = err != nil || s.now().Sub(at) > 2*s.integrity.interval
	}
	return st, nil
}
