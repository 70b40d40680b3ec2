package launch

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// quiet is a Reporter that keeps nothing.
type quiet struct{}

func (quiet) Step(string, ...any)      {}
func (quiet) Info(string, ...any)      {}
func (quiet) Warn(string, ...any)      {}
func (quiet) Detail(string, ...any)    {}
func (quiet) Success(string, ...any)   {}
func (quiet) Waiting([]string) Tracker { return nil }

var _ Reporter = quiet{}

// fileStack writes a stack directory with files (path -> content).
func fileStack(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadStack loads dir as Preflight does, without an Engine: compose
// reported as version, values supplied as if from .env, delivered via.
func loadStack(t *testing.T, dir string, version compose.Version, values map[string]string, via secrets.Via) (*Stack, error) {
	t.Helper()
	l := &Launcher{
		Env: Env{Dir: dir},
		Options: Options{Dir: dir, Project: "demo", Profile: "none", ProfileSet: true, Environment: "private",
			EnvFile: ".env", SecretsVia: string(via)},
		Report: quiet{}, Redactor: secrets.NewRedactor(),
	}
	s := &Stack{l: l, via: via, overlayFile: overlayFile{base: t.TempDir()}, envFile: filepath.Join(dir, ".env")}
	t.Cleanup(s.Close)
	var err error
	if s.Layout, err = stack.Open(dir, nil, "private"); err != nil {
		return nil, err
	}
	s.CLI = compose.CLI{Argv: []string{"docker", "compose"}, Version: version}
	s.resolved = secrets.Merge(values, nil)
	_ = s.setComposeEnv()
	return s, s.loadProject(context.Background(), Checks{}, false)
}

var v2403 = compose.Version{Major: 2, Minor: 40, Patch: 3}

const twoServices = `services:
  db:
    image: example/db
    environment:
      DB_PASSWORD: "${DB_USER}:${DB_PASSWORD}"
      PLAIN: plain
  app:
    image: example/app
    user: "1000:1000"
    environment:
      API_TOKEN: ${API_TOKEN}
`

// TestFileSecretsOverlay: a declared key leaves the service's environment,
// its file variable names /run/secrets/<KEY>, a compose secret sourced from a
// variable of startsvc's carries the key's resolved value (two variables
// interpolated), owner and mode as declared; the overlay on disk holds no
// value, and the value reaches compose only with the other supplied values.
func TestFileSecretsOverlay(t *testing.T) {
	values := map[string]string{"DB_USER": "admin", "DB_PASSWORD": `pa$word "q" \n`, "API_TOKEN": "token-value-1"}
	for _, via := range []secrets.Via{secrets.ViaFile, secrets.ViaEnv} {
		t.Run(string(via), func(t *testing.T) {
			dir := fileStack(t, map[string]string{
				stack.BaseFile:        twoServices,
				stack.FileSecretsFile: "services:\n  db: [{key: DB_PASSWORD, uid: \"70\", gid: \"70\", mode: 0400}]\n  app: [API_TOKEN]\n",
			})
			s, err := loadStack(t, dir, v2403, values, via)
			if err != nil {
				t.Fatal(err)
			}
			db := s.Project.Services["db"]
			if _, ok := db.Environment["DB_PASSWORD"]; ok {
				t.Errorf("DB_PASSWORD is still in db's environment")
			}
			if p := db.Environment["DB_PASSWORD_FILE"]; p == nil || *p != "/run/secrets/DB_PASSWORD" {
				t.Errorf("DB_PASSWORD_FILE is %v", p)
			}
			if v := db.Environment["PLAIN"]; v == nil || *v != "plain" {
				t.Errorf("PLAIN lost: %v", v)
			}
			if len(db.Secrets) != 1 || db.Secrets[0].Target != "DB_PASSWORD" || db.Secrets[0].UID != "70" ||
				db.Secrets[0].Mode == nil || *db.Secrets[0].Mode != 0o400 {
				t.Errorf("db's secrets: %+v", db.Secrets)
			}
			variable := db.Secrets[0].Source
			if variable != "STARTSVC_FILE_DB_DB_PASSWORD" || s.Project.Secrets[variable].Environment != variable {
				t.Errorf("db's secret %q is sourced from %q", variable, s.Project.Secrets[variable].Environment)
			}
			if got := s.fileValues[variable]; got != "admin:"+values["DB_PASSWORD"] {
				t.Errorf("the file variable carries %d bytes, want the resolved value", len(got))
			}
			if app := s.Project.Services["app"]; app.Environment["API_TOKEN"] != nil || len(app.Secrets) != 1 {
				t.Errorf("app keeps API_TOKEN or lacks its secret: %+v", app.Secrets)
			}

			data, err := os.ReadFile(s.overlayPath)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range values {
				if strings.Contains(string(data), v) {
					t.Errorf("the overlay on disk holds the value of %s", k)
				}
			}
			if !strings.Contains(string(data), "DB_PASSWORD: !reset") {
				t.Errorf("the overlay does not remove DB_PASSWORD:\n%s", data)
			}
			env := secrets.EnvMap(s.composeEnv)
			_, inEnv := env[variable]
			if inEnv != (via == secrets.ViaEnv) {
				t.Errorf("via %s: the file variable in compose's environment: %v", via, inEnv)
			}
			if s.supplied()[variable] != s.fileValues[variable] || s.Values()[variable] != "" {
				t.Errorf("the file variable must be supplied to compose, and only to compose")
			}
			if s.l.Redactor.String(s.fileValues[variable]) != secrets.Mask {
				t.Errorf("the file-delivered value is not masked")
			}
		})
	}
}

func TestFileSecretsRefused(t *testing.T) {
	cases := []struct {
		name    string
		files   map[string]string
		version compose.Version
		code    int
		want    []string
	}{
		{name: "not in environment", code: exitcode.Usage, version: v2403,
			files: map[string]string{stack.BaseFile: twoServices, stack.FileSecretsFile: "services:\n  app: [DB_PASSWORD]\n"},
			want:  []string{stack.FileSecretsFile, "service app", "DB_PASSWORD", "environment: section"}},
		{name: "unknown service", code: exitcode.Usage, version: v2403,
			files: map[string]string{stack.BaseFile: twoServices, stack.FileSecretsFile: "services:\n  ghost: [A]\n"},
			want:  []string{"ghost"}},
		{name: "list environment", code: exitcode.Usage, version: v2403,
			files: map[string]string{
				stack.BaseFile:        "services:\n  app:\n    image: x\n    environment:\n      - API_TOKEN=${API_TOKEN}\n",
				stack.FileSecretsFile: "services:\n  app: [API_TOKEN]\n"},
			want: []string{"cannot remove API_TOKEN", "mapping", "list"}},
		{name: "environment in two files", code: exitcode.Usage, version: v2403,
			files: map[string]string{
				stack.BaseFile: "services:\n  app:\n    image: x\n    environment:\n      API_TOKEN: ${API_TOKEN}\n",
				"compose/docker-compose.override.private.yml": "services:\n  app:\n    environment:\n      OTHER: x\n",
				stack.FileSecretsFile:                         "services:\n  app: [API_TOKEN]\n"},
			want: []string{"cannot remove API_TOKEN", "more than one file"}},
		{name: "env_file sets it too", code: exitcode.Usage, version: v2403,
			files: map[string]string{
				stack.BaseFile:        "services:\n  app:\n    image: x\n    env_file: [app.env]\n    environment:\n      API_TOKEN: ${API_TOKEN}\n",
				"app.env":             "API_TOKEN=from-the-env-file\n",
				stack.FileSecretsFile: "services:\n  app: [API_TOKEN]\n"},
			want: []string{"env_file app.env sets API_TOKEN too"}},
		{name: "file variable set by the service", code: exitcode.Usage, version: v2403,
			files: map[string]string{
				stack.BaseFile:        "services:\n  app:\n    image: x\n    environment:\n      API_TOKEN: ${API_TOKEN}\n      API_TOKEN_FILE: /elsewhere\n",
				stack.FileSecretsFile: "services:\n  app: [API_TOKEN]\n"},
			want: []string{"sets API_TOKEN_FILE itself"}},
		{name: "compose too old", code: exitcode.Unavailable, version: compose.Version{Major: 2, Minor: 24, Patch: 3},
			files: map[string]string{stack.BaseFile: twoServices, stack.FileSecretsFile: "services:\n  app: [API_TOKEN]\n"},
			want:  []string{"needs compose >= 2.24.4", "2.19.0", "docker compose is 2.24.3", "upgrade the Docker Compose plugin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			values := map[string]string{"API_TOKEN": "token-value-1", "DB_PASSWORD": "db-password-1"}
			_, err := loadStack(t, fileStack(t, tc.files), tc.version, values, secrets.ViaFile)
			if code := exitcode.Of(context.Background(), err); code != tc.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			for k, v := range values {
				if strings.Contains(err.Error(), v) {
					t.Errorf("the error shows the value of %s", k)
				}
			}
		})
	}
	// An old compose is fine for a stack that declares nothing.
	dir := fileStack(t, map[string]string{stack.BaseFile: twoServices})
	if _, err := loadStack(t, dir, compose.Version{Major: 2, Minor: 18}, nil, secrets.ViaFile); err != nil {
		t.Errorf("without file-secrets.yml compose 2.18 must do: %v", err)
	}
}

// fakeFiles serves a container's files from memory: container ID -> path ->
// content; a missing path is docker.ErrNoFile.
type fakeFiles struct {
	files map[string]map[string]string
	reads int
}

var _ fileReader = (*fakeFiles)(nil)

func (f *fakeFiles) ReadFile(_ context.Context, id, path string, limit int64) ([]byte, error) {
	f.reads++
	data, ok := f.files[id][path]
	switch {
	case !ok:
		return nil, docker.ErrNoFile
	case int64(len(data)) > limit:
		return nil, docker.ErrFileTooLarge
	}
	return []byte(data), nil
}

// TestDecideComparesFileSecrets: the configuration hash leaves a file
// secret's content out, so with equal hashes decide reads the file from the
// container: the same value keeps the service, a different, longer or
// missing one recreates it, naming the key and the variable, never a value.
func TestDecideComparesFileSecrets(t *testing.T) {
	dir := fileStack(t, map[string]string{
		stack.BaseFile:        twoServices,
		stack.FileSecretsFile: "services:\n  app: [API_TOKEN]\n",
	})
	s, err := loadStack(t, dir, v2403, map[string]string{"API_TOKEN": "token-value-1"}, secrets.ViaFile)
	if err != nil {
		t.Fatal(err)
	}
	s.resolved.Origin["API_TOKEN"] = secrets.FromEnvFile
	w := s.wanted["app"]
	w.svc.Image = "" // no image to compare: no Engine here
	running := func() []docker.Container {
		return []docker.Container{{ID: "c1", Name: "demo-app-1", Service: "app", State: "running",
			Labels: map[string]string{LabelConfigHash: w.hash}}}
	}
	cases := []struct {
		name    string
		content *string
		action  Action
		reason  string
	}{
		{"same value", ptr("token-value-1"), Keep, "unchanged"},
		{"other value", ptr("token-value-2"), Recreate, "file secret API_TOKEN changed"},
		{"longer value", ptr("token-value-1-and-more"), Recreate, "file secret API_TOKEN changed"},
		{"no file", nil, Recreate, "file secret API_TOKEN missing in the container"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeFiles{files: map[string]map[string]string{"c1": {}}}
			if tc.content != nil {
				fake.files["c1"]["/run/secrets/API_TOKEN"] = *tc.content
			}
			s.files = fake
			ch, err := s.decide(context.Background(), "app", w, running(), false, map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if ch.Action != tc.action || strings.Join(ch.Reasons, ";") != tc.reason {
				t.Errorf("%s: %s, want %s: %s", ch.Action, ch.Reasons, tc.action, tc.reason)
			}
			if fake.reads != 1 {
				t.Errorf("%d reads, want 1", fake.reads)
			}
			if tc.action == Recreate && (len(ch.Variables) != 1 || ch.Variables[0] != (Variable{Name: "API_TOKEN", Source: ".env"})) {
				t.Errorf("variables %+v, want API_TOKEN from .env", ch.Variables)
			}
			data, _ := json.Marshal(ch)
			for _, v := range []string{"token-value-1", "token-value-2"} {
				if strings.Contains(string(data), v) {
					t.Errorf("the change shows a value")
				}
			}
		})
	}

	// A service without file secrets is never read; a failing read is an
	// Engine problem (exit 3).
	fake := &fakeFiles{}
	s.files = fake
	db := s.wanted["db"]
	db.svc.Image = ""
	if _, err := s.decide(context.Background(), "db", db, []docker.Container{{ID: "c2", State: "running",
		Labels: map[string]string{LabelConfigHash: db.hash}}}, false, nil); err != nil || fake.reads != 0 {
		t.Errorf("db without file secrets: %d reads, %v", fake.reads, err)
	}
	s.files = failing{}
	_, err = s.decide(context.Background(), "app", w, running(), false, nil)
	if exitcode.Of(context.Background(), err) != exitcode.Unavailable {
		t.Errorf("a failing read: %v, want exit 3", err)
	}
}

type failing struct{}

func (failing) ReadFile(context.Context, string, string, int64) ([]byte, error) {
	return nil, errors.New("connection refused")
}

func TestFileVariableNames(t *testing.T) {
	used := map[string]bool{}
	a := uniqueName(fileVariable("a-b", "KEY"), used)
	b := uniqueName(fileVariable("a_b", "KEY"), used)
	c := uniqueName(fileVariable("n8n.web", "db_password"), used)
	if a != "STARTSVC_FILE_A_B_KEY" || b != "STARTSVC_FILE_A_B_KEY_2" || c != "STARTSVC_FILE_N8N_WEB_DB_PASSWORD" {
		t.Errorf("names %s, %s, %s", a, b, c)
	}
}

// TestEarlyStageFileSecretNeedsARealValue: a service that starts before the
// secrets are fetched may not take, as a file, a value that only Infisical
// could supply — the key has left its environment, so the stand-in would
// hide in the file.
func TestEarlyStageFileSecretNeedsARealValue(t *testing.T) {
	dir := fileStack(t, map[string]string{
		stack.BaseFile: "services:\n  vault:\n    image: x\n    environment:\n      VAULT_PASSWORD: \"${VAULT_PASSWORD:?}\"\n" +
			"  app:\n    image: x\n",
		stack.FileSecretsFile: "services:\n  vault: [VAULT_PASSWORD]\n",
		stack.StagesFile:      "stages:\n  - name: secrets\n    services: [vault]\n    fetch_secrets: true\n  - name: apps\n    services: [\"*\"]\n",
	})
	l := &Launcher{
		Env:     Env{Dir: dir},
		Options: Options{Dir: dir, Project: "demo", Profile: "none", ProfileSet: true, Environment: "private", EnvFile: ".env", SecretsVia: "file"},
		Report:  quiet{}, Redactor: secrets.NewRedactor(),
	}
	s := &Stack{l: l, via: secrets.ViaFile, overlayFile: overlayFile{base: t.TempDir()}, envFile: filepath.Join(dir, ".env")}
	t.Cleanup(s.Close)
	var err error
	if s.Layout, err = stack.Open(dir, nil, "private"); err != nil {
		t.Fatal(err)
	}
	s.CLI = compose.CLI{Argv: []string{"docker", "compose"}, Version: v2403}
	s.resolved = secrets.Merge(nil, nil)
	_ = s.setComposeEnv()
	if err := s.loadProject(context.Background(), Checks{}, true); err != nil {
		t.Fatal(err)
	}
	if err := s.planStages(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Project.Services["vault"].Environment["VAULT_PASSWORD"]; ok {
		t.Fatal("VAULT_PASSWORD is still in vault's environment")
	}
	err = s.checkEarlyStages()
	if exitcode.Of(context.Background(), err) != exitcode.Usage || !strings.Contains(err.Error(), "service vault starts in stage \"secrets\"") ||
		!strings.Contains(err.Error(), "VAULT_PASSWORD") {
		t.Errorf("checkEarlyStages: %v", err)
	}
}
