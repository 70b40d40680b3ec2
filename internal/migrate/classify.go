package migrate

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/startsvc/startsvc/internal/secrets"
)

// Action says where a key of the env file belongs.
type Action int

const (
	// Keep leaves the key in the env file.
	Keep Action = iota
	// Move puts the key in Infisical and removes it from the env file.
	Move
)

func (a Action) String() string {
	if a == Move {
		return "move"
	}
	return "keep"
}

// Decision is a key's action and the rule that chose it, worded for a person.
// It never holds a value.
type Decision struct {
	Action Action
	Rule   string
}

// Bootstrap reports whether key is one of Infisical's own settings: the
// credentials, project, site URL and tokens startsvc reads Infisical with, and
// the keys, passwords and addresses the Infisical inside the stack (and its
// database and cache) start with. All of them are named INFISICAL_…; none can
// be kept in Infisical, which needs them before it can be read.
func Bootstrap(key string) bool {
	return strings.HasPrefix(strings.ToUpper(key), "INFISICAL_")
}

// Classify applies the automatic rules to one key and the value compose reads
// for it, first match wins:
//
//  1. Infisical's bootstrap settings stay (Bootstrap).
//  2. Names of the user's session and of Docker or compose's own settings stay
//     (PATH, HOME, DOCKER_HOST, COMPOSE_PROJECT_NAME, …).
//  3. An empty value stays.
//  4. A value that carries a credential moves: a URL with a password, a
//     connection string with password=…, a JWT, a PEM private key.
//  5. A name whose last word says secret moves (…_PASSWORD, _PASS, _PWD,
//     _SECRET, _KEY, _TOKEN, _AUTH, _SALT, _APIKEY, _CREDENTIALS, …, and
//     …_CLIENT_ID, …_KEY_ID), unless the value is a flag (true, off, …).
//  6. A name with such a word elsewhere (SECRET_KEY_BASE, TOKEN_TTL) moves
//     unless the value is a flag, a number, a duration, a URL without
//     credentials or a file path.
//  7. Any other name that secrets.LooksSecret flags (BYPASS_LIST, AUTH_MODE)
//     moves only when the value looks random.
//  8. Everything else stays: hostnames, ports, URLs without credentials,
//     flags, numbers, words.
func Classify(key, value string) Decision {
	upper := strings.ToUpper(key)
	words := strings.FieldsFunc(upper, func(r rune) bool { return r == '_' || r == '.' || r == '-' })
	switch {
	case Bootstrap(key):
		return Decision{Keep, "Infisical's own setting (bootstrap)"}
	case secrets.Reserved(key) || strings.HasPrefix(upper, "COMPOSE_") || strings.HasPrefix(upper, "DOCKER_"):
		return Decision{Keep, "session, Docker or compose setting"}
	case value == "":
		return Decision{Keep, "empty value"}
	}
	if rule := credentialValue(value); rule != "" {
		return Decision{Move, rule}
	}
	if len(words) == 0 {
		return Decision{Keep, "not a secret-looking name"}
	}
	last := words[len(words)-1]
	pair := ""
	if len(words) >= 2 {
		pair = words[len(words)-2] + "_" + last
	}
	switch {
	case pair == "CLIENT_ID" || pair == "KEY_ID":
		if isFlag(value) {
			return Decision{Keep, "value is a flag"}
		}
		return Decision{Move, "name ends in _" + pair}
	case secretLastWords[last]:
		if isFlag(value) {
			return Decision{Keep, "value is a flag"}
		}
		if len(words) == 1 {
			return Decision{Move, "name is " + last}
		}
		return Decision{Move, "name ends in _" + last}
	}
	for _, w := range words[:len(words)-1] {
		if !secretWords[w] {
			continue
		}
		if plain := plainValue(value); plain != "" {
			return Decision{Keep, fmt.Sprintf("name contains %s, but the value is %s", w, plain)}
		}
		return Decision{Move, "name contains " + w}
	}
	if secrets.LooksSecret(key, "") {
		frag := weakFragment(upper)
		if looksRandom(value) {
			return Decision{Move, fmt.Sprintf("name contains %s and the value looks random", frag)}
		}
		return Decision{Keep, fmt.Sprintf("name contains %s, but the value does not look secret", frag)}
	}
	if plain := plainValue(value); plain != "" {
		return Decision{Keep, "value is " + plain}
	}
	return Decision{Keep, "not a secret-looking name"}
}

// secretLastWords end names of secrets: DB_PASSWORD, JWT_SECRET, API_KEY, NEO4J_AUTH.
var secretLastWords = setOf("PASSWORD", "PASSWD", "PASS", "PWD", "SECRET", "SECRETS", "KEY", "KEYS", "TOKEN", "TOKENS",
	"AUTH", "SALT", "PEPPER", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PASSPHRASE")

// secretWords mark a secret anywhere in a name, unless the value says otherwise.
var secretWords = setOf("PASSWORD", "PASSWD", "SECRET", "SECRETS", "TOKEN", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PASSPHRASE", "PRIVATE")

// weakFragments are what secrets.LooksSecret looks for in a name, for wording a rule.
var weakFragments = []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIAL", "PRIVATE", "CLIENT_ID",
	"SALT", "_AUTH", "AUTH_", "_KEY", "KEY_", "_PWD", "PASS"}

func weakFragment(upper string) string {
	for _, f := range weakFragments {
		if strings.Contains(upper, f) {
			return strings.Trim(f, "_")
		}
	}
	return "a secret-like word"
}

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

var (
	connPassword = regexp.MustCompile(`(?i)(^|[;\s])(password|pwd)\s*=\s*[^;\s]`)
	jwt          = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)
	flagValue    = regexp.MustCompile(`(?i)^(true|false|yes|no|on|off|enabled?|disabled?)$`)
	number       = regexp.MustCompile(`^[-+]?[0-9]+([.,_][0-9]+)*$`)
	duration     = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h|d|w)$`)
	size         = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?([kKmMgGtT]i?[bB]?)$`)
	hostname     = regexp.MustCompile(`^(localhost|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}|[0-9]{1,3}(\.[0-9]{1,3}){3})(:[0-9]{1,5})?$`)
	port         = regexp.MustCompile(`^:?[0-9]{1,5}(:[0-9]{1,5})?$`)
)

// credentialValue names the rule when the value itself carries a credential.
func credentialValue(v string) string {
	if u := urlOf(v); u != nil && u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return "value is a URL with a password"
		}
		if looksRandom(u.User.Username()) {
			return "value is a URL with a token"
		}
	}
	switch {
	case secrets.LooksSecret("", v):
		return "value is a URL with a password"
	case connPassword.MatchString(v):
		return "value is a connection string with a password"
	case jwt.MatchString(v):
		return "value is a JWT"
	case strings.Contains(v, "-----BEGIN") && strings.Contains(v, "PRIVATE KEY-----"):
		return "value is a private key"
	}
	return ""
}

// urlOf parses v when it is an absolute URL with a host.
func urlOf(v string) *url.URL {
	if !strings.Contains(v, "://") || strings.ContainsAny(v, " \t\n") {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil
	}
	return u
}

func isFlag(v string) bool { return flagValue.MatchString(v) }

// plainValue says what kind of non-secret value v is — a flag, a number, a
// URL without credentials, … — or "" when it is none of them.
func plainValue(v string) string {
	switch {
	case isFlag(v):
		return "a flag"
	case port.MatchString(v) && !number.MatchString(v):
		return "a port"
	case number.MatchString(v):
		return "a number"
	case duration.MatchString(v) || size.MatchString(v):
		return "a duration or size"
	case urlOf(v) != nil:
		return "a URL without credentials"
	case hostname.MatchString(v):
		return "a hostname"
	case isPath(v):
		return "a file path"
	}
	return ""
}

func isPath(v string) bool {
	return (strings.HasPrefix(v, "/") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") || strings.HasPrefix(v, "~/")) &&
		!strings.ContainsAny(v, " \t\n")
}

// looksRandom is a generated secret's shape: long, one word, letters and
// digits mixed, and no recognisable plain value.
func looksRandom(v string) bool {
	if len(v) < 16 || strings.ContainsAny(v, " \t\n,") || plainValue(v) != "" {
		return false
	}
	var letter, digit bool
	for _, r := range v {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	return letter && digit
}
