package infisical_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical"
)

// TestEnvFileSettings: Infisical's settings in the stack's env file configure
// every command; the environment wins, a setting at a time, so that a client
// id is never paired with a secret from elsewhere; a missing or broken file
// adds nothing.
func TestEnvFileSettings(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	file := "INFISICAL_API_URL=http://localhost:8010\nINFISICAL_PROJECT_ID=proj-file\n" +
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=id-file\nINFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=\"secret-${SUFFIX}\"\nOTHER=x\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                  string
		env                   map[string]string
		site, project, id, cs string
	}{
		{"file alone", map[string]string{"SUFFIX": "shell"}, "http://localhost:8010", "proj-file", "id-file", "secret-shell"},
		{"environment URL and project win", map[string]string{"INFISICAL_DOMAIN": "https://vault.example.com", "INFISICAL_PROJECT_ID": "proj-env", "SUFFIX": "x"},
			"https://vault.example.com", "proj-env", "id-file", "secret-x"},
		{"credentials from the environment win whole", map[string]string{"INFISICAL_CLIENT_ID": "id-env", "INFISICAL_CLIENT_SECRET": "secret-env", "SUFFIX": "x"},
			"http://localhost:8010", "proj-file", "id-env", "secret-env"},
	} {
		t.Run(c.name, func(t *testing.T) {
			getenv := func(k string) string { return c.env[k] }
			s, err := infisical.ResolveSettings(infisical.FlagValues{}, infisical.EnvFileGetenv(getenv, path), dir)
			if err != nil {
				t.Fatal(err)
			}
			if s.SiteURL != c.site || s.ProjectID != c.project || string(s.ClientID) != c.id || string(s.ClientSecret) != c.cs {
				t.Errorf("got site %s, project %s, client id %s, secret of %d bytes; want %s, %s, %s, %d bytes",
					s.SiteURL, s.ProjectID, s.ClientID, len(s.ClientSecret), c.site, c.project, c.id, len(c.cs))
			}
		})
	}
	none := func(string) string { return "" }
	for name, p := range map[string]string{"missing": filepath.Join(dir, "nope"), "broken": writeBroken(t, dir)} {
		s, err := infisical.ResolveSettings(infisical.FlagValues{}, infisical.EnvFileGetenv(none, p), dir)
		if err != nil || s.Configured() || s.Origin.URL != infisical.OriginDefault {
			t.Errorf("%s file: %+v, %v; want nothing from it", name, s.Origin, err)
		}
	}
}

func writeBroken(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "broken.env")
	if err := os.WriteFile(p, []byte("INFISICAL_API_URL=\"http://unclosed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
