package cli

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/doctor"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/testenv"
	"github.com/startsvc/startsvc/internal/ui"
)

func TestRenderDoctor(t *testing.T) {
	rep := &doctor.Report{Checks: []doctor.Check{
		{Name: "engine", Status: doctor.OK, Message: "Docker Engine 27.0.0"},
		{Name: "infisical-credentials", Status: doctor.Skipped, Message: "not checked: --skip-infisical"},
		{Name: "env-example-extra", Status: doctor.Warning, Message: "1 key of .env is not in .env.example: EXTRA", Hint: "a misspelt name?"},
		{Name: "required-variables", Status: doctor.Error, Code: exitcode.Usage, Message: "JWT_SECRET is required", Hint: "set it in .env"},
	}}
	got := renderDoctor(rep, ui.New(nil, false, false, false))
	want := `ok       engine                 Docker Engine 27.0.0
skipped  infisical-credentials  not checked: --skip-infisical
warning  env-example-extra      1 key of .env is not in .env.example: EXTRA
                                hint: a misspelt name?
error    required-variables     JWT_SECRET is required
                                hint: set it in .env

1 error, 1 warning: up would fail (exit 2)
`
	if got != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", got, want)
	}
}

// doctorReport runs startsvc doctor --json in dir and decodes its report.
func doctorReport(t *testing.T, dir string, args ...string) (outcome, doctor.Report) {
	t.Helper()
	r := invoke(t, dir, nil, append([]string{"doctor", "--json"}, args...)...)
	var rep doctor.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor --json printed no report (exit %d): %v\n%s", r.code, err, r.stderr)
	}
	return r, rep
}

// findings lists the checks that are not ok, except allowed ones.
func findings(rep doctor.Report, allowed ...string) map[string]doctor.Check {
	out := map[string]doctor.Check{}
	for _, c := range rep.Checks {
		ok := c.Status == doctor.OK
		for _, a := range allowed {
			ok = ok || c.Name == a
		}
		if !ok {
			out[c.Name] = c
		}
	}
	return out
}

var portInMessage = regexp.MustCompile(`(\d+\.\d+\.\d+\.\d+):(\d+)/tcp`)

// portsReallyTaken reports whether every port a failed ports check names is
// in use right now, on this machine: then the finding is true, not a fault.
func portsReallyTaken(msg string) bool {
	m := portInMessage.FindAllStringSubmatch(msg, -1)
	if len(m) == 0 {
		return false
	}
	for _, p := range m {
		l, err := net.Listen("tcp", net.JoinHostPort(strings.Replace(p[1], "0.0.0.0", "", 1), p[2]))
		if err == nil {
			l.Close()
			return false
		}
	}
	return true
}

func hasNvidia(t *testing.T) bool {
	out, err := exec.Command("docker", "info", "--format", "{{json .Runtimes}}").Output()
	if err != nil {
		t.Fatalf("docker info: %v", err)
	}
	return strings.Contains(string(out), `"nvidia"`)
}

// TestDoctorAcceptance is issue 5's second acceptance: on a freshly init'ed
// copy of the repository doctor reports what this machine lacks and nothing
// else; after a required variable is deleted from .env it names it and exits
// non-zero. No value is ever printed.
func TestDoctorAcceptance(t *testing.T) {
	testenv.RequireDocker(t)
	dir := shippedStack(t)
	if r := invoke(t, dir, nil, "init"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	envPath := filepath.Join(dir, ".env")
	hidden := envSecrets(t, envPath)
	nvidia := hasNvidia(t)

	// The default profile: nothing wrong.
	r, rep := doctorReport(t, dir)
	assertHidden(t, r.stdout+r.stderr, hidden)
	found := findings(rep, doctor.CheckInfisicalAuth)
	portsTaken := false
	if c, ok := found[doctor.CheckPorts]; ok && portsReallyTaken(c.Message) {
		t.Logf("ports in use on this machine, reported rightly: %s", c.Message)
		delete(found, doctor.CheckPorts)
		portsTaken = true
	}
	for _, c := range found {
		t.Errorf("finding on a fresh copy: %s %s: %s", c.Name, c.Status, c.Message)
	}
	if !portsTaken && (r.code != 0 || !rep.OK) {
		t.Errorf("exit %d, ok %v; want 0, true", r.code, rep.OK)
	}
	if c, _ := findCheck(rep, doctor.CheckRequirements); !nvidia && !strings.Contains(c.Message, `gpu-nvidia cannot run here: the Docker Engine has no "nvidia" runtime`) {
		t.Errorf("doctor does not say what this machine lacks: %q", c.Message)
	}

	// gpu-nvidia on a machine without it: that, and only that, is wrong.
	if !nvidia {
		r, rep = doctorReport(t, dir, "--profile", "gpu-nvidia")
		if r.code != exitcode.Usage || rep.OK {
			t.Errorf("gpu-nvidia: exit %d, ok %v; want 2, false", r.code, rep.OK)
		}
		for _, c := range rep.Checks {
			if c.Status == doctor.Error && c.Name != doctor.CheckRequirements && !(c.Name == doctor.CheckPorts && portsReallyTaken(c.Message)) {
				t.Errorf("gpu-nvidia: unexpected error %s: %s", c.Name, c.Message)
			}
		}
		if c, _ := findCheck(rep, doctor.CheckRequirements); c.Status != doctor.Error || !strings.Contains(c.Message, "nvidia") {
			t.Errorf("gpu-nvidia requirements: %s %q", c.Status, c.Message)
		}
		assertHidden(t, r.stdout+r.stderr, hidden)
	}

	// A required variable deleted from .env: named, exit non-zero.
	data, err := os.ReadFile(envPath)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if !strings.HasPrefix(line, "JWT_SECRET=") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(envPath, []byte(strings.Join(kept, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	r, rep = doctorReport(t, dir)
	if r.code != exitcode.Usage || rep.OK {
		t.Errorf("without JWT_SECRET: exit %d, ok %v; want 2, false", r.code, rep.OK)
	}
	if c, _ := findCheck(rep, doctor.CheckRequired); c.Status != doctor.Error || !strings.Contains(c.Message, "JWT_SECRET") {
		t.Errorf("required-variables: %s %q", c.Status, c.Message)
	}
	assertHidden(t, r.stdout+r.stderr, hidden)

	// The same for people.
	r = invoke(t, dir, nil, "doctor")
	if r.code != exitcode.Usage || !regexp.MustCompile(`(?m)^error +required-variables +.*JWT_SECRET`).MatchString(r.stdout) ||
		!strings.Contains(r.stdout, "up would fail (exit 2)") {
		t.Errorf("doctor: exit %d\n%s", r.code, r.stdout)
	}
	assertHidden(t, r.stdout+r.stderr, hidden)
}

func findCheck(rep doctor.Report, name string) (doctor.Check, bool) {
	return rep.Find(name)
}

func TestDoctorWithoutEngine(t *testing.T) {
	dir := shippedStack(t)
	if r := invoke(t, dir, nil, "init"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	_, rep := doctorReport(t, dir, "--compose", filepath.Join(t.TempDir(), "no-compose"))
	r2 := invoke(t, dir, []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "none.sock")}, "doctor", "--json")
	var rep2 doctor.Report
	if err := json.Unmarshal([]byte(r2.stdout), &rep2); err != nil {
		t.Fatal(err)
	}
	if r2.code != exitcode.Unavailable {
		t.Errorf("without an Engine: exit %d, want 3", r2.code)
	}
	if c, _ := findCheck(rep2, doctor.CheckEngine); c.Status != doctor.Error || !strings.Contains(c.Message, "does not answer") {
		t.Errorf("engine: %s %q", c.Status, c.Message)
	}
	// The checks that need no Engine still ran.
	if c, _ := findCheck(rep2, doctor.CheckRequired); c.Status != doctor.OK {
		t.Errorf("required-variables without an Engine: %s %q", c.Status, c.Message)
	}
	if c, _ := findCheck(rep, doctor.CheckCompose); c.Status != doctor.Error {
		t.Errorf("compose with a missing binary: %s %q", c.Status, c.Message)
	}
}
