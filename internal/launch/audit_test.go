package launch

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/stack"
)

// TestAuditRules: what counts as exposed, in a container and in the
// resolved configuration, and that no finding carries a value.
func TestAuditRules(t *testing.T) {
	values := map[string]string{"DB_PASSWORD": "db-pass-value", "API_TOKEN": "api-token-value", "FLOWISE_PASSWORD": "flowise-pass"}
	known := secretSet{}
	for k, v := range values {
		known.add(k, v)
	}
	known.add("SHORT", "abc") // too short to look for
	r := rules{
		files:   stack.FileSecrets{"app": {{Key: "DB_PASSWORD", FileEnv: "DB_PASSWORD_FILE"}}},
		envOnly: stack.EnvOnly{"flowise": {"FLOWISE_PASSWORD"}},
	}
	c := containerView{
		Service: "app", Name: "demo-app-1",
		Env: []string{"DB_PASSWORD=stale-but-still-here", "DATABASE_URL=postgres://u:db-pass-value@db/x",
			"DB_PASSWORD_FILE=/run/secrets/DB_PASSWORD", "PLAIN=abc", "PATH=/bin"},
		Labels:      map[string]string{"proxy.auth": "admin:api-token-value", "api-token-value": "x", "plain": "y"},
		Entrypoint:  []string{"/app"},
		Cmd:         []string{"serve", "--token=api-token-value"},
		Healthcheck: []string{"CMD", "check", "db-pass-value"},
	}
	got := describe(auditContainer(c, known, r))
	want := []string{
		"EXPOSED Config.Env DB_PASSWORD [] file-secrets.yml delivers DB_PASSWORD as a file, but it is in the environment",
		"EXPOSED Config.Env DATABASE_URL [DB_PASSWORD] in the environment",
		"EXPOSED Config.Labels (a name holding a secret value) [API_TOKEN] no channel may carry a secret here",
		"EXPOSED Config.Labels proxy.auth [API_TOKEN] no channel may carry a secret here",
		"EXPOSED Config.Cmd [1] [API_TOKEN] on the command line",
		"EXPOSED Config.Healthcheck.Test [2] [DB_PASSWORD] no channel may carry a secret here",
	}
	compare(t, "container", got, want)

	flowise := containerView{Service: "flowise", Name: "demo-flowise-1", Env: []string{"FLOWISE_PASSWORD=flowise-pass", "OTHER=flowise-pass"}}
	compare(t, "env_only", describe(auditContainer(flowise, known, r)), []string{
		"accepted Config.Env FLOWISE_PASSWORD [FLOWISE_PASSWORD] kept in the environment on purpose",
		"EXPOSED Config.Env OTHER [FLOWISE_PASSWORD] in the environment",
	})

	svc := types.ServiceConfig{Name: "app"}
	svc.Image = "example/app"
	svc.Environment = types.MappingWithEquals{"DB_PASSWORD_FILE": ptr("/run/secrets/DB_PASSWORD"), "URL": ptr("x:db-pass-value")}
	svc.Labels = types.Labels{"note": "api-token-value"}
	svc.Command = types.ShellCommand{"run", "plain"}
	found, err := auditConfig("app", svc, known, r)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "config", describe(found), []string{
		"EXPOSED config environment.URL [DB_PASSWORD] in the environment",
		"EXPOSED config labels.note [API_TOKEN] no channel may carry a secret here",
	})

	all := append(auditContainer(c, known, r), found...)
	data, _ := json.Marshal(all)
	for k, v := range values {
		if strings.Contains(string(data), v) {
			t.Errorf("a finding shows the value of %s", k)
		}
	}
}

func describe(es []Exposure) []string {
	var out []string
	for _, e := range es {
		v := "accepted"
		if e.Exposed {
			v = "EXPOSED"
		}
		if e.Secrets == nil {
			e.Secrets = []string{}
		}
		out = append(out, fmt.Sprintf("%s %s %s %v %s", v, e.Place, e.Field, e.Secrets, e.Reason))
	}
	return out
}

// compare checks each finding starts with the wanted line, in order.
func compare(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d findings, want %d:\n%s", what, len(got), len(want), strings.Join(got, "\n"))
		return
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("%s finding %d:\n got %s\nwant %s…", what, i, got[i], want[i])
		}
	}
}
