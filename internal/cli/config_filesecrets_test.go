package cli

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/startsvc/startsvc/internal/testenv"
)

// TestConfigShowsFileSecrets is issue 12's third acceptance: on a copy of
// the shipped stack with an init-generated .env, `config --profile cpu`
// shows the keys file-secrets.yml delivers as files — postgres, n8n,
// neo4j, minio, infisical-db — each with its <KEY>_FILE path and its
// secret, and no such key in the service's environment; no secret value.
func TestConfigShowsFileSecrets(t *testing.T) {
	testenv.RequireDocker(t)
	dir := shippedStack(t)
	if r := invoke(t, dir, nil, "init"); r.code != 0 {
		t.Fatalf("init: exit %d\n%s", r.code, r.stderr)
	}
	hidden := envSecrets(t, filepath.Join(dir, ".env"))
	r := invoke(t, dir, nil, "config", "--profile", "cpu", "--format", "json")
	if r.code != 0 {
		t.Fatalf("config: exit %d\n%s", r.code, r.stderr)
	}
	assertHidden(t, r.stdout+r.stderr, hidden)
	var cfg struct {
		Services map[string]struct {
			Environment map[string]*string `json:"environment"`
			Secrets     []struct {
				Source string `json:"source"`
				Target string `json:"target"`
			} `json:"secrets"`
		} `json:"services"`
		Secrets map[string]struct {
			Environment string `json:"environment"`
		} `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &cfg); err != nil {
		t.Fatalf("config --format json: %v", err)
	}
	want := map[string][]string{
		"postgres":     {"POSTGRES_PASSWORD"},
		"infisical-db": {"POSTGRES_PASSWORD"},
		"n8n":          {"DB_POSTGRESDB_PASSWORD", "N8N_ENCRYPTION_KEY", "N8N_USER_MANAGEMENT_JWT_SECRET"},
		"neo4j":        {"NEO4J_AUTH"},
		"minio":        {"MINIO_ROOT_PASSWORD"},
	}
	shown := 0
	for svc, keys := range want {
		s, ok := cfg.Services[svc]
		if !ok {
			t.Errorf("config --profile cpu has no service %s", svc)
			continue
		}
		for _, k := range keys {
			if _, ok := s.Environment[k]; ok {
				t.Errorf("%s: %s is still in the environment", svc, k)
			}
			if p := s.Environment[k+"_FILE"]; p == nil || *p != "/run/secrets/"+k {
				t.Errorf("%s: %s_FILE is not /run/secrets/%s", svc, k, k)
			}
			found := false
			for _, sec := range s.Secrets {
				if sec.Target == k && cfg.Secrets[sec.Source].Environment == sec.Source {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no secret mounted as %s, sourced from startsvc's variable", svc, k)
			} else {
				shown++
			}
		}
	}
	t.Logf("config --profile cpu: %d keys of %d services delivered as files, none left in their environment", shown, len(want))
}
