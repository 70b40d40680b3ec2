package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/testenv"
)

type inspected struct {
	State struct {
		Status    string
		StartedAt time.Time
		Health    *struct {
			Status string
			Log    []struct {
				End      time.Time
				ExitCode int
			}
		}
	}
}

func inspectService(t *testing.T, project, service string) inspected {
	t.Helper()
	id, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service).Output()
	if err != nil || len(strings.Fields(string(id))) == 0 {
		t.Fatalf("no container for %s (%v)", service, err)
	}
	out, err := exec.Command("docker", "inspect", strings.Fields(string(id))[0]).Output()
	if err != nil {
		t.Fatal(err)
	}
	var list []inspected
	if err := json.Unmarshal(out, &list); err != nil || len(list) != 1 {
		t.Fatalf("decode inspect: %v", err)
	}
	return list[0]
}

// healthyAt is when the first passing healthcheck of the container ended.
func healthyAt(t *testing.T, in inspected) time.Time {
	t.Helper()
	if in.State.Health == nil {
		t.Fatal("no healthcheck")
	}
	for _, l := range in.State.Health.Log {
		if l.ExitCode == 0 {
			return l.End
		}
	}
	t.Fatal("never passed its healthcheck")
	return time.Time{}
}

func slowService(name, readyAfter string, extra string) string {
	return "  " + name + ":\n    image: " + testenv.FixtureImage + "\n    environment: {READY_AFTER: " + readyAfter + ", SERVICE_NAME: " + name + "}\n" +
		"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n" + extra
}

// TestUpReturnsOnceHealthy: issue 4, acceptance 1 (behaviour; the speed ratio
// is measured by the benchmark in bench/).
func TestUpReturnsOnceHealthy(t *testing.T) {
	testenv.BuildFixtureImage(t)
	stack := writeStack(t, "services:\n"+slowService("app", "4s", ""))
	project := testenv.ProjectName(t)
	r := startsvc(t, nil, "up", "-C", stack, "-p", project)
	if r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	if h := inspectService(t, project, "app").State.Health.Status; h != "healthy" {
		t.Errorf("up returned while app was %s", h)
	}
	if !strings.Contains(r.out, "healthy") {
		t.Errorf("the summary does not show the health:\n%s", r.out)
	}

	s := startsvc(t, nil, "status", "-p", project, "--json")
	if s.code != 0 {
		t.Fatalf("status exited %d:\n%s", s.code, s.out)
	}
	var report struct {
		Project  string
		Ready    bool
		Services []struct {
			Service, State, Health string
			Ready                  bool
		}
	}
	if err := json.Unmarshal([]byte(s.out), &report); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, s.out)
	}
	if !report.Ready || len(report.Services) != 1 || report.Services[0].State != "running" || report.Services[0].Health != "healthy" {
		t.Errorf("status --json = %+v", report)
	}
}

// TestNeverHealthyFailsNamingTheService: issue 4, acceptances 2 and 4.
func TestNeverHealthyFailsNamingTheService(t *testing.T) {
	testenv.BuildFixtureImage(t)
	// start_period keeps it "starting" rather than "unhealthy": the wait must end by its timeout.
	stack := writeStack(t, "services:\n"+strings.Replace(slowService("sick", "0s", ""), "SERVICE_NAME: sick", "SERVICE_NAME: sick, NEVER_HEALTHY: \"1\"", 1))
	project := testenv.ProjectName(t)
	// --wait-timeout bounds compose's own start of the container too: a busy
	// machine can spend seconds there, and the wait must still get to look.
	r := startsvc(t, nil, "up", "-C", stack, "-p", project, "--wait-timeout", "30s")
	if r.code != 1 {
		t.Fatalf("up exited %d, want 1:\n%s", r.code, r.out)
	}
	t.Logf("up gave up after %s with --wait-timeout 30s", r.duration.Round(100*time.Millisecond))
	if r.duration > 30*time.Second+90*time.Second {
		t.Errorf("up took %s: far beyond --wait-timeout", r.duration)
	}
	for _, want := range []string{"sick", "configured never to turn healthy", "--wait-timeout"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output does not mention %q:\n%s", want, r.out)
		}
	}
	s := startsvc(t, nil, "status", "-p", project, "--json")
	if s.code != 1 || !strings.Contains(s.out, `"ready": false`) {
		t.Errorf("status while unhealthy: exit %d, want 1, with ready false:\n%s", s.code, s.out)
	}
}

// TestStagesStartInOrder: issue 4, acceptance 3 — a later stage's container
// starts only after the earlier stage's service passed its healthcheck.
func TestStagesStartInOrder(t *testing.T) {
	testenv.BuildFixtureImage(t)
	stack := writeStack(t, "services:\n"+slowService("db", "3s", "")+slowService("app", "0s", ""))
	stages := "stages:\n  - name: databases\n    services: [db]\n  - name: apps\n    services: [\"*\"]\n"
	if err := os.WriteFile(filepath.Join(stack, "stages.yml"), []byte(stages), 0o644); err != nil {
		t.Fatal(err)
	}
	project := testenv.ProjectName(t)
	r := startsvc(t, nil, "up", "-C", stack, "-p", project)
	if r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	db := inspectService(t, project, "db")
	app := inspectService(t, project, "app")
	ready := healthyAt(t, db)
	if !app.State.StartedAt.After(ready) {
		t.Errorf("app started at %s, before db was healthy at %s", app.State.StartedAt, ready)
	}
	t.Logf("db started %s, healthy %s; app started %s", db.State.StartedAt.Format(time.RFC3339Nano),
		ready.Format(time.RFC3339Nano), app.State.StartedAt.Format(time.RFC3339Nano))
	if !strings.Contains(r.out, "stage 1/2 databases") || !strings.Contains(r.out, "stage 2/2 apps") {
		t.Errorf("the stages are not shown:\n%s", r.out)
	}
}
