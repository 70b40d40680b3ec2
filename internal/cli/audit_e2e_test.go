package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestAuditFindsSecretsInTheEnvironment: issue 12, acceptances 2 and 4. A
// service that gets DB_PASSWORD (from .env) and API_TOKEN (from Infisical)
// by its environment: audit names both keys and Config.Env, exit 1, in text
// and JSON; with both declared as files and the project up again: exit 0. No
// value in any output.
func TestAuditFindsSecretsInTheEnvironment(t *testing.T) {
	image := testenv.BuildFixtureImage(t)
	srv := emptyInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "API_TOKEN", "api-token-from-infisical")
	dir := writeStack(t, "services:\n  app:\n    image: "+image+"\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n"+
		"      API_TOKEN: ${API_TOKEN}\n      PLAIN: ${PLAIN}\n  other:\n    image: "+image+"\n    environment:\n      PLAIN: ${PLAIN}\n")
	writeFiles(t, dir, map[string]string{".env": "DB_PASSWORD=db-password-from-dotenv\nPLAIN=plain-setting\n"})
	project := testenv.ProjectName(t)
	env := infisicalEnv(srv, "client-secret-value-1")
	values := map[string]string{"DB_PASSWORD": "db-password-from-dotenv", "API_TOKEN": "api-token-from-infisical", "SECRET": "client-secret-value-1"}
	run := func(args ...string) result {
		t.Helper()
		r := startsvc(t, env, append([]string{args[0], "-C", dir, "-p", project}, args[1:]...)...)
		assertNoValues(t, r.out, values)
		return r
	}
	type finding struct {
		Service, Container, Place, Field string
		Secrets                          []string
		Exposed                          bool
	}
	audit := func() (result, result, []finding, int) {
		t.Helper()
		text, js := run("audit"), run("audit", "--json")
		var doc struct {
			Exposed  int
			Findings []finding
		}
		if err := json.Unmarshal([]byte(jsonPart(js.out)), &doc); err != nil {
			t.Fatalf("audit --json: %v\n%s", err, js.out)
		}
		return text, js, doc.Findings, doc.Exposed
	}

	if r := run("up"); r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	text, js, findings, exposed := audit()
	if text.code != 1 || js.code != 1 {
		t.Errorf("audit with secrets in the environment exited %d (text) and %d (json), want 1", text.code, js.code)
	}
	for _, key := range []string{"DB_PASSWORD", "API_TOKEN"} {
		if !auditLine(text.out, "EXPOSED", "app", "Config.Env", key) {
			t.Errorf("audit does not name %s in app's Config.Env:\n%s", key, text.out)
		}
		found := false
		for _, f := range findings {
			if f.Service == "app" && f.Place == "Config.Env" && f.Field == key && f.Exposed && slices.Contains(f.Secrets, key) && f.Container != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("audit --json has no exposed finding for %s in app's Config.Env: %+v", key, findings)
		}
	}
	if exposed != 4 { // two variables, in the container and in the resolved configuration
		t.Errorf("audit --json counts %d exposed, want 4: %+v", exposed, findings)
	}
	for _, f := range findings {
		if f.Service != "app" {
			t.Errorf("a finding for %s, which holds no secret: %+v", f.Service, f)
		}
	}

	writeFiles(t, dir, map[string]string{stack.FileSecretsFile: "services:\n  app: [DB_PASSWORD, API_TOKEN]\n"})
	if r := run("plan"); r.code != 5 || !planLine(r.out, "recreate", "app", "DB_PASSWORD is now delivered as a file (file-secrets.yml)") ||
		!strings.Contains(r.out, "API_TOKEN is now delivered as a file") || strings.Contains(r.out, "compose file") {
		t.Errorf("plan after declaring the files exited %d:\n%s", r.code, r.out)
	}
	if r := run("up"); r.code != 0 {
		t.Fatalf("up with file-secrets.yml exited %d:\n%s", r.code, r.out)
	}
	text, js, findings, exposed = audit()
	if text.code != 0 || js.code != 0 || exposed != 0 || len(findings) != 0 {
		t.Errorf("audit after declaring both as files: exit %d and %d, %d exposed, findings %+v:\n%s", text.code, js.code, exposed, findings, text.out)
	}
	if !strings.Contains(text.out, "0 exposed, 0 accepted; 2 containers") {
		t.Errorf("audit's summary:\n%s", text.out)
	}
}

// auditLine reports whether audit's table has a row with these first cells.
func auditLine(out, verdict, service, place, field string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == verdict && f[1] == service && f[3] == place && f[4] == field {
			return true
		}
	}
	return false
}

// TestInStackFileSecrets: with Infisical inside the stack, its stage takes
// its bootstrap value from .env as a file, secrets are fetched, and the later
// stage takes an Infisical value as a file: the hand-over is written again
// with the fetched values, and nothing is left behind.
func TestInStackFileSecrets(t *testing.T) {
	image := testenv.BuildFixtureImage(t)
	srv := emptyInfisical(t, infisicaltest.V4)
	srv.SetSecret("proj-1", "dev", "/", "APP_SECRET", "app-secret-from-infisical")
	dir := writeStack(t, "services:\n  infisical:\n    image: "+image+"\n    user: \"1000:1000\"\n    environment:\n"+
		"      BOOTSTRAP: ${INFISICAL_BOOTSTRAP:?from .env}\n"+
		"    healthcheck:\n      test: [\"CMD\", \"/fixture\", \"health\"]\n      interval: 1s\n      start_period: 60s\n"+
		"  app:\n    image: "+image+"\n    user: \"1000:1000\"\n    environment:\n      APP_SECRET: ${APP_SECRET:?set by Infisical}\n")
	writeFiles(t, dir, map[string]string{
		"stages.yml":          inStackStages(srv.URL),
		".env":                "INFISICAL_BOOTSTRAP=bootstrap-value\n",
		stack.FileSecretsFile: "services:\n  infisical: [BOOTSTRAP]\n  app: [APP_SECRET]\n",
	})
	project := testenv.ProjectName(t)
	r := startsvc(t, infisicalEnv(srv, "client-secret-value-1"), "up", "-C", dir, "-p", project, "-v")
	if r.code != 0 {
		t.Fatalf("up exited %d:\n%s", r.code, r.out)
	}
	assertNoValues(t, r.out, map[string]string{"APP_SECRET": "app-secret-from-infisical", "BOOTSTRAP": "bootstrap-value"})
	for svc, want := range map[string]map[string]string{"infisical": {"BOOTSTRAP": "bootstrap-value"}, "app": {"APP_SECRET": "app-secret-from-infisical"}} {
		c := containerOf(t, project, svc)
		for k, v := range want {
			if got := fileHashes(t, c.id, "/run/secrets/"+k)["/run/secrets/"+k]; !strings.HasPrefix(got, sum(v)+" ") {
				t.Errorf("%s's %s file does not hold its value", svc, k)
			}
			env, err := testenv.ContainerEnv(project, svc)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := env[k]; ok {
				t.Errorf("%s is in %s's environment", k, svc)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, secrets.FileName)); !os.IsNotExist(err) {
		t.Errorf("%s left behind", secrets.FileName)
	}
}
