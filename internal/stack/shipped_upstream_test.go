package stack_test

// Tests that the shipped stack keeps what users of the old start script's
// compose files (local-ai-packaged) rely on: container names, where bind-
// mounted data lives, Caddy's add-on folder, Langfuse's overridable settings,
// and Ollama and SearXNG kept off Caddy.

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// upstreamNames are the container names the old compose file gave, by service.
var upstreamNames = map[string]string{
	"n8n": "n8n", "open-webui": "open-webui", "flowise": "flowise", "qdrant": "qdrant",
	"caddy": "caddy", "redis": "redis", "searxng": "searxng",
}

// The old file named no container for these; compose's default names
// (localai-<service>-1) are therefore the old ones too.
var upstreamUnnamed = []string{"neo4j", "langfuse-web", "langfuse-worker", "clickhouse", "minio", "postgres"}

func TestShippedContainerNames(t *testing.T) {
	dir := copyStack(t)
	env := initEnv(t, dir)
	l, all := load(t, dir, "private", env, "*")
	for _, profile := range []string{"cpu", "gpu-nvidia", "gpu-amd", "none"} {
		t.Run(profile, func(t *testing.T) {
			prof, err := l.Resolve(profile, all.Defined)
			if err != nil {
				t.Fatal(err)
			}
			p, err := all.Select(prof.Compose)
			if err != nil {
				t.Fatal(err)
			}
			// compose up refuses a selection in which two services share a
			// container name: every startsvc profile must pass.
			if err := p.CheckContainerNameUnicity(); err != nil {
				t.Fatalf("profile %s: %v", profile, err)
			}
			for svc, want := range upstreamNames {
				if got := p.Services[svc].ContainerName; got != want {
					t.Errorf("%s: container name %q, want %q", svc, got, want)
				}
			}
			for _, svc := range upstreamUnnamed {
				if got := p.Services[svc].ContainerName; got != "" {
					t.Errorf("%s: container name %q, want compose's default (as the old file had)", svc, got)
				}
			}
			var ollama, pull []string
			for name, s := range p.Services {
				switch s.ContainerName {
				case "ollama":
					ollama = append(ollama, name)
				case "ollama-pull-llama":
					pull = append(pull, name)
				}
			}
			want := 1
			if profile == "none" {
				want = 0
			}
			if len(ollama) != want || len(pull) != want {
				t.Errorf("profile %s: containers named ollama %v and ollama-pull-llama %v, want %d of each", profile, ollama, pull, want)
			}
		})
	}
}

// bindSources maps each bind mount's target to its host path.
func bindSources(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind {
			out[v.Target] = v.Source
		}
	}
	return out
}

// Data bind-mounted from the stack directory resolves to the host paths the
// old layout used (everything relative to the folder holding the stack, and
// Supabase's relative to supabase/docker/), so an existing installation's
// data is found in place.
func TestShippedDataPaths(t *testing.T) {
	dir := copyStack(t)
	_, p := load(t, dir, "private", initEnv(t, dir), "*")
	abs := func(rel string) string { return filepath.Join(p.WorkingDir, filepath.FromSlash(rel)) }
	want := map[string]map[string]string{
		"n8n":     {"/backup": abs("n8n/backup"), "/data/shared": abs("shared")},
		"neo4j":   {"/logs": abs("neo4j/logs"), "/config": abs("neo4j/config"), "/data": abs("neo4j/data"), "/plugins": abs("neo4j/plugins")},
		"db":      {"/var/lib/postgresql/data": abs("supabase/docker/volumes/db/data")},
		"storage": {"/var/lib/storage": abs("supabase/docker/volumes/storage")},
		"searxng": {"/etc/searxng": abs("searxng")},
		"caddy":   {"/etc/caddy/addons": abs("caddy-addon")},
	}
	for svc, mounts := range want {
		got := bindSources(p.Services[svc])
		for target, source := range mounts {
			if got[target] != source {
				t.Errorf("%s: %s comes from %q, want %q", svc, target, got[target], source)
			}
		}
	}
	for _, v := range p.Services["caddy"].Volumes {
		if v.Target == "/etc/caddy/addons" && !v.ReadOnly {
			t.Error("caddy's add-on folder is mounted writable")
		}
	}
}

// caddySites lists the upstreams the Caddyfile proxies to, and its import
// lines, ignoring comments.
func caddySites(t *testing.T, path string) (proxies, imports []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 2 && fields[0] == "reverse_proxy":
			proxies = append(proxies, fields[1])
		case len(fields) >= 2 && fields[0] == "import":
			imports = append(imports, fields[1])
		}
	}
	return proxies, imports
}

func TestShippedCaddy(t *testing.T) {
	proxies, imports := caddySites(t, filepath.Join(repoRoot, "Caddyfile"))
	if !slices.Contains(imports, "/etc/caddy/addons/*.conf") {
		t.Errorf("the Caddyfile does not import /etc/caddy/addons/*.conf (imports %v)", imports)
	}
	for _, p := range proxies {
		host := strings.Split(p, ":")[0]
		if host == "ollama" || host == "searxng" {
			t.Errorf("the Caddyfile serves %s, which asks for no login", p)
		}
	}
	for _, want := range []string{"n8n:5678", "open-webui:8080", "kong:8000"} {
		if !slices.Contains(proxies, want) {
			t.Errorf("the Caddyfile does not proxy %s", want)
		}
	}
	// Nothing the repository ships in caddy-addon is imported by default.
	conf, _ := filepath.Glob(filepath.Join(repoRoot, "caddy-addon", "*.conf"))
	if len(conf) > 0 {
		t.Errorf("caddy-addon ships files Caddy imports: %v", conf)
	}
	example, _ := filepath.Glob(filepath.Join(repoRoot, "caddy-addon", "*.conf.example"))
	for _, e := range example {
		if proxies, _ := caddySites(t, e); !slices.Contains(proxies, "ollama:11434") {
			continue
		}
		data, _ := os.ReadFile(e)
		if !strings.Contains(string(data), "basic_auth") {
			t.Errorf("%s serves Ollama without basic_auth", filepath.Base(e))
		}
	}
}

// Langfuse's settings keep the old names and defaults, and a value in .env
// replaces the default.
func TestShippedLangfuseOverrides(t *testing.T) {
	dir := copyStack(t)
	env := initEnv(t, dir)
	_, p := load(t, dir, "private", env, "*")
	defaults := map[string]string{
		"CLICKHOUSE_URL": "http://clickhouse:8123", "REDIS_HOST": "redis", "TELEMETRY_ENABLED": "true",
		"LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT": "http://minio:9000", "LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT": "http://localhost:9010",
	}
	for _, svc := range []string{"langfuse-web", "langfuse-worker"} {
		for k, want := range defaults {
			if got := deref(p.Services[svc].Environment[k]); got != want {
				t.Errorf("%s %s = %q with .env's empty value, want %q", svc, k, got, want)
			}
		}
	}
	env["CLICKHOUSE_URL"] = "http://elsewhere:8123"
	env["TELEMETRY_ENABLED"] = "false"
	_, p = load(t, dir, "private", env, "*")
	for _, svc := range []string{"langfuse-web", "langfuse-worker"} {
		e := p.Services[svc].Environment
		if deref(e["CLICKHOUSE_URL"]) != "http://elsewhere:8123" || deref(e["TELEMETRY_ENABLED"]) != "false" {
			t.Errorf("%s does not take CLICKHOUSE_URL and TELEMETRY_ENABLED from .env", svc)
		}
	}
}
