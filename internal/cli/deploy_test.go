package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/swarm"
	"github.com/startsvc/startsvc/internal/testenv"
)

// fakeEngine answers as a Docker Engine (API 1.41) whose swarm state is the
// one given, and 404 to anything but ping and info: deploy must ask nothing
// else before it knows the Engine is a manager.
func fakeEngine(t *testing.T, swarm map[string]any) (host string, paths *[]string) {
	t.Helper()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path)
		w.Header().Set("Api-Version", "1.41")
		w.Header().Set("Ostype", "linux")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			_, _ = w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/info"):
			_ = json.NewEncoder(w).Encode(map[string]any{"ServerVersion": "20.10.24", "Swarm": swarm})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return "DOCKER_HOST=tcp://" + strings.TrimPrefix(srv.URL, "http://"), &seen
}

func TestDeployNeedsASwarmManager(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  app:\n    image: example/app:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		swarm map[string]any
		args  []string
		say   string
	}{
		{"not in a swarm", map[string]any{"LocalNodeState": "inactive"}, nil, "`docker swarm init --advertise-addr 127.0.0.1`"},
		{"not in a swarm, --rm", map[string]any{"LocalNodeState": "inactive"}, []string{"--rm"}, "`docker swarm init`"},
		{"a worker", map[string]any{"LocalNodeState": "active", "ControlAvailable": false}, nil, "swarm worker"},
	} {
		t.Run(c.name, func(t *testing.T) {
			host, paths := fakeEngine(t, c.swarm)
			out := invoke(t, dir, []string{host}, append([]string{"deploy", "--skip-infisical"}, c.args...)...)
			if out.code != exitcode.Unavailable {
				t.Fatalf("exit %d, want %d:\n%s", out.code, exitcode.Unavailable, out.stderr)
			}
			if !strings.Contains(out.stderr, c.say) {
				t.Errorf("the error does not say %q:\n%s", c.say, out.stderr)
			}
			for _, p := range *paths {
				if !strings.HasSuffix(p, "/_ping") && !strings.HasSuffix(p, "/info") {
					t.Errorf("deploy asked the Engine for %s before it knew it is a manager", p)
				}
			}
		})
	}
}

// TestDeployBuildsTheShippedStack turns the shipped stack into its Swarm
// definition for each profile, changing nothing: every service of the
// profile, in its stage; what Swarm ignores named; the private environment,
// whose ports are bound to 127.0.0.1, refused with what to do; no value shown.
func TestDeployBuildsTheShippedStack(t *testing.T) {
	testenv.RequireSwarm(t)
	dir := shippedStack(t)
	if r := invoke(t, dir, nil, "init"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	hidden := envSecrets(t, filepath.Join(dir, ".env"))
	for _, c := range []struct {
		profile, ollama, warn string
	}{
		{"cpu", "ollama-cpu", ""},
		{"gpu-nvidia", "ollama-gpu", "WARNING: ollama-gpu: Swarm ignores device reservations such as GPUs"},
		{"gpu-amd", "ollama-gpu-amd", "WARNING: ollama-gpu-amd: Swarm ignores devices"},
	} {
		t.Run(c.profile, func(t *testing.T) {
			r := invoke(t, dir, nil, "deploy", "--dry-run", "--json", "--skip-infisical", "--environment", "public",
				"--profile", c.profile, "-p", "sss-shipped-dry-run")
			if r.code != 0 {
				t.Fatalf("deploy --dry-run: exit %d\n%s", r.code, r.stderr)
			}
			var plan struct {
				Pending  bool
				Services []swarm.Change
			}
			if err := json.Unmarshal([]byte(r.stdout), &plan); err != nil {
				t.Fatalf("deploy --dry-run --json: %v\n%s", err, r.stdout)
			}
			stages := map[string]string{}
			for _, ch := range plan.Services {
				if ch.Action != swarm.Create {
					t.Errorf("%s: %s, want create (no such stack)", ch.Service, ch.Action)
				}
				stages[ch.Service] = ch.Stage
			}
			for svc, stage := range map[string]string{"db": "databases", "postgres": "databases", "n8n": "apps", "caddy": "apps", c.ollama: "apps"} {
				if stages[svc] != stage {
					t.Errorf("service %s: stage %q, want %q", svc, stages[svc], stage)
				}
			}
			if _, ok := stages["ollama-cpu"]; ok && c.ollama != "ollama-cpu" {
				t.Errorf("profile %s deploys ollama-cpu", c.profile)
			}
			if c.warn != "" && !strings.Contains(r.stderr, c.warn) {
				t.Errorf("deploy does not warn %q:\n%s", c.warn, r.stderr)
			}
			assertHidden(t, r.stdout+r.stderr, hidden)
		})
	}
	r := invoke(t, dir, nil, "deploy", "--dry-run", "--skip-infisical", "-p", "sss-shipped-dry-run")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "127.0.0.1 only") || !strings.Contains(r.stderr, "--environment public") {
		t.Errorf("deploy of the private environment: exit %d, want %d saying to use --environment public:\n%s", r.code, exitcode.Usage, r.stderr)
	}
}
