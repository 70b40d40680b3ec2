package swarm

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/swarm"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/stack"
)

// load reads a compose file as deploy sees it: interpolated with env, each
// service's environment resolved.
func load(t *testing.T, file string, env map[string]string) *types.Project {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := compose.Load(context.Background(), compose.Spec{Name: "demo", Dir: dir, Files: []string{path}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := p.Project.WithServicesEnvironmentResolved(true)
	if err != nil {
		t.Fatal(err)
	}
	return resolved
}

const demo = `services:
  db:
    image: postgres:17
    container_name: the-db
    privileged: true
    restart: unless-stopped
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
      POSTGRES_USER: app
    healthcheck:
      test: ["CMD", "pg_isready"]
      interval: 2s
    volumes: [data:/var/lib/postgresql/data]
  app:
    image: example/app:1
    depends_on:
      db: {condition: service_healthy}
    environment:
      DATABASE_PASSWORD: ${DB_PASSWORD}
      TOKEN: ${TOKEN}
    ports: ["8080:80"]
    networks:
      default:
        aliases: [web]
  pull:
    image: example/app:1
    restart: "no"
    labels: {startsvc.oneshot: "true", startsvc.config-hash: "abc"}
volumes:
  data: {}
`

func demoInput(t *testing.T, env map[string]string) Input {
	return Input{
		Stack:       "demo",
		Project:     load(t, demo, env),
		FileSecrets: stack.FileSecrets{"db": {{Key: "POSTGRES_PASSWORD", FileEnv: "POSTGRES_PASSWORD_FILE"}}},
		OneShots:    []string{"pull"},
		DropLabels:  []string{"startsvc.config-hash"},
	}
}

func envOf(s *Service) map[string]string {
	out := map[string]string{}
	for _, kv := range s.Spec.TaskTemplate.ContainerSpec.Env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

func TestBuildDeliversDeclaredKeysAsSecrets(t *testing.T) {
	value := "pa$$word 'q' \"d\"\nline2 \\"
	def, err := Build(demoInput(t, map[string]string{"DB_PASSWORD": value, "TOKEN": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	db := def.Services["db"]
	env := envOf(db)
	if _, ok := env["POSTGRES_PASSWORD"]; ok {
		t.Errorf("POSTGRES_PASSWORD is still in db's environment")
	}
	if env["POSTGRES_PASSWORD_FILE"] != "/run/secrets/POSTGRES_PASSWORD" || env["POSTGRES_USER"] != "app" {
		t.Errorf("db's environment has the keys %v", slices.Sorted(maps.Keys(env)))
	}
	refs := db.Spec.TaskTemplate.ContainerSpec.Secrets
	want := SecretName("demo", "POSTGRES_PASSWORD", []byte(value))
	if len(refs) != 1 || refs[0].SecretName != want || refs[0].File.Name != "POSTGRES_PASSWORD" || refs[0].File.Mode != 0o444 {
		t.Fatalf("db's secrets: %+v, want one named %s", refs, want)
	}
	if !strings.HasPrefix(want, "demo_POSTGRES_PASSWORD_") || len(want) != len("demo_POSTGRES_PASSWORD_")+8 {
		t.Errorf("secret name %s: want demo_POSTGRES_PASSWORD_<8 hex>", want)
	}
	if s := def.Secrets[want]; s == nil || string(s.data) != value || s.Key != "POSTGRES_PASSWORD" {
		t.Errorf("the definition does not hold the secret's value exactly")
	}
	// Only the declared service: app keeps the same value in its environment.
	if envOf(def.Services["app"])["DATABASE_PASSWORD"] != value {
		t.Errorf("app's DATABASE_PASSWORD changed, but file-secrets.yml does not name app")
	}
	// The value is nowhere in a specification, nor in what a Secret prints.
	for name, s := range def.Services {
		spec := strings.Join(s.Spec.TaskTemplate.ContainerSpec.Env, "\n")
		if name == "db" && strings.Contains(spec, "pa$$word") {
			t.Errorf("db's specification holds the file-delivered value")
		}
	}
	for _, s := range def.Secrets {
		if strings.Contains(s.String()+s.GoString(), "word") {
			t.Errorf("a Secret prints its value")
		}
	}
	if !slices.Contains(def.Values(), value) {
		t.Errorf("Values does not list the secret's value for the redactor")
	}
}

func TestBuildHashFollowsTheValues(t *testing.T) {
	build := func(pw, token string) *Definition {
		def, err := Build(demoInput(t, map[string]string{"DB_PASSWORD": pw, "TOKEN": token}))
		if err != nil {
			t.Fatal(err)
		}
		return def
	}
	a, again, rotated, retoken := build("one", "t"), build("one", "t"), build("two", "t"), build("one", "u")
	for _, name := range a.Names() {
		if a.Services[name].Hash != again.Services[name].Hash {
			t.Errorf("%s: the same input hashes differently", name)
		}
	}
	if a.Services["db"].Hash == rotated.Services["db"].Hash || a.Services["db"].Secrets[0] == rotated.Services["db"].Secrets[0] {
		t.Errorf("db: a new secret value must change the secret's name and the specification")
	}
	if a.Services["pull"].Hash != rotated.Services["pull"].Hash {
		t.Errorf("pull does not use the secret, yet its specification changed")
	}
	if a.Services["app"].Hash == retoken.Services["app"].Hash {
		t.Errorf("app: a changed environment value must change the specification")
	}
	if got := a.Services["db"].Spec.Labels[LabelSpecHash]; got != a.Services["db"].Hash {
		t.Errorf("the specification carries hash %q, want %q", got, a.Services["db"].Hash)
	}
}

func TestBuildConvertsWhatSwarmHas(t *testing.T) {
	def, err := Build(demoInput(t, map[string]string{"DB_PASSWORD": "x", "TOKEN": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	db, app, pull := def.Services["db"], def.Services["app"], def.Services["pull"]
	if db.Spec.Name != "demo_db" || db.Spec.Labels[LabelNamespace] != "demo" || db.Spec.TaskTemplate.ContainerSpec.Labels[LabelNamespace] != "demo" {
		t.Errorf("db: name %s, labels %v", db.Spec.Name, db.Spec.Labels)
	}
	if !db.Health || app.Health {
		t.Errorf("healthchecks: db %v, app %v; want true, false", db.Health, app.Health)
	}
	if rp := db.Spec.TaskTemplate.RestartPolicy; rp == nil || rp.Condition != swarm.RestartPolicyConditionAny {
		t.Errorf("restart unless-stopped: policy %+v, want any", rp)
	}
	if !pull.Job || pull.Spec.Mode.ReplicatedJob == nil || !pull.NoRestart {
		t.Errorf("the one-shot service is not a job that runs once: %+v", pull.Spec.Mode)
	}
	if _, ok := pull.Spec.TaskTemplate.ContainerSpec.Labels["startsvc.config-hash"]; ok {
		t.Errorf("a dropped label is in the specification")
	}
	if m := db.Spec.TaskTemplate.ContainerSpec.Mounts; len(m) != 1 || m[0].Source != "demo_data" || m[0].VolumeOptions.Labels[LabelNamespace] != "demo" {
		t.Errorf("db's volume: %+v", m)
	}
	ports := app.Spec.EndpointSpec.Ports
	if len(ports) != 1 || ports[0].PublishedPort != 8080 || ports[0].TargetPort != 80 || ports[0].PublishMode != swarm.PortConfigPublishModeIngress {
		t.Errorf("app's ports: %+v", ports)
	}
	nets := app.Spec.TaskTemplate.Networks
	if len(nets) != 1 || nets[0].Target != "demo_default" || !slices.Equal(nets[0].Aliases, []string{"app", "web"}) {
		t.Errorf("app's networks: %+v", nets)
	}
	if n := def.Networks["demo_default"]; n == nil || n.Options.Driver != "overlay" || n.Options.Labels[LabelNamespace] != "demo" {
		t.Errorf("the default network: %+v", n)
	}
	warned := strings.Join(def.Warnings, "\n")
	if !slices.Contains(def.Warnings, "db: Swarm ignores container_name") || !slices.Contains(def.Warnings, "db: Swarm ignores privileged") {
		t.Errorf("warnings do not name what Swarm ignores: %q", warned)
	}
	if strings.Contains(warned, "app") {
		t.Errorf("app asks for nothing Swarm ignores (depends_on is covered by stages), yet: %q", warned)
	}
}

func TestBuildRefuses(t *testing.T) {
	for _, c := range []struct {
		name, file string
		secrets    stack.FileSecrets
		env        map[string]string
		want       string
	}{
		{name: "loopback port", file: "services:\n  a:\n    image: x\n    ports: [\"127.0.0.1:8080:80\"]\n",
			want: "service a: port 80 is published on 127.0.0.1 only"},
		{name: "no image", file: "services:\n  a:\n    build: .\n", want: "service a: no image"},
		{name: "declared key not set", file: "services:\n  a:\n    image: x\n", secrets: stack.FileSecrets{"a": {{Key: "K", FileEnv: "K_FILE"}}},
			want: "file-secrets.yml delivers K as a file, but the service's environment does not set K"},
		{name: "empty secret", file: "services:\n  a:\n    image: x\n    environment: {K: \"${K}\"}\n", env: map[string]string{"K": ""},
			secrets: stack.FileSecrets{"a": {{Key: "K", FileEnv: "K_FILE"}}}, want: "K is empty"},
		{name: "configs", file: "services:\n  a:\n    image: x\nconfigs:\n  c: {content: hi}\n", want: "configs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(Input{Stack: "demo", Project: load(t, c.file, c.env), FileSecrets: c.secrets})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if code := exitcode.Of(nil, err); code != exitcode.Usage {
				t.Errorf("exit code %d, want %d", code, exitcode.Usage)
			}
		})
	}
}

func TestComposeSecretsBecomeHashedSecrets(t *testing.T) {
	file := "services:\n  a:\n    image: x\n    secrets: [token, {source: ext, target: other}]\n" +
		"secrets:\n  token: {environment: TOKEN}\n  ext: {external: true, name: shared_token}\n"
	def, err := Build(Input{Stack: "demo", Project: load(t, file, map[string]string{"TOKEN": "tok-value"})})
	if err != nil {
		t.Fatal(err)
	}
	refs := def.Services["a"].Spec.TaskTemplate.ContainerSpec.Secrets
	if len(refs) != 2 || refs[0].File.Name != "other" || refs[0].SecretName != "shared_token" ||
		refs[1].File.Name != "token" || refs[1].SecretName != SecretName("demo", "token", []byte("tok-value")) {
		t.Fatalf("secrets: %+v %+v", refs[0], refs[1])
	}
	if _, ok := def.Secrets["shared_token"]; ok {
		t.Errorf("an external secret is in the definition, to be created")
	}
}

// TestDeclaredKeysDeliveredThroughTheOverlay: when the model already takes a
// declared key as a compose secret sourced from a variable of startsvc's own
// (up's generated overlay does so), deploy names the Swarm secret by the key
// and mounts it once.
func TestDeclaredKeysDeliveredThroughTheOverlay(t *testing.T) {
	file := "services:\n  db:\n    image: x\n    environment: {POSTGRES_PASSWORD_FILE: /run/secrets/POSTGRES_PASSWORD}\n" +
		"    secrets: [{source: STARTSVC_FILE_DB_POSTGRES_PASSWORD, target: POSTGRES_PASSWORD, mode: 0440}]\n" +
		"secrets:\n  STARTSVC_FILE_DB_POSTGRES_PASSWORD: {environment: STARTSVC_FILE_DB_POSTGRES_PASSWORD}\n"
	mode := 0o440
	def, err := Build(Input{Stack: "demo", Project: load(t, file, map[string]string{"STARTSVC_FILE_DB_POSTGRES_PASSWORD": "pw-value"}),
		FileSecrets: stack.FileSecrets{"db": {{Key: "POSTGRES_PASSWORD", FileEnv: "POSTGRES_PASSWORD_FILE", Mode: &mode}}}})
	if err != nil {
		t.Fatal(err)
	}
	refs := def.Services["db"].Spec.TaskTemplate.ContainerSpec.Secrets
	want := SecretName("demo", "POSTGRES_PASSWORD", []byte("pw-value"))
	if len(refs) != 1 || refs[0].SecretName != want || refs[0].File.Name != "POSTGRES_PASSWORD" || refs[0].File.Mode != 0o440 || len(def.Secrets) != 1 {
		t.Fatalf("secrets %+v (definition has %d), want one %s mounted as POSTGRES_PASSWORD, mode 0440", refs, len(def.Secrets), want)
	}
	if env := envOf(def.Services["db"]); env["POSTGRES_PASSWORD_FILE"] != "/run/secrets/POSTGRES_PASSWORD" || env["POSTGRES_PASSWORD"] != "" {
		t.Errorf("db's environment: %v", env)
	}
}
