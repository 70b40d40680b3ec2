package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestWatch: issue 11, acceptance 1, 2, 3, 4 and 5 — a changed secret
// recreates exactly the service that uses it, byte-exact; a change that makes
// a service unhealthy is rolled back and the watch goes on; an outage touches
// nothing, is reported once, and a change made meanwhile is applied after;
// an expired token is renewed; SIGTERM exits 0 with the stack running; no
// value in any output, no hand-over file left.
func TestWatch(t *testing.T) {
	testenv.BuildFixtureImage(t)
	dir := watchStack(t)
	srv := emptyInfisical(t, infisicaltest.V3Only)
	values := map[string]string{}
	set := func(key, name, value string) {
		values[name] = value
		srv.SetSecret("proj-1", "dev", "/", key, value)
	}
	set("KEY_A", "A1", testenv.Hostile["H_BOTH"]+"-first-a")
	set("KEY_B", "B1", testenv.Hostile["H_NEWLINE"]+"first-b")
	env := infisicalEnv(srv, "client-secret-value-1")
	project := testenv.ProjectName(t)
	common := []string{"-C", dir, "-p", project}
	if r := startsvc(t, env, append([]string{"up"}, common...)...); r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	before := containerIDs(t, project)

	w := startWatch(t, env, append(common, "--interval", "5s", "--wait-timeout", "60s")...)
	i := w.await(t, 0, 2*time.Minute, "the watching event", kind("watching"))

	// 1. One secret changes: exactly web is recreated, with the new value.
	set("KEY_A", "A2", testenv.Hostile["H_DOLLAR"]+"-second-a\\")
	i = w.await(t, i, 3*time.Minute, "web applied", kind("applied", "web"))
	after := containerIDs(t, project)
	if c := changed(before, after); strings.Join(c, ",") != "web" {
		t.Errorf("changing KEY_A recreated %v, want [web]", c)
	}
	if got, _ := testenv.ContainerEnv(project, "web"); got["KEY_A"] != values["A2"] {
		t.Errorf("web's KEY_A is not the new value byte for byte")
	}

	// 4. The access token expires: the next change still goes through.
	srv.ExpireAllTokens()
	set("KEY_B", "B2", "second-b-"+testenv.Hostile["H_UNICODE"])
	i = w.await(t, i, 3*time.Minute, "api applied after the token expired", kind("applied", "api"))
	if got, _ := testenv.ContainerEnv(project, "api"); got["KEY_B"] != values["B2"] {
		t.Errorf("api's KEY_B is not the new value byte for byte")
	}
	if n := w.count("error"); n != 0 {
		t.Errorf("%d error events after the token expired:\n%s", n, w.output())
	}

	// 3. Infisical down for several polls: one warning, nothing touched; a
	// change made meanwhile is applied once it answers again.
	steady := containerIDs(t, project)
	srv.FailAlways(infisicaltest.RouteListV3, infisicaltest.Status(503))
	i = w.await(t, i, 2*time.Minute, "the unreachable event", kind("unreachable"))
	set("KEY_A", "A3", "third-a-"+testenv.Hostile["H_JSON"])
	calls := srv.Calls(infisicaltest.RouteListV3)
	until(t, 5*time.Minute, "two more polls during the outage", func() bool { return srv.Calls(infisicaltest.RouteListV3) >= calls+2 })
	if n := w.count("unreachable"); n != 1 {
		t.Errorf("%d unreachable events for one outage, want 1", n)
	}
	if c := changed(steady, containerIDs(t, project)); len(c) != 0 {
		t.Errorf("during the outage the watch touched %v", c)
	}
	srv.ClearFaults()
	i = w.await(t, i, 6*time.Minute, "the recovered event", kind("recovered"))
	i = w.await(t, i, 3*time.Minute, "web applied after the outage", kind("applied", "web"))
	if got, _ := testenv.ContainerEnv(project, "web"); got["KEY_A"] != values["A3"] {
		t.Errorf("web's KEY_A is not the value set during the outage")
	}

	// 2. A change that makes api unhealthy is rolled back; the watch goes on.
	srv.SetSecret("proj-1", "dev", "/", "BREAK_API", "1")
	set("KEY_B", "B3", "third-b-value")
	i = w.await(t, i, 3*time.Minute, "api failed", kind("failed", "api"))
	i = w.await(t, i, 3*time.Minute, "api rolled back", kind("rolled-back", "api"))
	if got, _ := testenv.ContainerEnv(project, "api"); got["KEY_B"] != values["B2"] || got["NEVER_HEALTHY"] != "0" {
		t.Errorf("after the rollback api does not have the previous values")
	}
	srv.SetSecret("proj-1", "dev", "/", "BREAK_API", "0")
	w.await(t, i, 3*time.Minute, "api applied after the fix", kind("applied", "api"))

	// 5. SIGTERM: exit 0, the stack keeps running, no hand-over file.
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("watch did not end after SIGTERM")
	}
	if w.code != 0 || w.count("stopped") != 1 {
		t.Errorf("watch exited %d after SIGTERM (stopped events: %d), want 0 and one", w.code, w.count("stopped"))
	}
	if got, err := testenv.Services(project, false); err != nil || strings.Join(got, ",") != "api,base,web" {
		t.Errorf("after the watch ended the running services are %v (%v)", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, secrets.FileName)); !os.IsNotExist(err) {
		t.Errorf("%s is left in the stack directory", secrets.FileName)
	}
	assertNoValues(t, w.output(), values)
}

// TestWatchExitOnFailure: issue 11, acceptance 2 — with --exit-on-failure a
// change that does not become ready is rolled back, then the watch exits 1.
func TestWatchExitOnFailure(t *testing.T) {
	testenv.BuildFixtureImage(t)
	dir := watchStack(t)
	srv := emptyInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "KEY_A", "a-value-one")
	srv.SetSecret("proj-1", "dev", "/", "KEY_B", "b-value-one")
	env := infisicalEnv(srv, "client-secret-value-1")
	project := testenv.ProjectName(t)
	common := []string{"-C", dir, "-p", project}
	if r := startsvc(t, env, append([]string{"up"}, common...)...); r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	w := startWatch(t, env, append(common, "--interval", "5s", "--wait-timeout", "60s", "--exit-on-failure")...)
	i := w.await(t, 0, 2*time.Minute, "the watching event", kind("watching"))
	srv.SetSecret("proj-1", "dev", "/", "BREAK_API", "1")
	w.await(t, i, 3*time.Minute, "api rolled back", kind("rolled-back", "api"))
	select {
	case <-w.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("watch --exit-on-failure did not end after a failed change")
	}
	if w.code != 1 {
		t.Errorf("watch --exit-on-failure exited %d, want 1:\n%s", w.code, w.output())
	}
}
