package cli_test

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestCanaryValuesNeverLeak gives distinctive canary values to Infisical (the
// fake server), to .env under secret-looking names and under innocent ones
// (a webhook URL, a DSN), to the shell under an innocent name, and one with
// characters that output escapes (a tab, quotes, a backslash, a control
// character) that the Engine prints quoted; runs every command
// startsvc has, verbosely, and checks that no canary appears in any output,
// nor in any file startsvc leaves in the stack directory, its temporary
// directory, its cache or its state directory (the encrypted snapshot; other
// than .env and the exported file), and that no .env.infisical is left.
func TestCanaryValuesNeverLeak(t *testing.T) {
	testenv.BuildFixtureImage(t)
	testenv.RequireSwarm(t) // deploy runs on a single-node swarm
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	// Every canary holds marker, so that a value printed in part, escaped
	// ($$, \", JSON) or split across lines is still found.
	marker := "cnry" + hex.EncodeToString(b)
	canary := func(name string) string { return marker + "-" + name }

	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	srv.AddProject("proj-1", "dev")
	clientSecret := canary("client-secret")
	srv.AddIdentity("canary-client-id", clientSecret)
	remote := map[string]string{
		"DB_PASSWORD": canary("db-password") + `-pa$word"'\`,
		"API_TOKEN":   canary("api-token"),
		"PRIVATE_KEY": "-----BEGIN KEY-----\n" + canary("private-key") + "\n-----END KEY-----\n",
		"SITE_NAME":   canary("from-infisical-under-a-plain-name"),
		// Printed escaped: by the Engine (Go's %q) when it cannot exec it.
		"ENTRY_SECRET": canary("escaped") + "\t\"q'\\\x01",
	}
	for k, v := range remote {
		srv.SetSecret("proj-1", "dev", "/", k, v)
	}

	stack := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n    environment:\n"+
		"      DB_PASSWORD: ${DB_PASSWORD:?}\n      API_TOKEN: ${API_TOKEN}\n      PRIVATE_KEY: ${PRIVATE_KEY}\n"+
		"      SITE_NAME: ${SITE_NAME}\n      JWT_SECRET: ${JWT_SECRET}\n      OPENAI_API_KEY: ${OPENAI_API_KEY}\n      PLAIN: ${PLAIN}\n"+
		// Secrets under innocent names, from .env and from the shell.
		"      SLACK_WEBHOOK: ${SLACK_WEBHOOK}\n      SENTRY_DSN: ${SENTRY_DSN}\n      HOOK: ${HOOK_FROM_SHELL}\n"+
		// A secret inside a longer value, and in a label, as real stacks have them.
		"      DATABASE_URL: postgres://app:${DB_PASSWORD}@db:5432/app\n    labels:\n      proxy.auth: admin:${API_TOKEN}\n")
	dotenv := "# local settings\nDB_PASSWORD=" + canary("stale-db-password") + "\nJWT_SECRET=" + canary("jwt-secret") +
		"\nOPENAI_API_KEY='" + canary("openai-key") + "$literal'\nPLAIN=plain-setting\n" +
		"SLACK_WEBHOOK=https://hooks.slack.com/services/T0/B0/" + canary("slack-webhook") + "\n" +
		"SENTRY_DSN=https://" + canary("sentry-key") + "@o1.ingest.sentry.io/1\n"
	leaky := filepath.Join(stack, "leaky.yml")
	escaped := filepath.Join(stack, "escaped.yml")
	writeFiles(t, stack, map[string]string{
		".env": dotenv,
		// What init and doctor compare .env with; it holds no value.
		".env.example": "DB_PASSWORD=\nJWT_SECRET=\nOPENAI_API_KEY=\nPLAIN=example\n",
		// The fixture prints SERVICE_NAME in its log, then exits 3.
		"leaky.yml": "services:\n  leaky:\n    image: " + testenv.FixtureImage + "\n    environment:\n" +
			"      SERVICE_NAME: ${API_TOKEN} ${SLACK_WEBHOOK} ${SENTRY_DSN}\n      EXIT_AFTER: 300ms\n      EXIT_CODE: \"3\"\n",
		"escaped.yml": "services:\n  escaped:\n    image: " + testenv.FixtureImage + "\n    entrypoint: [\"/x-${ENTRY_SECRET}\"]\n",
	})

	tmp, cache, state, runtime := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	exportFile := filepath.Join(tmp, "exported.env")
	project := testenv.ProjectName(t)
	t.Cleanup(func() { testenv.RemoveStack(project) })
	env := []string{"INFISICAL_API_URL=" + srv.URL, "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=canary-client-id",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + clientSecret, "INFISICAL_PROJECT_ID=proj-1",
		"TMPDIR=" + tmp, "XDG_CACHE_HOME=" + cache, "XDG_STATE_HOME=" + state, "XDG_RUNTIME_DIR=" + runtime,
		"HOOK_FROM_SHELL=https://hooks.example.com/in/" + canary("shell-hook")}
	// Pieces of every access token the fake server issues.
	tokenParts := map[string]string{"access token header": "eyJhbGciOiJIUzI1NiJ9", "access token signature": "c2lnbmF0dXJl"}

	runs := canaryCommands(stack, leaky, escaped, exportFile)
	listed := listedCommands(t)
	for _, c := range listed {
		if _, ok := runs[c]; !ok {
			t.Errorf("startsvc has a command %q that the canary check does not run: add it to canaryCommands", c)
		}
	}
	for _, name := range canaryOrder {
		if !slices.Contains(listed, name) {
			t.Logf("startsvc has no %s command: not run", name)
			continue
		}
		for _, run := range runs[name] {
			// The stack and project right after the command name: run's own
			// command must stay last.
			args := append([]string{run.args[0], "-C", stack, "-p", project}, run.args[1:]...)
			r := startsvcUntil(t, env, run.stopAfter, args...)
			what := strings.Join(run.args, " ")
			if run.code >= 0 && r.code != run.code {
				t.Errorf("startsvc %s exited %d, want %d:\n%s", what, r.code, run.code, hideMarker(r.out, marker))
			}
			if leaks := leakedLines(r.out, marker); len(leaks) > 0 {
				t.Errorf("startsvc %s prints a canary value (shown as <canary>):\n%s", what, strings.Join(leaks, "\n"))
			}
			assertNoValues(t, r.out, tokenParts)
			if run.args[0] == "deploy" && r.code == 0 && !slices.Contains(run.args, "--dry-run") && !slices.Contains(run.args, "--rm") {
				if inspect, err := exec.Command("docker", "service", "inspect", project+"_app").Output(); err != nil ||
					!strings.Contains(string(inspect), canary("api-token")) {
					t.Errorf("after startsvc %s the canaries did not reach the service (%v), so their absence proves little", what, err)
				}
			}
			if run.args[0] == "up" && r.code == 0 && !slices.Contains(run.args, "--dry-run") {
				got, err := testenv.ContainerEnv(project, "app")
				if err != nil {
					t.Fatal(err)
				}
				if got["DB_PASSWORD"] != remote["DB_PASSWORD"] || got["JWT_SECRET"] != canary("jwt-secret") {
					t.Errorf("after startsvc %s the canaries did not reach the container, so their absence proves little", what)
				}
			}
		}
	}

	if st, err := os.Stat(exportFile); err != nil {
		t.Errorf("export -o wrote no file: %v", err)
	} else if st.Mode().Perm() != 0o600 {
		t.Errorf("the exported file has mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
		t.Errorf("%s is left in the stack directory", secrets.FileName)
	}
	allowed := []string{filepath.Join(stack, ".env"), exportFile}
	if entries, err := os.ReadDir(filepath.Join(state, "startsvc", "snapshots")); err != nil || len(entries) != 1 {
		t.Errorf("want one snapshot in the state directory: %d files, %v", len(entries), err)
	}
	for _, dir := range []string{stack, tmp, cache, state, runtime} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || slices.Contains(allowed, path) {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if leaks := leakedLines(string(data), marker); len(leaks) > 0 {
				t.Errorf("%s holds a canary value (shown as <canary>):\n%s", path, strings.Join(leaks, "\n"))
			}
			for name, part := range tokenParts {
				if strings.Contains(string(data), part) {
					t.Errorf("%s holds part of the %s", path, name)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
