package lifecycle

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/ai-model-registry/ai-model-registry/atomicfile"
)

// integrity holds the built-in check's settings and what recent
// verifications found, so anonymous callers can be answered without
// hashing anything.
type integrity struct {
	interval time.Duration
	path     string

	running sync.Mutex // one verification of every artifact at a time

	mu      sync.Mutex
	results map[ref]stamped   // last result per artifact
	anonRun map[ref]time.Time // last fresh run an anonymous caller caused
	last    *VerifyAllResult  // last verification of every artifact
	lastIt  []checked
	lastAt  time.Time
}

type stamped struct {
	res VerifyResult
	at  time.Time
}

// anonymousEvery bounds fresh verifications anonymous callers cause.
const anonymousEvery = time.Minute

func (in *integrity) init(interval time.Duration, path string) {
	in.interval, in.path = interval, path
	in.results = map[ref]stamped{}
	in.anonRun = map[ref]time.Time{}
}

// freshFor is how long a result is served to anonymous callers.
func (in *integrity) freshFor() time.Duration {
	if in.interval > 0 && in.interval < 15*time.Minute {
		return in.interval
	}
	return 15 * time.Minute
}

func (in *integrity) recent(r ref, now time.Time) (VerifyResult, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	st, ok := in.results[r]
	if !ok || now.Sub(st.at) > in.freshFor() || st.res.Status != "verified" {
		return VerifyResult{}, false
	}
	return st.res, true
}

// anonymousRun reports how long an anonymous caller must wait before it may
// cause another fresh verification of r, or 0 and records the run.
func (in *integrity) anonymousRun(r ref, now time.Time) time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	if last, ok := in.anonRun[r]; ok && now.Sub(last) < anonymousEvery {
		return anonymousEvery - now.Sub(last)
	}
	in.anonRun[r] = now
	return 0
}

func (in *integrity) remember(r ref, res VerifyResult, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.results[r] = stamped{res, now}
}

func (in *integrity) rememberAll(res VerifyAllResult, items []checked, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.last, in.lastIt, in.lastAt = &res, items, now
}

// lastTrusted is the last verification of every artifact, limited to the
// artifacts that were trusted: what anonymous callers may see.
func (in *integrity) lastTrusted() (VerifyAllResult, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.last == nil {
		return VerifyAllResult{}, busy(time.Minute, "no verification has completed yet; retry later, or send the service token to run one")
	}
	out := VerifyAllResult{Status: "ok", Models: []VerifyResult{}}
	for _, it := range in.lastIt {
		if it.a.State != Trusted {
			continue
		}
		vr := it.result
		vr.SafeToUse, vr.State = "", ""
		if vr.Status == "failed" {
			out.Status = "failed"
		}
		out.Models = append(out.Models, vr)
		out.Checked++
	}
	return out, nil
}

// IntegrityReport is what the integrity check writes to
// INTEGRITY_RESULT_PATH and /v1/integrity/status serves. It keeps the
// predecessor's fields (status, checked_at, models_checked, failures) and
// adds the per-artifact results and how long the check took.
type IntegrityReport struct {
	Status          string            `json:"status"` // ok or failed
	CheckedAt       string            `json:"checked_at"`
	ModelsChecked   int               `json:"models_checked"`
	Failures        int               `json:"failures"`
	Skipped         int               `json:"skipped"`
	DurationMS      int64             `json:"duration_ms"`
	BytesHashed     int64             `json:"bytes_hashed"`
	IntervalSeconds int64             `json:"interval_seconds"`
	Writer          string            `json:"writer"`
	Results         []IntegrityResult `json:"results"`
}

// IntegrityResult is one artifact's outcome in a check.
type IntegrityResult struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Status string `json:"status"` // verified, failed or skipped
	State  State  `json:"state"`  // after the check
	Error  string `json:"error,omitempty"`
}

// RunIntegrityCheck verifies every artifact (quarantining trusted ones
// whose bytes fail), writes the report atomically to the result path and
// returns it. p, when set, reports progress.
func (s *Service) RunIntegrityCheck(ctx context.Context, p *Progress) (IntegrityReport, error) {
	rep, err := s.runIntegrityCheck(ctx, p)
	if s.onIntegrity != nil {
		s.onIntegrity(ctx, rep, err)
	}
	return rep, err
}

func (s *Service) runIntegrityCheck(ctx context.Context, p *Progress) (IntegrityReport, error) {
	ctx = WithCaller(ctx, System)
	start := s.now()
	if p == nil {
		p = &Progress{}
	}
	_, items, err := s.runAll(ctx, p)
	if err != nil {
		return IntegrityReport{}, err
	}
	rep := IntegrityReport{Status: "ok", CheckedAt: start.UTC().Format(time.RFC3339), Writer: "ai-model-registry",
		IntervalSeconds: int64(s.integrity.interval / time.Second), Results: []IntegrityResult{}, BytesHashed: p.Snapshot().BytesDone}
	for _, it := range items {
		res := IntegrityResult{Name: it.a.Name, Digest: it.r.digest.String(), Status: it.result.Status, State: it.a.State, Error: it.result.Error}
		switch it.result.Status {
		case "failed":
			rep.Failures++
			rep.Status = "failed"
			if it.a.State == Trusted {
				res.State = Quarantined
			}
		case "skipped":
			rep.Skipped++
		}
		rep.ModelsChecked++
		rep.Results = append(rep.Results, res)
	}
	rep.DurationMS = s.now().Sub(start).Milliseconds()
	if s.integrity.path != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return rep, err
		}
		if err := atomicfile.Write(s.integrity.path, append(b, '\n'), 0o640); err != nil {
			s.log.Error("could not write the integrity result", "error", err)
			return rep, err
		}
	}
	level := s.log.Info
	if rep.Failures > 0 {
		level = s.log.Error
	}
	level("integrity check finished", "status", rep.Status, "models_checked", rep.ModelsChecked, "failures", rep.Failures,
		"duration_ms", rep.DurationMS, "bytes_hashed", rep.BytesHashed)
	return rep, nil
}

// RunIntegrityChecks runs the check every interval until ctx ends. It does
// nothing when the interval is 0 (disabled).
func (s *Service) RunIntegrityChecks(ctx context.Context) {
	if s.integrity.interval <= 0 {
		return
	}
	t := time.NewTicker(s.integrity.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.RunIntegrityCheck(ctx, nil); err != nil && ctx.Err() == nil {
				s.log.Error("integrity check did not complete", "error", err)
			}
		}
	}
}
