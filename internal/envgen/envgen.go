// Package envgen writes a stack's first .env: the lines of .env.example with a
// strong random value for every secret the local AI stack needs, each in the
// form its consumer expects (hex, base64, a password Kong accepts, Supabase's
// API keys as JWTs signed with the generated JWT_SECRET).
//
// It only produces bytes. Writing them (mode 0600, never over an existing file)
// is the caller's job, so no secret ever passes through a second file.
package envgen

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
)

// KeyLifetime is how long the generated Supabase API keys stay valid.
const KeyLifetime = 10 * 365 * 24 * time.Hour

// A generator makes one value from random bytes.
type generator func(r io.Reader) (string, error)

// secrets maps every key Generate fills to how its value is made. The formats
// follow what each consumer accepts; see .env.example for who reads what.
var secrets = map[string]generator{
	"N8N_ENCRYPTION_KEY":             hexBytes(32),
	"N8N_USER_MANAGEMENT_JWT_SECRET": hexBytes(32),
	// Goes into postgres:// URLs: hex never contains @, : or /.
	"POSTGRES_PASSWORD": hexBytes(24),
	// Used as an HMAC key in its text form; 64 characters.
	"JWT_SECRET":         hexBytes(32),
	"DASHBOARD_PASSWORD": password(24),
	"POOLER_TENANT_ID":   hexBytes(8),
	// Phoenix wants at least 64 characters.
	"SECRET_KEY_BASE": base64Bytes(48),
	// Supavisor needs exactly 32 characters.
	"VAULT_ENC_KEY":                 hexBytes(16),
	"PG_META_CRYPTO_KEY":            hexBytes(32),
	"S3_PROTOCOL_ACCESS_KEY_ID":     hexBytes(16),
	"S3_PROTOCOL_ACCESS_KEY_SECRET": hexBytes(32),
	"NEO4J_AUTH":                    prefixed("neo4j/", hexBytes(16)),
	"CLICKHOUSE_PASSWORD":           hexBytes(24),
	"MINIO_ROOT_PASSWORD":           hexBytes(24),
	"LANGFUSE_SALT":                 hexBytes(32),
	"NEXTAUTH_SECRET":               base64Bytes(32),
	// Langfuse requires exactly 64 hex characters.
	"ENCRYPTION_KEY":              hexBytes(32),
	"INFISICAL_ENCRYPTION_KEY":    hexBytes(16),
	"INFISICAL_AUTH_SECRET":       base64Bytes(32),
	"INFISICAL_POSTGRES_PASSWORD": hexBytes(24),
}

// apiKeys are Supabase's API keys: JWTs for a role, signed with JWT_SECRET.
var apiKeys = map[string]string{
	"ANON_KEY":         "anon",
	"SERVICE_ROLE_KEY": "service_role",
}

// Keys lists, sorted, every key Generate fills when .env.example has it.
func Keys() []string {
	keys := make([]string, 0, len(secrets)+len(apiKeys))
	for k := range secrets {
		keys = append(keys, k)
	}
	for k := range apiKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// assignment matches a KEY=... line of an env file: its leading part (spacing,
// an optional "export ") and the key.
var assignment = regexp.MustCompile(`^(\s*(?:export\s+)?)([A-Za-z_][A-Za-z0-9_.-]*)\s*=`)

// Generate returns a new .env made from example, a .env.example: every line is
// kept as it is - comments, blank lines, order, other settings - except the
// assignments of the keys Keys lists, whose values are replaced by fresh ones
// read from random (crypto/rand.Reader in production). ANON_KEY and
// SERVICE_ROLE_KEY become HS256 JWTs signed with the new JWT_SECRET, issued at
// now and valid for KeyLifetime. It also returns the keys it filled, sorted.
//
// The result is checked by re-reading it with compose's own env-file parser:
// every generated value must read back exactly, every other setting as in
// example. Errors name keys, never values.
func Generate(example []byte, random io.Reader, now time.Time) ([]byte, []string, error) {
	present := map[string]bool{}
	lines := splitLines(example)
	for _, l := range lines {
		if m := assignment.FindSubmatch(l.text); m != nil {
			present[string(m[2])] = true
		}
	}

	values := map[string]string{}
	for _, k := range sortedKeys(secrets) {
		if !present[k] {
			continue
		}
		v, err := secrets[k](random)
		if err != nil {
			return nil, nil, fmt.Errorf("generate %s: %w", k, err)
		}
		values[k] = v
	}
	for _, k := range sortedKeys(apiKeys) {
		if !present[k] {
			continue
		}
		secret, ok := values["JWT_SECRET"]
		if !ok {
			return nil, nil, fmt.Errorf("generate %s: .env.example has no JWT_SECRET to sign it with", k)
		}
		v, err := SignHS256(Claims{Role: apiKeys[k], Issuer: "supabase", IssuedAt: now.Unix(), Expires: now.Add(KeyLifetime).Unix()}, secret)
		if err != nil {
			return nil, nil, fmt.Errorf("generate %s: %w", k, err)
		}
		values[k] = v
	}

	var out bytes.Buffer
	for _, l := range lines {
		m := assignment.FindSubmatch(l.text)
		if m == nil {
			out.Write(l.text)
			out.Write(l.eol)
			continue
		}
		v, ok := values[string(m[2])]
		if !ok {
			out.Write(l.text)
			out.Write(l.eol)
			continue
		}
		out.Write(m[1])
		out.Write(m[2])
		out.WriteByte('=')
		out.WriteString(quote(v))
		out.Write(l.eol)
	}

	if err := verify(example, out.Bytes(), values); err != nil {
		return nil, nil, err
	}
	return out.Bytes(), sortedKeys(values), nil
}

// verify re-reads both files with compose's parser.
func verify(example, generated []byte, values map[string]string) error {
	before, err := compose.ParseEnv(".env.example", example, nil)
	if err != nil {
		return err
	}
	after, err := compose.ParseEnv("generated .env", generated, nil)
	if err != nil {
		return err
	}
	for k, want := range before {
		if _, gen := values[k]; gen {
			continue
		}
		if got, ok := after[k]; !ok || got != want {
			return fmt.Errorf("generated .env: setting %q does not read back as in .env.example", k)
		}
	}
	for _, k := range sortedKeys(values) {
		if after[k] != values[k] {
			return fmt.Errorf("generated .env: %q does not read back as generated", k)
		}
	}
	if len(after) != len(before) {
		return errors.New("generated .env: it defines other keys than .env.example")
	}
	return nil
}

// quote writes v bare when compose's parser reads it back unchanged that way,
// which holds for every alphabet the generators use, and in compose's double-
// quoted form otherwise.
func quote(v string) string {
	bare := v != ""
	for _, c := range v {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("+/=._-", c)) {
			bare = false
			break
		}
	}
	if bare {
		return v
	}
	return compose.QuoteValue(v)
}

type line struct {
	text []byte // without its end of line
	eol  []byte // "\n", "\r\n" or nothing for a last line without one
}

func splitLines(data []byte) []line {
	var out []line
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, line{text: data})
			break
		}
		text, eol := data[:i], data[i:i+1]
		if len(text) > 0 && text[len(text)-1] == '\r' {
			text, eol = text[:len(text)-1], data[i-1:i+1]
		}
		out = append(out, line{text: text, eol: eol})
		data = data[i+1:]
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func read(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("read random bytes: %w", err)
	}
	return b, nil
}

func hexBytes(n int) generator {
	return func(r io.Reader) (string, error) {
		b, err := read(r, n)
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	}
}

func base64Bytes(n int) generator {
	return func(r io.Reader) (string, error) {
		b, err := read(r, n)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
}

func prefixed(prefix string, g generator) generator {
	return func(r io.Reader) (string, error) {
		v, err := g(r)
		return prefix + v, err
	}
}

const (
	letters      = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	alphanumeric = letters + "0123456789"
)

// password makes n characters of [A-Za-z0-9], uniformly (bytes that would bias
// the choice are skipped), and never all digits: Kong reads an all-digit
// DASHBOARD_PASSWORD as a number and the dashboard login fails.
func password(n int) generator {
	// The largest multiple of len(alphanumeric) below 256: bytes at or above it
	// are rejected so that every character is equally likely.
	limit := 256 - 256%len(alphanumeric)
	return func(r io.Reader) (string, error) {
		for {
			out := make([]byte, 0, n)
			buf := make([]byte, n)
			for len(out) < n {
				if _, err := io.ReadFull(r, buf); err != nil {
					return "", fmt.Errorf("read random bytes: %w", err)
				}
				for _, c := range buf {
					if int(c) < limit && len(out) < n {
						out = append(out, alphanumeric[int(c)%len(alphanumeric)])
					}
				}
			}
			if bytes.ContainsAny(out, letters) {
				return string(out), nil
			}
		}
	}
}

// Claims are the claims of a Supabase API key.
type Claims struct {
	Role     string `json:"role"`
	Issuer   string `json:"iss"`
	IssuedAt int64  `json:"iat"`
	Expires  int64  `json:"exp"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// SignHS256 returns the compact JWT of claims signed with HMAC-SHA256, keyed
// with the bytes of secret as Supabase's services use it.
func SignHS256(c Claims, secret string) (string, error) {
	if secret == "" {
		return "", errors.New("sign JWT: empty secret")
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// VerifyHS256 checks that token is an HS256 JWT signed with secret and returns
// its claims. It does not judge expiry or role; the caller compares Claims with
// what it expects. Errors never contain the token or the secret.
func VerifyHS256(token, secret string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("verify JWT: not three dot-separated parts")
	}
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return Claims{}, errors.New("verify JWT: header is not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(head, &h); err != nil || h.Alg != "HS256" {
		return Claims{}, errors.New("verify JWT: header does not say alg HS256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Claims{}, errors.New("verify JWT: signature is not base64url")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Claims{}, errors.New("verify JWT: signature does not match the secret")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return Claims{}, errors.New("verify JWT: payload is not base64url")
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, errors.New("verify JWT: payload is not JSON claims")
	}
	return c, nil
}
