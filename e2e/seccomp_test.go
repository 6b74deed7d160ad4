package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seccompProfilePath is the profile deploy/ ships, relative to this module.
const seccompProfilePath = "../deploy/seccomp/ai-model-registry.json"

// TestSeccomp runs the registry under exactly deploy/seccomp's profile,
// loaded by cmd/seccomp-exec as a container runtime loads it, and runs the
// OCI conformance suite and the lifecycle scenarios against it; then again
// with the socket passed by systemd (LISTEN_FDS), as deploy/systemd starts
// it. The profile's default is EPERM: a syscall it lacks fails the start or
// a request, and so the subtest that needs it.
func TestSeccomp(t *testing.T) {
	skipUnlessOurServer(t, "the profile is the registry's")
	profile, err := filepath.Abs(seccompProfilePath)
	if err != nil {
		t.Fatal(err)
	}
	setHarness(t, &seccompProfile, profile)

	t.Run("FilterInForce", func(t *testing.T) { checkFiltered(t, startRegistry(t)) })
	t.Run("Conformance", TestConformance)
	t.Run("LifecycleOrasScenario", TestLifecycleOrasScenario)
	t.Run("AcquireImportAndStream", TestAcquireImportAndStream)
	t.Run("DeleteRemovesBytes", TestDeleteRemovesBytes)
	t.Run("StateRebuiltFromRecords", TestStateRebuiltFromRecords)
	t.Run("SocketActivated", func(t *testing.T) {
		setHarness(t, &socketActivation, true)
		t.Run("FilterInForce", func(t *testing.T) { checkFiltered(t, startRegistry(t)) })
		t.Run("LifecycleOrasScenario", TestLifecycleOrasScenario)
	})
}

// TestSeccompMissingSyscallFails shows that the launcher enforces the
// profile rather than ignoring it: without flock, which the registry needs
// to hold its data directory, the registry must refuse to start.
func TestSeccompMissingSyscallFails(t *testing.T) {
	skipUnlessOurServer(t, "the profile is the registry's")
	data, err := os.ReadFile(seccompProfilePath)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	removed := false
	for _, rule := range raw["syscalls"].([]any) {
		m := rule.(map[string]any)
		names := m["names"].([]any)
		if j := slices.Index(names, any("flock")); j >= 0 {
			m["names"] = slices.Delete(names, j, j+1)
			removed = true
		}
	}
	if !removed {
		t.Fatalf("%s does not allow flock; this test needs a syscall the registry cannot start without", seccompProfilePath)
	}
	out, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	without := writeFile(t, dir, "without-flock.json", out)
	tokenPath := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenPath, []byte(randomHex(t, 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "BIND_ADDR=127.0.0.1:"+strconv.Itoa(freePort(t)), "REGISTRY_DIR="+filepath.Join(dir, "data"),
		"SERVICE_TOKEN_PATH="+tokenPath)
	res := runCmd(t, runOpts{Env: env, Timeout: time.Minute}, "seccomp-exec", without, bins["registry"])
	if res.Code == 0 || !strings.Contains(res.Stderr, "operation not permitted") {
		t.Errorf("registry under the profile without flock: want a refused start naming EPERM, got %s", res)
	}
}

// setHarness sets one of the harness's switches for the rest of the test
// (no test of this package runs in parallel with another).
func setHarness[T any](t *testing.T, v *T, value T) {
	old := *v
	*v = value
	t.Cleanup(func() { *v = old })
}

// checkFiltered fails t unless r's process runs with no_new_privs and a
// seccomp filter.
func checkFiltered(t *testing.T, r *registry) {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(r.proc.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NoNewPrivs:\t1\n", "Seccomp:\t2\n"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("registry process status lacks %q:\n%s", strings.TrimSpace(want), status)
		}
	}
}
