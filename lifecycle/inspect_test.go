package lifecycle

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLastIntegrity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "integrity-last.json")
	now := time.Date(2026, 11, 25, 16, 0, 0, 0, time.UTC)
	s := &Service{log: slog.New(slog.DiscardHandler), now: func() time.Time { return now }}
	s.integrity.init(15*time.Minute, path)

	if st, err := s.LastIntegrity(); err != nil || st.Found {
		t.Errorf("before the first check: %+v, %v; want not found", st, err)
	}
	for _, tc := range []struct {
		body  string
		found bool
		stale bool
		kind  Kind
	}{
		{body: `{"status":"ok","checked_at":"2026-11-25T15:50:00Z","models_checked":2}`, found: true},
		{body: `{"status":"failed","checked_at":"2026-11-25T15:00:00Z","failures":1}`, found: true, stale: true},
		{body: `{"status":"ok","checked_at":"yesterday"}`, found: true, stale: true},
		{body: `not json`, kind: KindUnavailable},
	} {
		if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := s.LastIntegrity()
		if st.Found != tc.found || st.Stale != tc.stale || KindOf(err) != tc.kind {
			t.Errorf("%s: %+v, %v; want found %v, stale %v, kind %d", tc.body, st, err, tc.found, tc.stale, tc.kind)
		}
		if tc.found && st.Report.Status == "" {
			t.Errorf("%s: report not decoded", tc.body)
		}
	}
	s.integrity.interval = 0 // the built-in check is off: never stale
	if err := os.WriteFile(path, []byte(`{"status":"ok","checked_at":"2020-01-01T00:00:00Z"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if st, err := s.LastIntegrity(); err != nil || st.Stale {
		t.Errorf("interval 0: %+v, %v; want not stale", st, err)
	}
}
