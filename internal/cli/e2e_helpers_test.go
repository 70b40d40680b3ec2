package cli_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// secretStack is a stack whose one service receives every hostile value and
// the precedence probes through interpolation.
func secretStack(t *testing.T, dotenv string) string {
	t.Helper()
	keys := make([]string, 0, len(testenv.Hostile))
	for k := range testenv.Hostile {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("services:\n  app:\n    image: " + testenv.FixtureImage + "\n    environment:\n")
	for _, k := range append(keys, "OVERRIDE", "PLAIN", "ONLY_INFISICAL") {
		fmt.Fprintf(&b, "      %s: ${%s}\n", k, k)
	}
	dir := writeStack(t, b.String())
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// emptyInfisical is a fake server with project proj-1 (environment dev) and
// one machine identity (client-id-1 / client-secret-value-1), holding no secret.
func emptyInfisical(t *testing.T, mode infisicaltest.Mode) *infisicaltest.Server {
	t.Helper()
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	srv.SetMode(mode)
	srv.AddProject("proj-1", "dev")
	srv.AddIdentity("client-id-1", "client-secret-value-1")
	return srv
}

// fakeInfisical serves the hostile values and the precedence probe for one
// machine identity, in the given mode.
func fakeInfisical(t *testing.T, mode infisicaltest.Mode) *infisicaltest.Server {
	t.Helper()
	srv := emptyInfisical(t, mode)
	for k, v := range testenv.Hostile {
		srv.SetSecret("proj-1", "dev", "/", k, v)
	}
	srv.SetSecret("proj-1", "dev", "/", "OVERRIDE", "override-from-infisical")
	srv.SetSecret("proj-1", "dev", "/", "ONLY_INFISICAL", "only-in-infisical-value")
	return srv
}

func infisicalEnv(srv *infisicaltest.Server, secret string) []string {
	return []string{
		"INFISICAL_API_URL=" + srv.URL,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=client-id-1",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + secret,
		"INFISICAL_PROJECT_ID=proj-1",
	}
}

// inStackStages is the stages.yml of a stack whose service infisical is the
// Infisical at url: a first stage of it alone, ready once url answers, after
// which secrets are fetched; then every other service.
func inStackStages(url string) string {
	return "stages:\n  - name: secrets\n    when: infisical-in-stack\n    services: [infisical]\n    ready_url: " + url +
		"/api/status\n    fetch_secrets: true\n  - name: apps\n    services: [\"*\"]\n"
}

type result struct {
	code     int
	out      string // stdout and stderr together
	duration time.Duration
}

func startsvc(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(testenv.StartsvcBinary(t), args...)
	// Snapshots go to a state directory of the test's own unless env names one.
	cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+t.TempDir()), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	return result{code: exitCode(err), out: out.String(), duration: time.Since(start)}
}

// startsvcUntil is startsvc, stopped with SIGTERM after d when d is not zero.
func startsvcUntil(t *testing.T, env []string, d time.Duration, args ...string) result {
	t.Helper()
	if d == 0 {
		return startsvc(t, env, args...)
	}
	cmd := exec.Command(testenv.StartsvcBinary(t), args...)
	cmd.Env = append(append(os.Environ(), "XDG_STATE_HOME="+t.TempDir()), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(d, func() { _ = cmd.Process.Signal(syscall.SIGTERM) })
	defer timer.Stop()
	err := cmd.Wait()
	return result{code: exitCode(err), out: out.String(), duration: time.Since(start)}
}

// assertNoValues fails if any secret value of at least secrets.MinMasked
// bytes appears in out; the failure names the key, never the value.
func assertNoValues(t *testing.T, out string, values map[string]string) {
	t.Helper()
	for k, v := range values {
		for _, part := range append([]string{v}, strings.Split(v, "\n")...) {
			if len(part) >= secrets.MinMasked && strings.Contains(out, part) {
				t.Errorf("the value of %s appears in startsvc's output", k)
			}
		}
	}
}

const precedenceEnv = "OVERRIDE=override-from-dotenv\nPLAIN=plain-setting\n"
