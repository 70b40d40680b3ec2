package cli_test

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestInfisicalValuesReachContainersExactly is issue 3's first promise: with a
// v4 server and with a v3-only one, through a file and through the
// environment, every hostile value arrives byte for byte, Infisical wins over
// .env and over the shell, plain .env settings still arrive, no hand-over file
// is left, and no value is printed.
func TestInfisicalValuesReachContainersExactly(t *testing.T) {
	testenv.BuildFixtureImage(t)
	for _, c := range []struct {
		name string
		mode infisicaltest.Mode
		via  string
	}{
		{"v4 server, file", infisicaltest.V4, "file"},
		{"v3-only server, file", infisicaltest.V3Only, "file"},
		{"v4 server, environment", infisicaltest.V4, "env"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := fakeInfisical(t, c.mode)
			stack := secretStack(t, precedenceEnv)
			project := testenv.ProjectName(t)
			env := append(infisicalEnv(srv, "client-secret-value-1"), "OVERRIDE=override-from-shell")
			r := startsvc(t, env, "up", "-C", stack, "-p", project, "--secrets-via", c.via, "-v")
			if r.code != 0 {
				t.Fatalf("up exited %d:\n%s", r.code, r.out)
			}
			got, err := testenv.ContainerEnv(project, "app")
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range testenv.Hostile {
				if got[k] != want {
					t.Errorf("%s does not arrive byte for byte (got %d bytes, want %d)", k, len(got[k]), len(want))
				}
			}
			want := map[string]string{"OVERRIDE": "override-from-infisical", "PLAIN": "plain-setting", "ONLY_INFISICAL": "only-in-infisical-value"}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %q, want %q", k, got[k], w)
				}
			}
			if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
				t.Errorf("%s still exists after up", secrets.FileName)
			}
			all := map[string]string{"OVERRIDE": "override-from-infisical", "ONLY_INFISICAL": "only-in-infisical-value", "SECRET": "client-secret-value-1"}
			for k, v := range testenv.Hostile {
				all[k] = v
			}
			assertNoValues(t, r.out, all)
			if n := srv.Calls(infisicaltest.RouteLogin); n != 1 {
				t.Errorf("%d logins, want 1", n)
			}
		})
	}
}

// TestInfisicalFallbackAndErrors is issue 3's second and fourth promises.
func TestInfisicalFallbackAndErrors(t *testing.T) {
	testenv.BuildFixtureImage(t)
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}()
	hanging := fakeInfisical(t, infisicaltest.V4)
	hanging.FailAlways(infisicaltest.RouteLogin, infisicaltest.HangBeforeHeaders())
	good := fakeInfisical(t, infisicaltest.V4)

	for _, c := range []struct {
		name     string
		env      []string
		args     []string
		code     int
		say      string
		override string // OVERRIDE inside the container; "" when nothing may start
	}{
		{name: "closed port falls back", env: []string{"INFISICAL_API_URL=" + closed, "INFISICAL_TOKEN=tok-abcdef", "INFISICAL_PROJECT_ID=proj-1"},
			code: 0, say: "WARNING: Infisical is unreachable, falling back to .env", override: "override-from-dotenv"},
		{name: "silent server falls back within the bound", env: infisicalEnv(hanging, "client-secret-value-1"),
			args: []string{"--infisical-timeout", "2s"}, code: 0, say: "WARNING: Infisical is unreachable", override: "override-from-dotenv"},
		{name: "bad client secret is exit 4 and starts nothing", env: infisicalEnv(good, "wrong-secret-value"),
			code: 4, say: "Invalid credentials"},
		{name: "unreachable under --require-infisical is exit 4", env: []string{"INFISICAL_API_URL=" + closed, "INFISICAL_TOKEN=tok-abcdef", "INFISICAL_PROJECT_ID=proj-1"},
			args: []string{"--require-infisical"}, code: 4, say: "--require-infisical"},
		{name: "not configured uses .env and says how once", code: 0, say: "Infisical is not configured", override: "override-from-dotenv"},
		{name: "skipped", env: infisicalEnv(good, "client-secret-value-1"), args: []string{"--skip-infisical"}, code: 0,
			say: "Infisical skipped", override: "override-from-dotenv"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stack := secretStack(t, precedenceEnv+"ONLY_INFISICAL=dotenv-placeholder\n")
			project := testenv.ProjectName(t)
			args := append([]string{"up", "-C", stack, "-p", project}, c.args...)
			r := startsvc(t, c.env, args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d:\n%s", r.code, c.code, r.out)
			}
			if !strings.Contains(r.out, c.say) {
				t.Errorf("output does not say %q:\n%s", c.say, r.out)
			}
			if strings.Count(r.out, "Infisical is not configured") > 1 {
				t.Errorf("the configuration hint is repeated")
			}
			if r.duration > 90*time.Second {
				t.Errorf("took %s: the Infisical phase must be bounded", r.duration)
			}
			assertNoValues(t, r.out, map[string]string{"SECRET": "client-secret-value-1", "WRONG": "wrong-secret-value", "TOKEN": "tok-abcdef"})
			if c.override == "" {
				if left, _ := testenv.Services(project, true); len(left) != 0 {
					t.Errorf("containers were created: %v", left)
				}
				return
			}
			got, err := testenv.ContainerEnv(project, "app")
			if err != nil {
				t.Fatal(err)
			}
			if got["OVERRIDE"] != c.override || got["PLAIN"] != "plain-setting" {
				t.Errorf("OVERRIDE=%q PLAIN=%q, want %q and plain-setting", got["OVERRIDE"], got["PLAIN"], c.override)
			}
		})
	}
}

// TestRunAndExport is issue 3's third promise.
func TestRunAndExport(t *testing.T) {
	testenv.RequireDocker(t)
	srv := fakeInfisical(t, infisicaltest.V4)
	stack := secretStack(t, precedenceEnv)
	env := infisicalEnv(srv, "client-secret-value-1")

	r := startsvc(t, env, "run", "-C", stack, "--", "sh", "-c", `test "$OVERRIDE" = override-from-infisical && exit 7`)
	if r.code != 7 {
		t.Errorf("run exited %d, want 7 (the child's code):\n%s", r.code, r.out)
	}

	out := filepath.Join(t.TempDir(), "exported.env")
	r = startsvc(t, env, "export", "-C", stack, "-o", out)
	if r.code != 0 {
		t.Fatalf("export exited %d:\n%s", r.code, r.out)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("exported file mode %v, want 0600", st.Mode().Perm())
	}
	// compose reads the file back exactly: its resolved configuration carries
	// every value unchanged.
	cfg := exec.Command("docker", "compose", "--project-directory", stack, "-f", filepath.Join(stack, "compose", "docker-compose.yml"),
		"--env-file", out, "config", "--format", "json")
	cfg.Env = append(os.Environ(), "COMPOSE_DISABLE_ENV_FILE=1")
	data, err := cfg.Output()
	if err != nil {
		t.Fatalf("docker compose config: %v", err)
	}
	var model struct {
		Services map[string]struct {
			Environment map[string]*string `json:"environment"`
		} `json:"services"`
	}
	if err := json.Unmarshal(data, &model); err != nil {
		t.Fatal(err)
	}
	appEnv := model.Services["app"].Environment
	for k, want := range testenv.Hostile {
		// config prints a compose file again, with every literal $ as $$.
		if v := appEnv[k]; v == nil || *v != strings.ReplaceAll(want, "$", "$$") {
			t.Errorf("%s does not read back exactly from the exported file", k)
		}
	}
	if v := appEnv["PLAIN"]; v == nil || *v != "plain-setting" {
		t.Errorf("PLAIN missing from the export")
	}
}
