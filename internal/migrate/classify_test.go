package migrate

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/template"
	"go.yaml.in/yaml/v4"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/envgen"
)

func TestClassify(t *testing.T) {
	const random = "f3a9c1e07b6d4a2e9c8b"
	cases := []struct {
		key, value string
		action     Action
		rule       string // a part of the rule's wording
	}{
		// Infisical's own settings stay, whatever they look like.
		{"INFISICAL_CLIENT_SECRET", random, Keep, "bootstrap"},
		{"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", random, Keep, "bootstrap"},
		{"INFISICAL_TOKEN", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln", Keep, "bootstrap"},
		{"INFISICAL_ENCRYPTION_KEY", random, Keep, "bootstrap"},
		{"INFISICAL_AUTH_SECRET", random, Keep, "bootstrap"},
		{"INFISICAL_POSTGRES_PASSWORD", random, Keep, "bootstrap"},
		{"INFISICAL_DB_URL", "postgres://u:" + random + "@db/x", Keep, "bootstrap"},
		{"INFISICAL_PROJECT_ID", random, Keep, "bootstrap"},
		{"INFISICAL_SITE_URL", "http://localhost:8010", Keep, "bootstrap"},
		// Session and compose settings.
		{"HOME", "/root", Keep, "session"},
		{"COMPOSE_PROJECT_NAME", "localai", Keep, "compose"},
		{"DOCKER_HOST", "unix:///var/run/docker.sock", Keep, "Docker"},
		// Empty values.
		{"OPENAI_API_KEY", "", Keep, "empty"},
		// Secret names.
		{"POSTGRES_PASSWORD", random, Move, "_PASSWORD"},
		{"DASHBOARD_PASSWORD", "12345678", Move, "_PASSWORD"},
		{"SMTP_PASS", "fake_mail_password", Move, "_PASS"},
		{"JWT_SECRET", random, Move, "_SECRET"},
		{"ANON_KEY", "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl", Move, ""},
		{"ENCRYPTION_KEY", random, Move, "_KEY"},
		{"LOGFLARE_PUBLIC_ACCESS_TOKEN", random, Move, "_TOKEN"},
		{"NEO4J_AUTH", "neo4j/" + random, Move, "_AUTH"},
		{"LANGFUSE_SALT", random, Move, "_SALT"},
		{"GITHUB_CLIENT_ID", "Iv1.8a61f9b3a7aba766", Move, "_CLIENT_ID"},
		{"S3_PROTOCOL_ACCESS_KEY_ID", random, Move, "_KEY_ID"},
		{"PASSWORD", "hunter22", Move, "name is PASSWORD"},
		{"SECRET_KEY_BASE", random, Move, "SECRET"},
		{"ENABLE_AUTH", "true", Keep, "flag"},
		{"TOKEN_TTL", "3600", Keep, "number"},
		{"PASSWORD_RESET_URL", "https://example.com/reset", Keep, "URL without credentials"},
		{"SECRETS_DIR", "/run/secrets", Keep, "file path"},
		// Credentials in values, whatever the name.
		{"DATABASE_URL", "postgres://app:" + random + "@db:5432/app", Move, "URL with a password"},
		{"REDIS_URL", "redis://:" + random + "@redis:6379/0", Move, "URL with a password"},
		{"ODD_URL", "postgres://u:p@ss@db:5432/x?sslmode=disable", Move, "URL with a password"},
		{"REPO", "https://ghp" + random + "@github.com/o/r.git", Move, "URL with a token"},
		{"CONN", "Server=db;Database=app;User Id=app;Password=" + random + ";", Move, "connection string"},
		{"PG_DSN", "host=db user=app password=" + random, Move, "connection string"},
		{"SUPABASE_SERVICE", "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZSJ9.c2lnbmF0dXJl", Move, "JWT"},
		{"TLS_PEM", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", Move, "private key"},
		// Names that only resemble a secret's.
		{"AUTH_MODE", "oauth", Keep, "does not look secret"},
		{"PROXY_BYPASS", "localhost,127.0.0.1", Keep, "does not look secret"},
		{"MYAPIKEY", random, Move, "looks random"},
		// Plain settings.
		{"POSTGRES_HOST", "db", Keep, "not a secret-looking name"},
		{"SMTP_HOST", "smtp.example.com", Keep, "hostname"},
		{"POSTGRES_PORT", "5432", Keep, "number"},
		{"INFISICAL_HOSTNAME", ":8009", Keep, "bootstrap"},
		{"KONG_HTTP_PORT", "8000:8000", Keep, "port"},
		{"SITE_URL", "http://localhost:3000", Keep, "URL without credentials"},
		{"DISABLE_SIGNUP", "false", Keep, "flag"},
		{"STUDIO_DEFAULT_ORGANIZATION", "Default Organization", Keep, "not a secret-looking name"},
		{"JWT_EXPIRY", "3600", Keep, "number"},
		{"SMTP_USER", "fake_mail_user", Keep, "not a secret-looking name"},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			d := Classify(c.key, c.value)
			if d.Action != c.action || !strings.Contains(d.Rule, c.rule) {
				t.Errorf("Classify(%s) = %s (%s), want %s (%s)", c.key, d.Action, d.Rule, c.action, c.rule)
			}
			if len(c.value) >= 4 && strings.Contains(d.Rule, c.value) {
				t.Errorf("the rule for %s holds its value", c.key)
			}
		})
	}
}

// TestShippedInfisicalStaysInEnv loads the shipped compose file and checks
// that every variable the in-stack Infisical and the services it depends on
// read stays in .env, whatever its value: Infisical needs them to start.
func TestShippedInfisicalStaysInEnv(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "compose", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	// The Infisical service and, transitively, what it depends on.
	todo, seen := []string{"infisical"}, map[string]bool{}
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if seen[name] {
			continue
		}
		svc, ok := file.Services[name]
		if !ok {
			t.Fatalf("the shipped compose file has no service %q", name)
		}
		seen[name] = true
		switch deps := svc["depends_on"].(type) {
		case map[string]any:
			for d := range deps {
				todo = append(todo, d)
			}
		case []any:
			for _, d := range deps {
				todo = append(todo, d.(string))
			}
		}
	}
	if !seen["infisical-db"] || !seen["infisical-redis"] {
		t.Fatalf("services walked: %v; want infisical with its database and cache", slices.Sorted(maps.Keys(seen)))
	}
	vars := map[string]bool{}
	for name := range seen {
		for v := range template.ExtractVariables(file.Services[name], template.DefaultPattern) {
			vars[v] = true
		}
	}
	for _, want := range []string{"INFISICAL_ENCRYPTION_KEY", "INFISICAL_AUTH_SECRET", "INFISICAL_POSTGRES_PASSWORD"} {
		if !vars[want] {
			t.Errorf("the walk did not find %s", want)
		}
	}
	// Every one stays, whatever its value looks like; --move is refused.
	for _, v := range slices.Sorted(maps.Keys(vars)) {
		for _, value := range []string{"f3a9c1e07b6d4a2e9c8b", "postgres://u:f3a9c1e07b6d@db/x", "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.c2ln"} {
			if d := Classify(v, value); d.Action != Keep {
				t.Errorf("%s, read by the in-stack Infisical, would move (%s)", v, d.Rule)
			}
		}
		src := []byte(v + "=f3a9c1e07b6d4a2e9c8b\n")
		if _, err := NewPlan(Input{Path: ".env", Data: src, Move: []string{v}}); err == nil {
			t.Errorf("--move %s is accepted", v)
		}
	}
}

// TestShippedEnvExample classifies the .env that init writes from the shipped
// .env.example: every secret init generates moves, except Infisical's own and
// the pooler's tenant id (an identifier), and the rewritten file keeps every
// other line and reads as before.
func TestShippedEnvExample(t *testing.T) {
	example, err := os.ReadFile(filepath.Join("..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	random := bytes.NewReader(bytes.Repeat([]byte("0123456789abcdefghij"), 4096))
	data, _, err := envgen.Generate(example, random, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(Input{Path: ".env", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) > 0 {
		t.Errorf("problems: %q", p.Problems)
	}
	actions := map[string]Action{}
	for _, e := range p.Entries {
		actions[e.Key] = e.Decision.Action
	}
	for _, k := range envgen.Keys() {
		want := Move
		if Bootstrap(k) || k == "POOLER_TENANT_ID" {
			want = Keep
		}
		if actions[k] != want {
			t.Errorf("%s: %s, want %s", k, actions[k], want)
		}
	}
	// Nothing else moves: the rest of the example is settings.
	generated := setOf(envgen.Keys()...)
	for k, a := range actions {
		if a == Move && !generated[k] && k != "SMTP_PASS" {
			t.Errorf("%s moves, but init does not generate it", k)
		}
	}
	// Comments and headings survive the rewrite.
	for _, line := range strings.Split(string(example), "\n") {
		if strings.HasPrefix(line, "#") && !bytes.Contains(p.Content, []byte(line)) {
			t.Errorf("comment %q is lost", line)
		}
	}
	kept, err := compose.ParseEnv(".env", p.Content, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range kept {
		if actions[k] == Move {
			t.Errorf("%s is still in the rewritten file", k)
		}
	}
}
