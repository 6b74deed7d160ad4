package lifecycle_test

import (
	"context"
	"testing"

	"github.com/ai-model-registry/ai-model-registry/lifecycle"
)

// TestIntegrityCheckHook: OnIntegrityCheck sees every run of the check
// with its report, a passing one and one that finds tampered bytes.
func TestIntegrityCheckHook(t *testing.T) {
	var got []lifecycle.IntegrityReport
	e := newEnvWith(t, &env{t: t, onIntegrity: func(_ context.Context, r lifecycle.IntegrityReport, err error) {
		if err != nil {
			t.Errorf("hook got error %v", err)
		}
		got = append(got, r)
	}})
	data := gguf(7)
	a := e.acquire("m", data)
	if _, err := e.svc.Promote(e.ctx, lifecycle.PromoteRequest{Name: a.Name, SHA256: hexsum(data)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RunIntegrityCheck(e.ctx, nil); err != nil {
		t.Fatal(err)
	}
	e.tamper(a.Name, gguf(8))
	rep, err := e.svc.RunIntegrityCheck(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("hook called %d times, want 2", len(got))
	}
	if got[0].Status != "ok" || got[0].ModelsChecked != 1 || got[0].Failures != 0 {
		t.Errorf("first report %+v, want ok with 1 model checked", got[0])
	}
	if got[1].Status != "failed" || got[1].Failures != 1 || got[1].CheckedAt != rep.CheckedAt {
		t.Errorf("second report %+v, want the failed one returned (%+v)", got[1], rep)
	}
}
