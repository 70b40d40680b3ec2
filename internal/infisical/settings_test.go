package infisical_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical"
)

// writeConfig writes .infisical.json into dir.
func writeConfig(t *testing.T, dir, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, infisical.ConfigFileName), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveSettingsPrecedence(t *testing.T) {
	const config = `{"workspaceId":"proj-from-file","defaultEnvironment":"staging",
		"gitBranchToEnvironmentMapping":{"main":"prod"},"domain":"https://file.example/api"}`
	for _, tc := range []struct {
		name    string
		flags   infisical.FlagValues
		env     map[string]string
		config  string // in the parent of the directory resolved from; "" for none
		want    infisical.Settings
		origins infisical.Origins
	}{
		{
			name:    "defaults",
			want:    infisical.Settings{SiteURL: "https://app.infisical.com", Environment: "dev", SecretPath: "/"},
			origins: infisical.Origins{URL: "default", Environment: "default", SecretPath: "default"},
		},
		{
			name:   "config file found upwards",
			config: config,
			want:   infisical.Settings{SiteURL: "https://file.example", ProjectID: "proj-from-file", Environment: "staging", SecretPath: "/"},
		},
		{
			name:    "environment over config file",
			config:  config,
			env:     map[string]string{"INFISICAL_API_URL": "https://env.example/api/", "INFISICAL_PROJECT_ID": "proj-from-env"},
			want:    infisical.Settings{SiteURL: "https://env.example", ProjectID: "proj-from-env", Environment: "staging", SecretPath: "/"},
			origins: infisical.Origins{URL: "INFISICAL_API_URL", Project: "INFISICAL_PROJECT_ID"},
		},
		{
			name: "INFISICAL_DOMAIN before INFISICAL_API_URL, as the Infisical CLI reads them",
			env:  map[string]string{"INFISICAL_API_URL": "https://api-url.example", "INFISICAL_DOMAIN": "https://domain.example"},
			want: infisical.Settings{SiteURL: "https://domain.example", Environment: "dev", SecretPath: "/"},
		},
		{
			name:   "flags over everything",
			config: config,
			flags: infisical.FlagValues{URL: "http://flag.example:8080/api", ProjectID: "proj-from-flag",
				Environment: "prod", SecretPath: "apps/web/", Recursive: true},
			env:     map[string]string{"INFISICAL_API_URL": "https://env.example", "INFISICAL_PROJECT_ID": "proj-from-env"},
			want:    infisical.Settings{SiteURL: "http://flag.example:8080", ProjectID: "proj-from-flag", Environment: "prod", SecretPath: "/apps/web", Recursive: true},
			origins: infisical.Origins{URL: "--infisical-url", Project: "--infisical-project", Environment: "--infisical-env", SecretPath: "--secret-path"},
		},
		{
			name: "a token wins over client credentials",
			env: map[string]string{"INFISICAL_TOKEN": "tok-plain", "INFISICAL_UNIVERSAL_AUTH_ACCESS_TOKEN": "tok-ua",
				"INFISICAL_CLIENT_ID": "id", "INFISICAL_CLIENT_SECRET": "secret", "INFISICAL_PROJECT_ID": "p"},
			want:    infisical.Settings{SiteURL: "https://app.infisical.com", ProjectID: "p", Environment: "dev", SecretPath: "/", Token: "tok-ua"},
			origins: infisical.Origins{Credentials: "INFISICAL_UNIVERSAL_AUTH_ACCESS_TOKEN"},
		},
		{
			name: "official client id spelling first",
			env: map[string]string{"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "ua-id", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "ua-secret",
				"INFISICAL_CLIENT_ID": "id", "INFISICAL_CLIENT_SECRET": "secret", "INFISICAL_PROJECT_ID": "p"},
			want: infisical.Settings{SiteURL: "https://app.infisical.com", ProjectID: "p", Environment: "dev", SecretPath: "/",
				ClientID: "ua-id", ClientSecret: "ua-secret"},
		},
		{
			name: "INFISICAL_CLIENT_ID pair",
			env:  map[string]string{"INFISICAL_CLIENT_ID": "id", "INFISICAL_CLIENT_SECRET": "secret", "INFISICAL_PROJECT_ID": "p"},
			want: infisical.Settings{SiteURL: "https://app.infisical.com", ProjectID: "p", Environment: "dev", SecretPath: "/",
				ClientID: "id", ClientSecret: "secret"},
		},
		{
			name: "the misspelt machine identity pair",
			env: map[string]string{"INFISICAL_MACHINE_INDENTITY_CLIENT_ID": "mi-id", "INFISICAL_MACHINE_INDENTITY_CLIENT_SECRET": "mi-secret",
				"INFISICAL_PROJECT_ID": "p"},
			want: infisical.Settings{SiteURL: "https://app.infisical.com", ProjectID: "p", Environment: "dev", SecretPath: "/",
				ClientID: "mi-id", ClientSecret: "mi-secret"},
			origins: infisical.Origins{Credentials: "INFISICAL_MACHINE_INDENTITY_CLIENT_ID and INFISICAL_MACHINE_INDENTITY_CLIENT_SECRET"},
		},
		{
			name: "a service token needs no project",
			env:  map[string]string{"INFISICAL_TOKEN": "st.abc123.def456.ghi789"},
			want: infisical.Settings{SiteURL: "https://app.infisical.com", Environment: "dev", SecretPath: "/", Token: "st.abc123.def456.ghi789"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "stack", "sub")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.config != "" {
				writeConfig(t, parent, tc.config)
			}
			got, err := infisical.ResolveSettings(tc.flags, mapEnv(tc.env), dir)
			if err != nil {
				t.Fatalf("ResolveSettings: %v", err)
			}
			if got.SiteURL != tc.want.SiteURL || got.ProjectID != tc.want.ProjectID || got.Environment != tc.want.Environment ||
				got.SecretPath != tc.want.SecretPath || got.Recursive != tc.want.Recursive {
				t.Errorf("got site %q project %q env %q path %q recursive %v\nwant site %q project %q env %q path %q recursive %v",
					got.SiteURL, got.ProjectID, got.Environment, got.SecretPath, got.Recursive,
					tc.want.SiteURL, tc.want.ProjectID, tc.want.Environment, tc.want.SecretPath, tc.want.Recursive)
			}
			if got.Token != tc.want.Token || got.ClientID != tc.want.ClientID || got.ClientSecret != tc.want.ClientSecret {
				t.Errorf("credentials differ (token %v, client id %v, client secret %v)",
					got.Token == tc.want.Token, got.ClientID == tc.want.ClientID, got.ClientSecret == tc.want.ClientSecret)
			}
			for field, pair := range map[string][2]string{
				"URL": {got.Origin.URL, tc.origins.URL}, "Project": {got.Origin.Project, tc.origins.Project},
				"Environment": {got.Origin.Environment, tc.origins.Environment}, "SecretPath": {got.Origin.SecretPath, tc.origins.SecretPath},
				"Credentials": {got.Origin.Credentials, tc.origins.Credentials},
			} {
				if pair[1] != "" && pair[0] != pair[1] {
					t.Errorf("origin of %s = %q, want %q", field, pair[0], pair[1])
				}
			}
			if tc.config != "" && got.ConfigFile != filepath.Join(parent, infisical.ConfigFileName) {
				t.Errorf("ConfigFile = %q", got.ConfigFile)
			}
		})
	}
}

func TestResolveSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flags  infisical.FlagValues
		env    map[string]string
		config string
		want   string // in the error
	}{
		{name: "not a URL scheme", flags: infisical.FlagValues{URL: "ftp://infisical.example"}, want: "--infisical-url"},
		{name: "no scheme", env: map[string]string{"INFISICAL_API_URL": "infisical.example"}, want: "INFISICAL_API_URL"},
		{name: "credentials in the URL", flags: infisical.FlagValues{URL: "https://user:pw@infisical.example"}, want: "scheme, host and path"},
		{name: "client id without secret", env: map[string]string{"INFISICAL_CLIENT_ID": "id", "INFISICAL_PROJECT_ID": "p"},
			want: "INFISICAL_CLIENT_ID is set but INFISICAL_CLIENT_SECRET is not"},
		{name: "client secret without id", env: map[string]string{"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "s", "INFISICAL_PROJECT_ID": "p"},
			want: "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET is set but INFISICAL_UNIVERSAL_AUTH_CLIENT_ID is not"},
		{name: "malformed service token", env: map[string]string{"INFISICAL_TOKEN": "st.only.three"}, want: "st.<id>.<secret>.<key>"},
		{name: "credentials without a project", env: map[string]string{"INFISICAL_CLIENT_ID": "id", "INFISICAL_CLIENT_SECRET": "s"},
			want: "no project"},
		{name: "config file not JSON", config: `{"workspaceId": nope}`, want: infisical.ConfigFileName},
		{name: "bad domain in config file", config: `{"domain":"infisical.example"}`, want: "(domain)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.config != "" {
				writeConfig(t, dir, tc.config)
			}
			_, err := infisical.ResolveSettings(tc.flags, mapEnv(tc.env), dir)
			if err == nil {
				t.Fatal("no error")
			}
			if infisical.KindOf(err) != infisical.Invalid {
				t.Errorf("kind %v, want Invalid", infisical.KindOf(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for _, secret := range []string{"st.only.three", "pw@"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a credential", err)
				}
			}
		})
	}
}

func TestNormalizeSiteURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://app.infisical.com":            "https://app.infisical.com",
		"https://app.infisical.com/":           "https://app.infisical.com",
		"https://app.infisical.com/api":        "https://app.infisical.com",
		"https://app.infisical.com/api/":       "https://app.infisical.com",
		" http://127.0.0.1:8080/api ":          "http://127.0.0.1:8080",
		"https://corp.example/infisical/api":   "https://corp.example/infisical",
		"https://corp.example/infisical/":      "https://corp.example/infisical",
		"https://corp.example/apis":            "https://corp.example/apis",
		"https://corp.example/infisical/api//": "https://corp.example/infisical",
	} {
		got, err := infisical.NormalizeSiteURL(in)
		if err != nil || got != want {
			t.Errorf("NormalizeSiteURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestConfigured(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want infisical.AuthMethod
	}{
		{"nothing", nil, infisical.AuthNone},
		{"access token", map[string]string{"INFISICAL_TOKEN": "eyJx.y.z", "INFISICAL_PROJECT_ID": "p"}, infisical.AuthAccessToken},
		{"service token", map[string]string{"INFISICAL_TOKEN": "st.a.b.c"}, infisical.AuthServiceToken},
		{"universal auth", universalAuth(), infisical.AuthUniversal},
		{"project alone", map[string]string{"INFISICAL_PROJECT_ID": "p"}, infisical.AuthNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := infisical.ResolveSettings(infisical.FlagValues{}, mapEnv(tc.env), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Auth(); got != tc.want {
				t.Errorf("Auth() = %q, want %q", got, tc.want)
			}
			if s.Configured() != (tc.want != infisical.AuthNone) {
				t.Errorf("Configured() = %v", s.Configured())
			}
			hint := s.Hint()
			if s.Configured() != (hint == "") {
				t.Errorf("Hint() = %q with Configured() = %v", hint, s.Configured())
			}
			if hint != "" && (strings.Contains(hint, "\n") || !strings.Contains(hint, "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID")) {
				t.Errorf("Hint() = %q, want one line naming the variables", hint)
			}
		})
	}
}

func TestListOptionsLeaveDefaultEnvironmentOpen(t *testing.T) {
	s, err := infisical.ResolveSettings(infisical.FlagValues{}, mapEnv(map[string]string{"INFISICAL_TOKEN": "st.a.b.c"}), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if o := s.ListOptions(); o.Environment != "" {
		t.Errorf("Environment = %q; a defaulted environment should be left to the service token", o.Environment)
	}
	s, err = infisical.ResolveSettings(infisical.FlagValues{Environment: "prod"}, mapEnv(nil), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if o := s.ListOptions(); o.Environment != "prod" {
		t.Errorf("Environment = %q, want prod", o.Environment)
	}
}

func TestSettingsNeverPrintCredentials(t *testing.T) {
	env := map[string]string{
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID":     "client-id-visible-nowhere",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET": "client-secret-visible-nowhere",
		"INFISICAL_PROJECT_ID":                   "p",
	}
	withID, err := infisical.ResolveSettings(infisical.FlagValues{}, mapEnv(env), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	withToken, err := infisical.ResolveSettings(infisical.FlagValues{},
		mapEnv(map[string]string{"INFISICAL_TOKEN": "st.token-id.token-secret-visible-nowhere.key"}), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []infisical.Settings{withID, withToken} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			out := fmt.Sprintf(verb, s) + fmt.Sprintf(verb, &s) + fmt.Sprintf(verb, s.ClientSecret) + fmt.Sprintf(verb, s.Token)
			if strings.Contains(out, "visible-nowhere") {
				t.Errorf("%s shows a credential: %s", verb, out)
			}
			if !strings.Contains(out, "[redacted]") {
				t.Errorf("%s does not show [redacted]: %s", verb, out)
			}
		}
	}
}
