package stack_test

// Tests of the stack this repository ships: compose/, profiles/, Caddyfile,
// searxng/ and .env.example, loaded the way startsvc loads them (compose-go,
// the stack directory as project directory) with a stand-in for Supabase's
// compose file, which is cloned at run time and not part of the repository.

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/stack"
)

// repoRoot is the stack directory of the repository itself.
const repoRoot = "../.."

// shippedPaths are what a stack directory of the default stack consists of.
var shippedPaths = []string{"stages.yml", "compose", "profiles", "Caddyfile", "caddy-addon", "searxng/settings-base.yml", ".env.example", stack.FileSecretsFile}

// notReferenced lists variables .env.example may carry although no compose
// file (ours or the Supabase stand-in) references them, each with the reason.
// Keep it small: a variable nothing reads is usually a leftover.
var notReferenced = map[string]string{}

// copyStack copies the shipped files into a new temporary stack directory and
// puts the Supabase stand-in where the clone would be.
func copyStack(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range shippedPaths {
		if err := os.CopyFS(filepath.Join(dir, p), os.DirFS(filepath.Join(repoRoot, p))); err != nil {
			// CopyFS copies folders; single files are copied here.
			data, rerr := os.ReadFile(filepath.Join(repoRoot, p))
			if rerr != nil {
				t.Fatalf("copy %s: %v", p, err)
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, p), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	standin, err := os.ReadFile("testdata/supabase-standin.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "supabase", "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(stack.SupabaseCompose)), standin, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// initEnv is what `startsvc init` would write, parsed as compose reads it.
func initEnv(t *testing.T, dir string) map[string]string {
	t.Helper()
	example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := envgen.Generate(example, bytesReader(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := compose.ParseEnv(".env", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// bytesReader is an endless deterministic byte source: these tests check the
// compose files, not the randomness.
func bytesReader() *bytes.Reader {
	b := make([]byte, 1<<16)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return bytes.NewReader(b)
}

// load loads the stack for an environment with the given compose profiles.
func load(t *testing.T, dir, environment string, env map[string]string, profiles ...string) (*stack.Layout, *compose.Project) {
	t.Helper()
	l, err := stack.Open(dir, nil, environment)
	if err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.Spec{Name: "localai", Dir: l.Dir, Files: l.Files, Profiles: profiles, Env: env})
	if err != nil {
		t.Fatalf("load %s: %v", environment, err)
	}
	return l, p
}

func TestShippedEnvExampleMatchesComposeFiles(t *testing.T) {
	dir := copyStack(t)
	example, err := os.ReadFile(filepath.Join(dir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := compose.ParseEnv(".env.example", example, nil)
	if err != nil {
		t.Fatal(err)
	}
	referenced := map[string]string{} // name -> an environment that references it
	for _, environment := range []string{"private", "public"} {
		l, err := stack.Open(dir, nil, environment)
		if err != nil {
			t.Fatal(err)
		}
		vars, err := compose.Variables(context.Background(), compose.Spec{Dir: l.Dir, Files: l.Files})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vars {
			referenced[v.Name] = environment
		}
	}
	if _, ok := referenced["SMTP_PASS"]; !ok {
		t.Fatal("the variables of the included Supabase file are not seen; the check below would be blind to them")
	}
	var missing, unused []string
	for name := range referenced {
		if _, ok := listed[name]; !ok {
			missing = append(missing, name)
		}
	}
	for name := range listed {
		if _, ok := referenced[name]; !ok && notReferenced[name] == "" {
			unused = append(unused, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(unused)
	if len(missing) > 0 {
		t.Errorf("compose files reference variables .env.example does not list (add them, with a comment): %s", strings.Join(missing, ", "))
	}
	if len(unused) > 0 {
		t.Errorf(".env.example lists variables no compose file references (remove them, or add them to notReferenced with the reason): %s", strings.Join(unused, ", "))
	}
}

// Every secret init generates is one the files use, and every variable the
// files require is either generated or has a value in .env.example.
func TestShippedRequiredVariables(t *testing.T) {
	dir := copyStack(t)
	l, err := stack.Open(dir, nil, "private")
	if err != nil {
		t.Fatal(err)
	}
	vars, err := compose.Variables(context.Background(), compose.Spec{Dir: l.Dir, Files: l.Files})
	if err != nil {
		t.Fatal(err)
	}
	example, _ := os.ReadFile(filepath.Join(dir, ".env.example"))
	listed, _ := compose.ParseEnv(".env.example", example, nil)
	generated := envgen.Keys()
	for _, v := range vars {
		if v.Required && listed[v.Name] == "" && !slices.Contains(generated, v.Name) {
			t.Errorf("%s is required but neither generated by init nor given a value in .env.example", v.Name)
		}
	}
	names := map[string]bool{}
	for _, v := range vars {
		names[v.Name] = true
	}
	for _, k := range generated {
		if !names[k] {
			t.Errorf("init generates %s, which no compose file reads", k)
		}
	}
}

// A copy of .env.example with its secrets still empty must stop preflight,
// naming the variable; the same after init must load.
func TestShippedEmptySecretsStopPreflight(t *testing.T) {
	dir := copyStack(t)
	example, _ := os.ReadFile(filepath.Join(dir, ".env.example"))
	raw, _ := compose.ParseEnv(".env.example", example, nil)
	l, err := stack.Open(dir, nil, "private")
	if err != nil {
		t.Fatal(err)
	}
	_, err = compose.Load(context.Background(), compose.Spec{Dir: l.Dir, Files: l.Files, Profiles: []string{"*"}, Env: raw})
	if err == nil || !strings.Contains(err.Error(), "required variable") {
		t.Fatalf("err = %v, want a missing required variable", err)
	}
	for _, environment := range []string{"private", "public"} {
		load(t, dir, environment, initEnv(t, dir), "*")
	}
}

func TestShippedProfiles(t *testing.T) {
	dir := copyStack(t)
	env := initEnv(t, dir)
	l, all := load(t, dir, "private", env, "*")
	if want := []string{"cpu", "gpu-amd", "gpu-nvidia"}; !slices.Equal(all.Defined, want) {
		t.Fatalf("compose profiles %v, want %v", all.Defined, want)
	}
	ollama := []string{"ollama-cpu", "ollama-gpu", "ollama-gpu-amd", "ollama-pull-llama-cpu", "ollama-pull-llama-gpu", "ollama-pull-llama-gpu-amd"}
	tests := []struct {
		profile string
		want    []string // the Ollama services it runs; every other one must be absent
	}{
		{"cpu", []string{"ollama-cpu", "ollama-pull-llama-cpu"}},
		{"gpu-nvidia", []string{"ollama-gpu", "ollama-pull-llama-gpu"}},
		{"gpu-amd", []string{"ollama-gpu-amd", "ollama-pull-llama-gpu-amd"}},
		{"none", nil},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			prof, err := l.Resolve(tt.profile, all.Defined)
			if err != nil {
				t.Fatal(err)
			}
			p, err := all.Select(prof.Compose)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range ollama {
				_, on := p.Services[name]
				if want := slices.Contains(tt.want, name); on != want {
					t.Errorf("%s active = %v, want %v", name, on, want)
				}
			}
			if _, ok := p.Services["n8n"]; !ok {
				t.Error("n8n is not active")
			}
			if _, ok := p.Services["db"]; !ok {
				t.Error("Supabase's db is not active")
			}
		})
	}

	gpu := all.Services["ollama-gpu"]
	if gpu.Deploy == nil || gpu.Deploy.Resources.Reservations == nil || len(gpu.Deploy.Resources.Reservations.Devices) != 1 {
		t.Fatal("ollama-gpu has no device reservation")
	}
	if d := gpu.Deploy.Resources.Reservations.Devices[0]; d.Driver != "nvidia" || d.Count != 1 || !slices.Equal([]string(d.Capabilities), []string{"gpu"}) {
		t.Errorf("ollama-gpu reservation = %+v, want driver nvidia, count 1, capabilities [gpu]", d)
	}
	amd := all.Services["ollama-gpu-amd"]
	var devs []string
	for _, d := range amd.Devices {
		devs = append(devs, d.Source)
	}
	if amd.Image != "ollama/ollama:rocm" || !slices.Equal(devs, []string{"/dev/kfd", "/dev/dri"}) {
		t.Errorf("ollama-gpu-amd: image %s devices %v", amd.Image, devs)
	}
	if r := l.Profiles["gpu-nvidia"].Requires; r.Runtime != "nvidia" {
		t.Errorf("profile gpu-nvidia requires %+v, want runtime nvidia", r)
	}
	if r := l.Profiles["gpu-amd"].Requires; !slices.Equal(r.Devices, []string{"/dev/kfd", "/dev/dri"}) {
		t.Errorf("profile gpu-amd requires %+v, want devices /dev/kfd and /dev/dri", r)
	}
	for _, name := range []string{"ollama-cpu", "ollama-gpu", "ollama-gpu-amd"} {
		if !slices.Contains(all.Services[name].Networks["default"].Aliases, "ollama") {
			t.Errorf("%s does not answer to the name ollama", name)
		}
	}
}

// published lists a service's ports as host_ip:published->target.
func published(s types.ServiceConfig) []string {
	var out []string
	for _, p := range s.Ports {
		out = append(out, p.HostIP+":"+p.Published+"->"+strconv.FormatUint(uint64(p.Target), 10))
	}
	sort.Strings(out)
	return out
}

// privatePorts are the ports the facts of the stack give, as the private
// environment publishes them (host port -> container port).
var privatePorts = map[string][]string{
	"caddy":           {":443->443", ":80->80"},
	"n8n":             {"127.0.0.1:5678->5678"},
	"ollama-cpu":      {"127.0.0.1:11434->11434"},
	"ollama-gpu":      {"127.0.0.1:11434->11434"},
	"ollama-gpu-amd":  {"127.0.0.1:11434->11434"},
	"open-webui":      {"127.0.0.1:8080->8080"},
	"flowise":         {"127.0.0.1:3001->3001"},
	"qdrant":          {"127.0.0.1:6333->6333", "127.0.0.1:6334->6334"},
	"neo4j":           {"127.0.0.1:7473->7473", "127.0.0.1:7474->7474", "127.0.0.1:7687->7687"},
	"langfuse-web":    {"127.0.0.1:3000->3000"},
	"langfuse-worker": {"127.0.0.1:3030->3030"},
	"clickhouse":      {"127.0.0.1:8123->8123", "127.0.0.1:9000->9000", "127.0.0.1:9009->9009"},
	"minio":           {"127.0.0.1:9010->9000", "127.0.0.1:9011->9001"},
	"postgres":        {"127.0.0.1:5433->5432"},
	"redis":           {"127.0.0.1:6379->6379"},
	"searxng":         {"127.0.0.1:8081->8080"},
	"infisical":       {"127.0.0.1:8010->8080"},
	"kong":            {"127.0.0.1:8000->8000", "127.0.0.1:8443->8443"},
	"supavisor":       {"127.0.0.1:5432->5432", "127.0.0.1:6543->6543"},
}

// The private environment's ports as startsvc runs it: the files, with the
// environment's port rule applied as the overlay startsvc generates does.
func TestShippedPrivatePublishesOnLoopbackOnly(t *testing.T) {
	dir := copyStack(t)
	_, p := load(t, dir, "private", initEnv(t, dir), "*")
	withPortRule(t, p)
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if name == "caddy" {
				continue
			}
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s on %q, want 127.0.0.1", name, port.Published, port.HostIP)
			}
		}
		got, want := published(s), privatePorts[name]
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s publishes %v, want %v", name, got, want)
		}
	}
	for name := range privatePorts {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("service %s is missing", name)
		}
	}
}

func TestShippedPublicPublishesOnlyCaddy(t *testing.T) {
	dir := copyStack(t)
	_, p := load(t, dir, "public", initEnv(t, dir), "*")
	withPortRule(t, p)
	for name, s := range p.Services {
		got := published(s)
		if name == "caddy" {
			if want := []string{":443->443", ":80->80"}; !slices.Equal(got, want) {
				t.Errorf("caddy publishes %v, want %v", got, want)
			}
			continue
		}
		if len(got) > 0 {
			t.Errorf("%s publishes %v in the public environment", name, got)
		}
	}
}

// supabase/docker/.env, a plaintext copy the old script made, must not feed
// the included file: it gets exactly the variables the rest of the stack gets.
func TestShippedIncludeIgnoresSupabaseDotEnv(t *testing.T) {
	dir := copyStack(t)
	env := initEnv(t, dir)
	delete(env, "OPENAI_API_KEY")
	stale := "OPENAI_API_KEY=from-the-stale-copy\nJWT_SECRET=from-the-stale-copy\n"
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(stack.SupabaseEnvCopy)), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	_, p := load(t, dir, "private", env, "*")
	studio := p.Services["studio"]
	if v := studio.Environment["OPENAI_API_KEY"]; v == nil || *v != "" {
		t.Errorf("studio's OPENAI_API_KEY = %v, want empty (the stale copy must not be read)", deref(v))
	}
	if v := studio.Environment["AUTH_JWT_SECRET"]; v == nil || *v != env["JWT_SECRET"] {
		t.Error("studio's JWT secret is not the env file's")
	}
}

func deref(p *string) string {
	if p == nil {
		return "<unset>"
	}
	return *p
}

func TestShippedServices(t *testing.T) {
	dir := copyStack(t)
	_, p := load(t, dir, "private", initEnv(t, dir), "*")
	images := map[string]string{
		"n8n": "n8nio/n8n:latest", "ollama-cpu": "ollama/ollama:latest", "ollama-gpu": "ollama/ollama:latest",
		"ollama-gpu-amd": "ollama/ollama:rocm", "open-webui": "ghcr.io/open-webui/open-webui:main",
		"flowise": "flowiseai/flowise", "qdrant": "qdrant/qdrant", "neo4j": "neo4j:latest", "caddy": "caddy:2-alpine",
		"langfuse-web": "langfuse/langfuse:3", "langfuse-worker": "langfuse/langfuse-worker:3",
		"clickhouse": "clickhouse/clickhouse-server", "minio": "minio/minio", "postgres": "postgres:17",
		"redis": "valkey/valkey:8-alpine", "searxng": "searxng/searxng:latest", "infisical": "infisical/infisical:latest",
	}
	for name, image := range images {
		if got := p.Services[name].Image; got != image {
			t.Errorf("%s image %q, want %q", name, got, image)
		}
	}
	mustHealth := []string{"n8n", "ollama-cpu", "ollama-gpu", "ollama-gpu-amd", "flowise", "langfuse-web", "langfuse-worker",
		"clickhouse", "minio", "postgres", "redis", "searxng", "infisical", "infisical-db", "infisical-redis"}
	for _, name := range mustHealth {
		if hc := p.Services[name].HealthCheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	ours := map[string]bool{}
	for name := range images {
		ours[name] = true
	}
	ours["infisical-db"], ours["infisical-redis"] = true, true
	for name, s := range p.Services {
		if strings.HasPrefix(name, "ollama-pull-llama-") {
			if s.Restart != "no" {
				t.Errorf("%s restart %q, want no (a one-shot job)", name, s.Restart)
			}
			continue
		}
		if ours[name] && s.Restart != "unless-stopped" {
			t.Errorf("%s restart %q, want unless-stopped", name, s.Restart)
		}
	}
	if got := p.Services["infisical"].Environment["SITE_URL"]; got == nil || *got != "http://localhost:8010" {
		t.Errorf("infisical SITE_URL = %s", deref(got))
	}
	wh := p.Services["n8n"].Environment["WEBHOOK_URL"]
	if wh == nil || *wh != "http://localhost:5678" {
		t.Errorf("n8n WEBHOOK_URL without a hostname = %s", deref(wh))
	}
	caddy := p.Services["caddy"]
	if !slices.Equal(caddy.CapDrop, []string{"ALL"}) || !slices.Equal(caddy.CapAdd, []string{"NET_BIND_SERVICE"}) {
		t.Errorf("caddy capabilities drop %v add %v", caddy.CapDrop, caddy.CapAdd)
	}
}

// Every bind mount under the stack directory is either a file the repository
// ships or a data folder Docker creates on first start.
func TestShippedBindMounts(t *testing.T) {
	dir := copyStack(t)
	_, p := load(t, dir, "private", initEnv(t, dir), "*")
	createdByDocker := map[string]bool{"n8n/backup": true, "shared": true, "neo4j/logs": true, "neo4j/config": true, "neo4j/data": true, "neo4j/plugins": true}
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			rel, err := filepath.Rel(p.WorkingDir, v.Source)
			if err != nil || strings.HasPrefix(rel, "..") || strings.HasPrefix(filepath.ToSlash(rel), "supabase/") {
				continue // outside the stack, or Supabase's own
			}
			rel = filepath.ToSlash(rel)
			if createdByDocker[rel] {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, rel)); err != nil {
				t.Errorf("%s mounts %s, which the repository does not ship", name, rel)
			}
		}
	}
}

// The same files through the real compose CLI, when it is installed, for each
// environment and each startsvc profile: compose's config, like its up, insists
// that the services it selects have distinct container names, and the three
// Ollama variants share one, so they are checked a profile at a time, as
// startsvc runs them. The environment's port rule reaches compose as startsvc
// hands it over: an overlay on standard input (-f -) with ports: !override or
// !reset for each service the rule changes.
func TestShippedWithComposeCLI(t *testing.T) {
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("docker compose is not available and CI is set: %v", err)
		}
		t.Skipf("docker compose is not available: %v", err)
	}
	dir := copyStack(t)
	initEnv(t, dir)
	overlays := map[string]string{}
	for _, environment := range []string{"private", "public"} {
		_, p := load(t, dir, environment, initEnv(t, dir), "*")
		r, err := stack.PortRuleOf(p.Project)
		if err != nil || r == nil {
			t.Fatalf("%s: port rule %v, err %v", environment, r, err)
		}
		overlays[environment] = portOverlay(r.Apply(p.Project))
	}
	for _, run := range []struct{ environment, profile string }{
		{"private", "cpu"}, {"private", "gpu-nvidia"}, {"private", "gpu-amd"}, {"private", "none"},
		{"public", "cpu"}, {"public", "gpu-nvidia"}, {"public", "gpu-amd"}, {"public", "none"},
	} {
		environment := run.environment
		t.Run(environment+"/"+run.profile, func(t *testing.T) {
			l, err := stack.Open(dir, nil, environment)
			if err != nil {
				t.Fatal(err)
			}
			args := []string{"compose", "--project-name", "localai", "--project-directory", dir}
			for _, f := range l.Files {
				args = append(args, "--file", f)
			}
			args = append(args, "--file", "-", "--env-file", filepath.Join(dir, ".env"))
			for _, p := range l.Profiles[run.profile].Compose {
				args = append(args, "--profile", p)
			}
			args = append(args, "config", "--format", "json")
			cmd := exec.Command("docker", args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
			cmd.Stdin = strings.NewReader(overlays[environment])
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("docker compose config: %v\n%s", err, stderr.String())
			}
			var cfg struct {
				Services map[string]struct {
					Ports []struct {
						HostIP    string `json:"host_ip"`
						Published string `json:"published"`
					} `json:"ports"`
				} `json:"services"`
			}
			if err := json.Unmarshal(out, &cfg); err != nil {
				t.Fatal(err)
			}
			for name, s := range cfg.Services {
				for _, port := range s.Ports {
					switch {
					case name == "caddy":
						if port.Published != "80" && port.Published != "443" {
							t.Errorf("caddy publishes %s", port.Published)
						}
					case environment == "public":
						t.Errorf("%s publishes %s in public", name, port.Published)
					case port.HostIP != "127.0.0.1":
						t.Errorf("%s publishes %s on %q", name, port.Published, port.HostIP)
					}
				}
			}
		})
	}
}

// TestShippedStages checks stages.yml against the shipped services: every name
// exists, Infisical comes first only when it runs in the stack, the model pulls
// are one-shot jobs.
func TestShippedStages(t *testing.T) {
	dir := copyStack(t)
	env := initEnv(t, dir)
	_, p := load(t, dir, "private", env, "cpu")
	all := slices.Sorted(maps.Keys(p.AllServices()))
	stages, err := stack.LoadStages(dir, all)
	if err != nil {
		t.Fatalf("stages.yml: %v", err)
	}
	active := p.Active()
	inStack := stages.Plan(active, func(c string) bool { return c == stack.WhenInfisicalInStack })
	if len(inStack) != 3 || inStack[0].Name != "secrets" || !inStack[0].FetchSecrets || !slices.Contains(inStack[0].Services, "infisical") {
		t.Fatalf("with Infisical in the stack, its stage must come first and fetch secrets: %+v", inStack)
	}
	elsewhere := stages.Plan(active, func(string) bool { return false })
	if elsewhere[0].Name != "databases" || !slices.Contains(elsewhere[len(elsewhere)-1].Services, "infisical") {
		t.Errorf("with Infisical elsewhere, its services start with the rest: %+v", elsewhere)
	}
	for _, job := range []string{"ollama-pull-llama-cpu", "ollama-pull-llama-gpu", "ollama-pull-llama-gpu-amd"} {
		s, ok := p.AllServices()[job]
		if !ok || s.Labels["startsvc.oneshot"] != "true" {
			t.Errorf("%s must be labelled as a one-shot job", job)
		}
	}
}
