package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

func ptr(s string) *string { return &s }

// TestConfigMasksEverySecret checks the masking of a project by hand: values
// the redactor knows, alone or inside longer strings, in every part of the
// configuration; and secret-named values that reached a service's environment
// from outside the compose files.
func TestConfigMasksEverySecret(t *testing.T) {
	envFile := filepath.Join(t.TempDir(), "app.env")
	if err := os.WriteFile(envFile, []byte("APP_API_TOKEN=from-env-file-value\nAPP_MODE=fast\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hidden := map[string]string{
		"known":    "known-secret-value",
		"inURL":    "pa55w0rd-in-url",
		"env_file": "from-env-file-value",
		"shell":    "from-the-shell-value",
	}
	app := types.ServiceConfig{Name: "app"}
	app.Image = "example/app"
	app.Environment = types.MappingWithEquals{
		"PLAIN":         ptr("plain-setting"),
		"DB_URL":        ptr("postgres://app:pa55w0rd-in-url@db/app"),
		"KNOWN":         ptr("known-secret-value"),
		"SESSION_TOKEN": nil, // from the project's environment
	}
	app.EnvFiles = []types.EnvFile{{Path: envFile, Required: true}}
	app.Command = types.ShellCommand{"serve", "--token=known-secret-value"}
	app.Labels = types.Labels{"note": "uses known-secret-value"}
	p := &types.Project{
		Name:        "demo",
		Services:    types.Services{"app": app},
		Extensions:  types.Extensions{"x-required": map[string]any{"KEY": "known-secret-value", "NESTED": []any{"pa55w0rd-in-url"}}},
		Environment: types.Mapping{"SESSION_TOKEN": "from-the-shell-value"},
	}
	red := secrets.NewRedactor("known-secret-value", "pa55w0rd-in-url")
	got, err := resolvedConfig(p, red)
	if err != nil {
		t.Fatal(err)
	}
	yml, err := got.MarshalYAML()
	if err != nil {
		t.Fatal(err)
	}
	js, err := got.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(yml), string(js)} {
		assertHidden(t, out, hidden)
		for _, want := range []string{"plain-setting", "postgres://app:" + secrets.Mask + "@db/app", "APP_MODE", "fast", "--token=" + secrets.Mask} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}
}

func TestConfigFormatIsChecked(t *testing.T) {
	r := invoke(t, t.TempDir(), nil, "config", "--format", "toml")
	if r.code != exitcode.Usage || !strings.Contains(r.stderr, "want yaml or json") {
		t.Fatalf("exit %d, %s", r.code, r.stderr)
	}
}

// TestConfigAcceptance is issue 5's first acceptance: in a copy of the
// repository with the Supabase stand-in, init writes a 0600 .env with
// generated secrets; config shows the profile's Ollama and no other, ports on
// 127.0.0.1 except Caddy's in private, only Caddy's in public; no secret
// value of the generated .env appears.
func TestConfigAcceptance(t *testing.T) {
	testenv.RequireDocker(t)
	dir := shippedStack(t)
	if r := invoke(t, dir, nil, "init"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	envPath := filepath.Join(dir, ".env")
	if m := mode(t, envPath); m != 0o600 {
		t.Fatalf(".env has mode %04o", m)
	}
	hidden := envSecrets(t, envPath)
	if len(hidden) < 20 {
		t.Fatalf("only %d secrets in the generated .env", len(hidden))
	}

	cases := []struct {
		profile, environment string
		ollama, notOllama    string
		onlyCaddy            bool
	}{
		{"cpu", "private", "ollama-cpu", "ollama-gpu", false},
		{"cpu", "public", "ollama-cpu", "ollama-gpu", true},
		{"gpu-nvidia", "private", "ollama-gpu", "ollama-cpu", false},
		{"gpu-nvidia", "public", "ollama-gpu", "ollama-gpu-amd", true},
	}
	for _, tc := range cases {
		t.Run(tc.profile+" "+tc.environment, func(t *testing.T) {
			r := invoke(t, dir, nil, "config", "--profile", tc.profile, "--environment", tc.environment, "--format", "json")
			if r.code != 0 {
				t.Fatalf("config: exit %d\n%s", r.code, r.stderr)
			}
			assertHidden(t, r.stdout+r.stderr, hidden)
			var cfg struct {
				Services map[string]struct {
					Ports []struct {
						HostIP    string `json:"host_ip"`
						Published string `json:"published"`
					} `json:"ports"`
					Environment map[string]*string `json:"environment"`
				} `json:"services"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &cfg); err != nil {
				t.Fatalf("config --format json: %v", err)
			}
			if _, ok := cfg.Services[tc.ollama]; !ok {
				t.Errorf("%s is missing", tc.ollama)
			}
			if _, ok := cfg.Services[tc.notOllama]; ok {
				t.Errorf("%s is there", tc.notOllama)
			}
			published := 0
			for name, s := range cfg.Services {
				for _, p := range s.Ports {
					if p.Published == "" {
						continue
					}
					published++
					switch {
					case name == "caddy" && p.HostIP != "" && p.HostIP != "0.0.0.0":
						t.Errorf("caddy publishes %s on %s, want every interface", p.Published, p.HostIP)
					case name != "caddy" && tc.onlyCaddy:
						t.Errorf("%s publishes %s in %s", name, p.Published, tc.environment)
					case name != "caddy" && p.HostIP != "127.0.0.1":
						t.Errorf("%s publishes %s on %q, want 127.0.0.1", name, p.Published, p.HostIP)
					}
				}
			}
			if tc.onlyCaddy && published != 2 || !tc.onlyCaddy && published < 20 {
				t.Errorf("%d published ports", published)
			}
			// A secret inside a longer value is masked where it sits.
			if url := cfg.Services["auth"].Environment["GOTRUE_DB_DATABASE_URL"]; url == nil || !strings.Contains(*url, ":"+secrets.Mask+"@") {
				t.Errorf("auth's database URL is not masked in place")
			}

			// The default format shows the same, as YAML.
			r = invoke(t, dir, nil, "config", "--profile", tc.profile, "--environment", tc.environment)
			if r.code != 0 || !strings.Contains(r.stdout, "\n  "+tc.ollama+":\n") || strings.Contains(r.stdout, "\n  "+tc.notOllama+":\n") {
				t.Errorf("yaml: exit %d, %s", r.code, r.stderr)
			}
			assertHidden(t, r.stdout+r.stderr, hidden)
		})
	}
}
