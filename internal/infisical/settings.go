package infisical

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/startsvc/startsvc/internal/secrets"
)

// Defaults applied when no flag, variable or config file gives a setting.
const (
	DefaultSiteURL     = "https://app.infisical.com"
	DefaultEnvironment = "dev"
	DefaultSecretPath  = "/"
)

// ConfigFileName is the project file the Infisical CLI writes with `infisical init`;
// ResolveSettings looks for it from the stack directory upwards.
const ConfigFileName = ".infisical.json"

// OriginDefault is the origin of a setting nobody gave.
const OriginDefault = "default"

// FlagValues are the Infisical settings given on the command line. An empty
// field was not given. No credential comes by flag: a flag is visible in the
// process list.
type FlagValues struct {
	URL         string // --infisical-url: the site URL, with or without /api
	ProjectID   string // --infisical-project
	Environment string // --infisical-env
	SecretPath  string // --secret-path
	Recursive   bool   // --recursive
}

// AuthMethod is how the client proves who it is.
type AuthMethod string

// The ways to authenticate, in the order ResolveSettings prefers them when
// several are given: a token given directly needs no login call.
const (
	AuthNone         AuthMethod = ""
	AuthAccessToken  AuthMethod = "access token"
	AuthServiceToken AuthMethod = "service token"
	AuthUniversal    AuthMethod = "universal auth"
)

// Origins says where each setting came from: a flag ("--infisical-url"), a
// variable ("INFISICAL_API_URL"), the config file's path, or OriginDefault. An
// empty origin means the setting has no value.
type Origins struct {
	URL, Project, Environment, SecretPath, Credentials string
}

// Settings is the resolved Infisical configuration. Credentials are held as
// secrets.Secret, so printing Settings with any verb shows no credential.
type Settings struct {
	SiteURL     string // without /api and without a trailing slash
	ProjectID   string // empty: taken from a service token, or unknown
	Environment string
	SecretPath  string
	Recursive   bool

	ClientID     secrets.Secret
	ClientSecret secrets.Secret
	// Token is an access token, or a legacy service token in its full
	// st.<id>.<secret>.<key> form; Auth tells which.
	Token secrets.Secret

	Origin Origins
	// ConfigFile is the .infisical.json that was read; empty when none was found.
	ConfigFile string
}

// APIURL is the base of every API route: the site URL plus /api.
func (s Settings) APIURL() string { return s.SiteURL + "/api" }

// Auth says which credentials the settings hold.
func (s Settings) Auth() AuthMethod {
	switch {
	case s.Token != "" && strings.HasPrefix(string(s.Token), serviceTokenPrefix):
		return AuthServiceToken
	case s.Token != "":
		return AuthAccessToken
	case s.ClientID != "" && s.ClientSecret != "":
		return AuthUniversal
	}
	return AuthNone
}

// Configured reports whether the settings hold machine credentials, that is
// whether startsvc can reach Infisical's API by itself. Without them the
// Infisical CLI, when installed and logged in, is the only way left.
func (s Settings) Configured() bool { return s.Auth() != AuthNone }

// Hint is one line that tells a person how to configure Infisical, to follow
// "Infisical is not configured: "; it is empty when the settings are configured.
func (s Settings) Hint() string {
	if s.Configured() {
		return ""
	}
	return "set INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET " +
		"with INFISICAL_PROJECT_ID (or --infisical-project), or INFISICAL_TOKEN, or log in with the Infisical CLI"
}

// ListOptions returns what to list according to the settings. The environment
// is left empty when nobody chose it, so that a service token's own scope can
// supply it (the client uses DefaultEnvironment otherwise).
func (s Settings) ListOptions() ListOptions {
	o := ListOptions{ProjectID: s.ProjectID, Environment: s.Environment, SecretPath: s.SecretPath, Recursive: s.Recursive}
	if s.Origin.Environment == OriginDefault {
		o.Environment = ""
	}
	return o
}

// credentialPairs are the spellings of a machine identity's client id and secret,
// most official first. The misspelt one is what an existing setup uses; the
// corrected spelling is accepted too.
var credentialPairs = [][2]string{
	{"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"},
	{"INFISICAL_CLIENT_ID", "INFISICAL_CLIENT_SECRET"},
	{"INFISICAL_MACHINE_INDENTITY_CLIENT_ID", "INFISICAL_MACHINE_INDENTITY_CLIENT_SECRET"},
	{"INFISICAL_MACHINE_IDENTITY_CLIENT_ID", "INFISICAL_MACHINE_IDENTITY_CLIENT_SECRET"},
}

// tokenVariables hold a token, in the Infisical CLI's order of preference.
var tokenVariables = []string{"INFISICAL_UNIVERSAL_AUTH_ACCESS_TOKEN", "INFISICAL_TOKEN"}

// urlVariables hold the site or API URL, in the Infisical CLI's order of preference.
var urlVariables = []string{"INFISICAL_DOMAIN", "INFISICAL_API_URL"}

// configFile is the part of .infisical.json that startsvc reads.
type configFile struct {
	WorkspaceID        string `json:"workspaceId"`
	DefaultEnvironment string `json:"defaultEnvironment"`
	Domain             string `json:"domain"`
}

// ResolveSettings resolves the Infisical settings with the precedence flags >
// environment variables > .infisical.json (the nearest one in dir or a parent
// of it) > defaults. getenv reads the process environment. A token wins over
// client credentials; among the variables the Infisical CLI knows, the CLI's
// order of preference holds.
//
// The error, an *Error of kind Invalid, says which setting is wrong and where
// it came from: a URL that is not http(s), half of a client id/secret pair, a
// malformed service token, an unreadable or invalid .infisical.json, or
// credentials without a project to read.
func ResolveSettings(flags FlagValues, getenv func(string) string, dir string) (Settings, error) {
	var s Settings
	cfg, cfgPath, err := findConfigFile(dir)
	if err != nil {
		return Settings{}, invalidf("read %s: %v", cfgPath, err)
	}
	s.ConfigFile = cfgPath

	// Site URL.
	rawURL, origin := flags.URL, "--infisical-url"
	for _, name := range urlVariables {
		if rawURL == "" {
			rawURL, origin = strings.TrimSpace(getenv(name)), name
		}
	}
	if rawURL == "" && cfg.Domain != "" {
		rawURL, origin = cfg.Domain, cfgPath+" (domain)"
	}
	if rawURL == "" {
		rawURL, origin = DefaultSiteURL, OriginDefault
	}
	site, err := NormalizeSiteURL(rawURL)
	if err != nil {
		return Settings{}, invalidf("URL from %s: %v", origin, err)
	}
	s.SiteURL, s.Origin.URL = site, origin

	// Project.
	switch {
	case flags.ProjectID != "":
		s.ProjectID, s.Origin.Project = flags.ProjectID, "--infisical-project"
	case strings.TrimSpace(getenv("INFISICAL_PROJECT_ID")) != "":
		s.ProjectID, s.Origin.Project = strings.TrimSpace(getenv("INFISICAL_PROJECT_ID")), "INFISICAL_PROJECT_ID"
	case cfg.WorkspaceID != "":
		s.ProjectID, s.Origin.Project = cfg.WorkspaceID, cfgPath+" (workspaceId)"
	}

	// Environment and folder.
	switch {
	case flags.Environment != "":
		s.Environment, s.Origin.Environment = flags.Environment, "--infisical-env"
	case cfg.DefaultEnvironment != "":
		s.Environment, s.Origin.Environment = cfg.DefaultEnvironment, cfgPath+" (defaultEnvironment)"
	default:
		s.Environment, s.Origin.Environment = DefaultEnvironment, OriginDefault
	}
	s.SecretPath, s.Origin.SecretPath = DefaultSecretPath, OriginDefault
	if flags.SecretPath != "" {
		s.SecretPath, s.Origin.SecretPath = CleanSecretPath(flags.SecretPath), "--secret-path"
	}
	s.Recursive = flags.Recursive

	// Credentials.
	for _, name := range tokenVariables {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			s.Token, s.Origin.Credentials = secrets.Secret(v), name
			break
		}
	}
	if s.Token != "" && strings.HasPrefix(string(s.Token), serviceTokenPrefix) {
		if _, err := serviceBearer(s.Token); err != nil {
			return Settings{}, invalidf("%s: %v", s.Origin.Credentials, err)
		}
	}
	if s.Token == "" {
		for _, pair := range credentialPairs {
			id, secret := strings.TrimSpace(getenv(pair[0])), strings.TrimSpace(getenv(pair[1]))
			if id == "" && secret == "" {
				continue
			}
			if id == "" {
				return Settings{}, invalidf("%s is set but %s is not: set both, or neither", pair[1], pair[0])
			}
			if secret == "" {
				return Settings{}, invalidf("%s is set but %s is not: set both, or neither", pair[0], pair[1])
			}
			s.ClientID, s.ClientSecret = secrets.Secret(id), secrets.Secret(secret)
			s.Origin.Credentials = pair[0] + " and " + pair[1]
			break
		}
	}
	if a := s.Auth(); a != AuthNone && a != AuthServiceToken && s.ProjectID == "" {
		return Settings{}, invalidf("%s from %s but no project: set --infisical-project, "+
			"INFISICAL_PROJECT_ID or workspaceId in %s", a, s.Origin.Credentials, ConfigFileName)
	}
	return s, nil
}

// NormalizeSiteURL turns what a user gives as Infisical's address into the site
// URL: scheme and host, an optional path prefix, no trailing slash and no
// trailing /api.
func NormalizeSiteURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("%q: want an http:// or https:// URL such as %s", raw, DefaultSiteURL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: want only scheme, host and path", u.Redacted())
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api")
	u.Path, u.RawPath = strings.TrimRight(p, "/"), ""
	return u.String(), nil
}

// CleanSecretPath returns p as Infisical names folders: absolute, with no
// trailing slash except for the root.
func CleanSecretPath(p string) string {
	return path.Clean("/" + strings.TrimSpace(p))
}

// findConfigFile reads the nearest .infisical.json in dir or one of its parents.
// It returns the zero config and an empty path when there is none.
func findConfigFile(dir string) (configFile, string, error) {
	if dir == "" {
		return configFile{}, "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return configFile{}, dir, err
	}
	for d := abs; ; {
		p := filepath.Join(d, ConfigFileName)
		data, err := secrets.ReadFile(p, 1<<20)
		switch {
		case err == nil:
			var cfg configFile
			if err := json.Unmarshal(data, &cfg); err != nil {
				return configFile{}, p, fmt.Errorf("not valid JSON: %v", jsonProblem(err))
			}
			cfg.WorkspaceID = strings.TrimSpace(cfg.WorkspaceID)
			cfg.DefaultEnvironment = strings.TrimSpace(cfg.DefaultEnvironment)
			cfg.Domain = strings.TrimSpace(cfg.Domain)
			return cfg, p, nil
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission) && d != abs:
			// An unreadable file in a parent we do not own is not ours to complain about.
		default:
			return configFile{}, p, err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return configFile{}, "", nil
		}
		d = parent
	}
}
