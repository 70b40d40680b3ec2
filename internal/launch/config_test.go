package launch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/secrets"
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

// assertHidden fails when one of values appears in text; the failure names
// the key, never the value.
func assertHidden(t *testing.T, text string, values map[string]string) {
	t.Helper()
	for k, v := range values {
		if len(v) >= secrets.MinMasked && strings.Contains(text, v) {
			t.Errorf("the value of %s appears in the output", k)
		}
	}
}
