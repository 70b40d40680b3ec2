package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

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
