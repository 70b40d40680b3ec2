package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestReconcile: issue 10, acceptance 1–5 — a second up recreates nothing;
// a changed .env value or Infisical secret recreates exactly the service that
// uses it, and plan names it and the key; another profile removes only what
// it leaves out; a service removed from the file is removed; --fresh
// recreates everything; plan shows no value.
func TestReconcile(t *testing.T) {
	testenv.BuildFixtureImage(t)
	dir := reconcileStack(t)
	srv := emptyInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "KEY_B", `first "b" value`)
	env := infisicalEnv(srv, "client-secret-value-1")
	project := testenv.ProjectName(t)
	values := map[string]string{"KEY_A": "first-a-value", "KEY_A2": "second-a-value", "KEY_B": `first "b" value`, "KEY_B2": `second "b" value`}
	run := func(args ...string) result {
		t.Helper()
		r := startsvc(t, env, append([]string{"-C", dir, "-p", project}, args...)...)
		assertNoValues(t, r.out, values)
		return r
	}
	var last string // the output of the last up, for failure messages
	up := func(args ...string) map[string]string {
		t.Helper()
		r := run(append([]string{"up"}, args...)...)
		if r.code != 0 {
			t.Fatalf("up %v exited %d:\n%s", args, r.code, r.out)
		}
		last = r.out
		return containerIDs(t, project)
	}

	first := up()
	if len(first) != 7 {
		t.Fatalf("after the first up: %d containers, want 7 (%v)", len(first), first)
	}

	// Nothing changed: nothing recreated, and plan says so with exit 0.
	second := up()
	if c := changed(first, second); len(c) != 0 {
		t.Errorf("a second up with nothing changed recreated %v:\n%s", c, last)
	}
	if r := run("plan"); r.code != 0 || !strings.Contains(r.out, "7 unchanged") {
		t.Errorf("plan on a project in step exited %d:\n%s", r.code, r.out)
	}

	// One .env value: plan names web and KEY_A (exit 5); up recreates web alone.
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("KEY_A=second-a-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run("plan")
	if r.code != 5 || !planLine(r.out, "recreate", "web", "KEY_A (.env)") || strings.Count(r.out, "\nrecreate ") != 1 {
		t.Errorf("plan after a .env change exited %d, want 5 and web recreated for KEY_A:\n%s", r.code, r.out)
	}
	third := up()
	if c := changed(second, third); strings.Join(c, ",") != "web" {
		t.Errorf("a changed KEY_A recreated %v, want [web]", c)
	}
	if got, _ := testenv.ContainerEnv(project, "web"); got["KEY_A"] != "second-a-value" {
		t.Errorf("web does not have the new KEY_A")
	}

	// One Infisical secret: the same for api, which depends on db.
	srv.SetSecret("proj-1", "dev", "/", "KEY_B", `second "b" value`)
	r = run("plan", "--json")
	var doc struct {
		Pending  bool
		Services []struct {
			Service   string
			Action    string
			Variables []struct{ Name, Source string }
		}
	}
	if err := json.Unmarshal([]byte(jsonPart(r.out)), &doc); err != nil || r.code != 5 || !doc.Pending {
		t.Fatalf("plan --json after an Infisical change: exit %d, %v:\n%s", r.code, err, r.out)
	}
	for _, s := range doc.Services {
		want := "keep"
		if s.Service == "api" {
			want = "recreate"
			if len(s.Variables) != 1 || s.Variables[0].Name != "KEY_B" || s.Variables[0].Source != "Infisical" {
				t.Errorf("plan --json names %+v for api, want KEY_B from Infisical", s.Variables)
			}
		}
		if s.Action != want {
			t.Errorf("plan --json: %s would %s, want %s", s.Service, s.Action, want)
		}
	}
	fourth := up()
	if c := changed(third, fourth); strings.Join(c, ",") != "api" {
		t.Errorf("a changed Infisical secret recreated %v, want [api]", c)
	}
	if got, _ := testenv.ContainerEnv(project, "api"); got["KEY_B"] != `second "b" value` {
		t.Errorf("api does not have the new KEY_B")
	}

	// Profile cpu -> none: ollama-cpu goes, the rest keep their containers.
	fifth := up("--profile", "none")
	if c := changed(fourth, fifth); strings.Join(c, ",") != "ollama-cpu" || fifth["ollama-cpu"] != "" {
		t.Errorf("switching to profile none changed %v, want only ollama-cpu removed", c)
	}

	// A service removed from the compose file is removed by the next up.
	path := filepath.Join(dir, "compose", "docker-compose.yml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(data), "  worker:\n")
	end := strings.Index(string(data), "  ollama-cpu:\n")
	if err := os.WriteFile(path, append(data[:start:start], data[end:]...), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run("plan", "--profile", "none"); !planLine(r.out, "remove", "worker", "no longer in the compose files") {
		t.Errorf("plan does not remove worker:\n%s", r.out)
	}
	sixth := up("--profile", "none")
	if c := changed(fifth, sixth); strings.Join(c, ",") != "worker" || sixth["worker"] != "" {
		t.Errorf("removing worker from the file changed %v, want only worker removed", c)
	}

	// --fresh recreates everything.
	seventh := up("--profile", "none", "--fresh")
	if c := changed(sixth, seventh); len(c) != len(sixth) {
		t.Errorf("--fresh recreated %v of %d services", c, len(sixth))
	}
}

// TestReconcileInStack: issue 10 — with Infisical inside the stack, a second
// up recreates neither the Infisical stage (started before the fetch, with
// .env alone) nor the later ones (started with Infisical's values), and plan
// then has nothing to do.
func TestReconcileInStack(t *testing.T) {
	testenv.BuildFixtureImage(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "APP_SECRET", "app-secret-from-infisical")
	stack := writeStack(t, `services:
  infisical:
    image: `+testenv.FixtureImage+`
    environment:
      BOOTSTRAP: ${INFISICAL_BOOTSTRAP:?the in-stack Infisical needs it from .env}
    healthcheck:
      test: ["CMD", "/fixture", "health"]
      interval: 1s
      start_period: 60s
  app:
    image: `+testenv.FixtureImage+`
    environment:
      APP_SECRET: ${APP_SECRET:?set by Infisical}
`)
	stages := inStackStages(srv.URL)
	writeFiles(t, stack, map[string]string{"stages.yml": stages, ".env": "INFISICAL_BOOTSTRAP=bootstrap-value\n"})
	project := testenv.ProjectName(t)
	env := infisicalEnv(srv, "client-secret-value-1")
	for i := 0; i < 2; i++ {
		if r := startsvc(t, env, "up", "-C", stack, "-p", project); r.code != 0 {
			t.Fatalf("up %d exited %d:\n%s", i+1, r.code, r.out)
		}
		if i == 0 {
			defer func(before map[string]string) {
				if c := changed(before, containerIDs(t, project)); len(c) != 0 {
					t.Errorf("the second up recreated %v", c)
				}
			}(containerIDs(t, project))
		}
	}
	if r := startsvc(t, env, "plan", "-C", stack, "-p", project); r.code != 0 {
		t.Errorf("plan after two ups exited %d, want 0:\n%s", r.code, r.out)
	}
}
