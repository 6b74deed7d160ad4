package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ai-model-registry/ai-model-registry/e2e/internal/seccompprofile"
)

// The units' exposure bounds (systemd-analyze security, 0 best, 10 worst).
var maxExposure = map[string]float64{
	"secure-ai-registry.service":           1.0,
	"secure-ai-registry-integrity.service": 2.0,
}

// TestSystemdUnits checks deploy/systemd with the systemd CI installs:
// systemd-analyze verify has nothing to say about any unit, the service
// keeps the seeds' hardening, its system call filter is deploy/seccomp's
// profile name for name (the profile TestSeccomp runs the registry under),
// and systemd-analyze security scores each service within its bound.
func TestSystemdUnits(t *testing.T) {
	skipUnlessOurServer(t, "the units run our binaries")
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatalf("systemd-analyze not found (apt-get install systemd, as .ci/run does): %v", err)
	}
	names := unitFiles(t)

	// The units name the installed binaries, which verify wants to find:
	// it checks copies that name the ones this run built.
	binDir := t.TempDir()
	if err := os.Symlink(bins["registry"], filepath.Join(binDir, "ai-model-registry")); err != nil {
		t.Fatal(err)
	}
	if err := goBuild("..", binDir, "./cmd/securectl"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join("../deploy/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.ReplaceAll(string(data), "/usr/local/bin/", binDir+"/"))
		writeFile(t, dir, name, data)
	}
	var args []string
	for _, name := range names {
		args = append(args, "./"+name)
	}
	res := runCmd(t, runOpts{Dir: dir, Timeout: time.Minute}, "systemd-analyze", append([]string{"verify"}, args...)...)
	if res.Code != 0 || strings.TrimSpace(res.Stdout+res.Stderr) != "" {
		t.Errorf("systemd-analyze verify %s: want exit 0 and nothing said, got %s", strings.Join(names, " "), res)
	}

	t.Run("Hardening", func(t *testing.T) { checkServiceHardening(t, filepath.Join(dir, "secure-ai-registry.service")) })
	t.Run("Security", func(t *testing.T) {
		help := runCmd(t, runOpts{Timeout: time.Minute}, "systemd-analyze", "--help")
		if !strings.Contains(help.Stdout, "--offline") {
			t.Skipf("this systemd-analyze has no security --offline (systemd < 250): no score\n%s", help.Stdout)
		}
		for _, name := range names {
			if strings.HasSuffix(name, ".service") {
				scoreUnit(t, dir, name)
			}
		}
	})
}

// unitFiles lists deploy/systemd's units.
func unitFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../deploy/systemd")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".service", ".socket", ".timer":
			names = append(names, e.Name())
		}
	}
	for _, want := range []string{"secure-ai-registry.service", "secure-ai-registry.socket", "secure-ai-registry-integrity.timer"} {
		if !slices.Contains(names, want) {
			t.Fatalf("deploy/systemd lacks %s (has %v)", want, names)
		}
	}
	return names
}

// unitSettings reads a unit file's settings: key to every value, in order.
func unitSettings(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", path, line)
		}
		settings[k] = append(settings[k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return settings
}

func checkServiceHardening(t *testing.T, path string) {
	s := unitSettings(t, path)
	// The seeds' list (README "The systemd unit includes", service doc).
	for key, want := range map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"NoNewPrivileges": "yes", "PrivateNetwork": "yes", "MemoryDenyWriteExecute": "yes",
		"CapabilityBoundingSet": "", "SystemCallErrorNumber": "EPERM", "SystemCallArchitectures": "native",
		"MemoryMax": "512M", "CPUQuota": "50%", "TasksMax": "64",
		"StateDirectory": "secure-ai/registry", "StateDirectoryMode": "0700",
		"Requires": "secure-ai-registry.socket",
	} {
		if got := s[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %s=%s", key, got, key, want)
		}
	}
	// The data directory is the only writable path, and everything the
	// registry writes is in it.
	if rw := s["ReadWritePaths"]; len(rw) > 0 {
		t.Errorf("ReadWritePaths=%q: the StateDirectory is the only writable path", rw)
	}
	env := map[string]string{}
	for _, e := range s["Environment"] {
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	const dataDir = "/var/lib/secure-ai/registry"
	if env["REGISTRY_DIR"] != dataDir {
		t.Errorf("REGISTRY_DIR=%q, want the StateDirectory %s", env["REGISTRY_DIR"], dataDir)
	}
	if p := env["INTEGRITY_RESULT_PATH"]; !strings.HasPrefix(p, dataDir+"/") {
		t.Errorf("INTEGRITY_RESULT_PATH=%q is outside the only writable path %s", p, dataDir)
	}
	if _, ok := env["INSECURE_DEV_MODE"]; ok {
		t.Error("the unit sets INSECURE_DEV_MODE")
	}

	// SystemCallFilter= is the seccomp profile, name for name.
	var filter []string
	for _, v := range s["SystemCallFilter"] {
		filter = append(filter, strings.Fields(v)...)
	}
	data, err := os.ReadFile(seccompProfilePath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := seccompprofile.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	profile := p.Names()
	slices.Sort(filter)
	slices.Sort(profile)
	if !slices.Equal(filter, profile) {
		t.Errorf("SystemCallFilter= differs from %s:\n  only in the unit: %v\n  only in the profile: %v",
			seccompProfilePath, missingFrom(filter, profile), missingFrom(profile, filter))
	}

	sock := unitSettings(t, strings.TrimSuffix(path, ".service")+".socket")
	if got := sock["ListenStream"]; len(got) != 1 || !isLoopback(got[0]) {
		t.Errorf("socket ListenStream=%q, want one loopback address", got)
	}
}

// missingFrom returns the elements of a not in b.
func missingFrom(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func isLoopback(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`)

// scoreUnit runs systemd-analyze security on one unit, prints its score
// and fails t if it is above the unit's bound.
func scoreUnit(t *testing.T, dir, name string) {
	t.Helper()
	res := runCmd(t, runOpts{Dir: dir, Timeout: time.Minute}, "systemd-analyze", "security", "--offline=true", "--no-pager", "./"+name)
	m := exposureRE.FindStringSubmatch(res.Stdout + res.Stderr)
	if res.Code != 0 || m == nil {
		t.Errorf("systemd-analyze security %s: %s", name, res)
		return
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("SYSTEMD-SECURITY: %s %s %s", name, m[1], m[2])
	fmt.Println(line)
	t.Log(line)
	bound, ok := maxExposure[name]
	if !ok {
		bound = 2.0
	}
	if score > bound {
		t.Errorf("%s: exposure %.1f, want at most %.1f\n%s", name, score, bound, res.Stdout)
	}
}

// containerInstr is one instruction of a Containerfile.
type containerInstr struct {
	Line int
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string
}

// TestContainerfile checks deploy/Containerfile's rules (the image cannot
// be built here: its builder base image comes from a container registry
// this machine does not reach). Multi-stage, a static binary, a final
// stage with no shell and nothing to run one, a numeric non-root user, the
// data in a volume, the token mounted (never baked in), and settings the
// registry accepts.
func TestContainerfile(t *testing.T) {
	instrs := parseContainerfile(t, "../deploy/Containerfile")
	var stages [][]containerInstr
	for _, in := range instrs {
		if in.Cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.Cmd != "ARG" {
				t.Fatalf("line %d: %s before the first FROM", in.Line, in.Cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a builder and a final stage", len(stages))
	}
	builder, final := stages[:len(stages)-1], stages[len(stages)-1]

	static := false
	for _, st := range builder {
		for _, in := range st {
			if in.Cmd == "RUN" && strings.Contains(in.Args, "CGO_ENABLED=0") && strings.Contains(in.Args, "./cmd/registry") {
				static = true
			}
		}
	}
	if !static {
		t.Error("no builder RUN builds ./cmd/registry with CGO_ENABLED=0")
	}

	base := strings.Fields(final[0].Args)[0]
	if base != "scratch" && !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless static (no shell)", base)
	}
	env := map[string]string{}
	var user, entrypoint string
	var volumes, exposed []string
	for _, in := range final {
		switch in.Cmd {
		case "RUN":
			t.Errorf("line %d: RUN in the final stage (it would need a shell)", in.Line)
		case "COPY", "ADD":
			if in.Cmd == "ADD" || !strings.Contains(in.Args, "--from=") {
				t.Errorf("line %d: %s %s: the final stage takes only the builder's outputs", in.Line, in.Cmd, in.Args)
			}
			for _, f := range strings.Fields(in.Args) {
				if b := filepath.Base(f); b == "sh" || b == "bash" || b == "busybox" {
					t.Errorf("line %d: copies a shell (%s)", in.Line, f)
				}
			}
		case "USER":
			user = in.Args
		case "ENTRYPOINT", "CMD":
			var argv []string
			if err := json.Unmarshal([]byte(in.Args), &argv); err != nil || len(argv) == 0 {
				t.Errorf("line %d: %s %s is not exec form (a JSON array); the shell form needs /bin/sh", in.Line, in.Cmd, in.Args)
			}
			if in.Cmd == "ENTRYPOINT" {
				entrypoint = in.Args
			}
		case "ENV":
			for k, v := range parseEnv(t, in) {
				env[k] = v
			}
		case "VOLUME":
			if err := json.Unmarshal([]byte(in.Args), &volumes); err != nil {
				volumes = strings.Fields(in.Args)
			}
		case "EXPOSE":
			exposed = append(exposed, strings.Fields(in.Args)...)
		}
	}
	uid, gid, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (no /etc/passwd in the image)", user)
	}
	if gid != "" {
		if n, err := strconv.Atoi(gid); err != nil || n == 0 {
			t.Errorf("USER %q: want a numeric non-root gid", user)
		}
	}
	if !strings.Contains(entrypoint, "ai-model-registry") {
		t.Errorf("ENTRYPOINT %q does not start the registry", entrypoint)
	}
	if !slices.Contains(exposed, "8470") {
		t.Errorf("EXPOSE %v, want 8470", exposed)
	}
	// Read-only root: everything written is under REGISTRY_DIR, a volume.
	dir := env["REGISTRY_DIR"]
	if dir == "" || !slices.Contains(volumes, dir) {
		t.Errorf("REGISTRY_DIR=%q, VOLUME %v: the data directory must be a volume", dir, volumes)
	}
	if p := env["INTEGRITY_RESULT_PATH"]; !strings.HasPrefix(p, dir+"/") {
		t.Errorf("INTEGRITY_RESULT_PATH=%q is outside the data volume %s (the root is read-only)", p, dir)
	}
	// The token is mounted read-only where the seed README mounts it.
	if env["SERVICE_TOKEN_PATH"] != "/run/secure-ai/service-token" {
		t.Errorf("SERVICE_TOKEN_PATH=%q, want /run/secure-ai/service-token", env["SERVICE_TOKEN_PATH"])
	}
	if _, ok := env["INSECURE_DEV_MODE"]; ok {
		t.Error("the image sets INSECURE_DEV_MODE")
	}
	// The registry must accept the image's settings.
	if addr := env["BIND_ADDR"]; addr != "" && !isLoopback(addr) && env["ALLOW_REMOTE_BIND"] != "true" {
		t.Errorf("BIND_ADDR=%s without ALLOW_REMOTE_BIND=true: the registry would refuse to start", addr)
	}
}

// parseContainerfile reads the instructions, joining continued lines and
// dropping comments.
func parseContainerfile(t *testing.T, path string) []containerInstr {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []containerInstr
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, containerInstr{Line: start, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: the last instruction is continued past the end", path)
	}
	return out
}

// parseEnv reads ENV K=V [K=V...] (values without spaces or quotes).
func parseEnv(t *testing.T, in containerInstr) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, kv := range strings.Fields(in.Args) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.ContainsAny(v, `"'`) {
			t.Fatalf("line %d: ENV %q: use K=V pairs without quotes", in.Line, in.Args)
		}
		env[k] = v
	}
	return env
}
