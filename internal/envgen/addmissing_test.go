package envgen

import (
	"bytes"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
)

const addExample = `# Settings.

# n8n's key.
N8N_ENCRYPTION_KEY=
# Supabase.
POSTGRES_PASSWORD=
JWT_SECRET=
# API keys signed with JWT_SECRET.
ANON_KEY=
SERVICE_ROLE_KEY=
# Studio's key for postgres-meta.
PG_META_CRYPTO_KEY=

# Infisical's keys.
INFISICAL_ENCRYPTION_KEY=
INFISICAL_AUTH_SECRET=

# A plain setting with a default.
KONG_HTTP_PORT=8000
OPENAI_API_KEY=
`

// An env file of the old layout: secrets of its own, no Infisical keys, no
// PG_META_CRYPTO_KEY, a setting .env.example does not have, odd spacing, and
// no end of line on its last line.
const oldEnv = "# mine\nN8N_ENCRYPTION_KEY=my-n8n-key\nPOSTGRES_PASSWORD='my pass'\nJWT_SECRET=my-jwt-secret-with-at-least-32-characters\nANON_KEY=old-anon\nSERVICE_ROLE_KEY=old-service\n  KONG_HTTP_PORT = 8001\nSTUDIO_PORT=3000"

func TestAddMissingAddsOnlyWhatIsMissing(t *testing.T) {
	now := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	out, added, err := AddMissing([]byte(oldEnv), []byte(addExample), rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PG_META_CRYPTO_KEY", "INFISICAL_ENCRYPTION_KEY", "INFISICAL_AUTH_SECRET", "OPENAI_API_KEY"}; !slices.Equal(added.Keys, want) {
		t.Errorf("added %v, want %v", added.Keys, want)
	}
	if want := []string{"INFISICAL_AUTH_SECRET", "INFISICAL_ENCRYPTION_KEY", "PG_META_CRYPTO_KEY"}; !slices.Equal(added.Generated, want) {
		t.Errorf("generated %v, want %v", added.Generated, want)
	}
	if !bytes.HasPrefix(out, []byte(oldEnv+"\n")) {
		t.Fatalf("the old file is not kept byte for byte at the start of the new one")
	}
	before, _ := compose.ParseEnv("old", []byte(oldEnv), nil)
	after, err := compose.ParseEnv("new", out, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	if len(after) != len(before)+len(added.Keys) {
		t.Errorf("%d keys after, want %d", len(after), len(before)+len(added.Keys))
	}
	if len(after["PG_META_CRYPTO_KEY"]) != 64 || len(after["INFISICAL_ENCRYPTION_KEY"]) != 32 || after["INFISICAL_AUTH_SECRET"] == "" {
		t.Error("the added secrets do not have their generated form")
	}
	if v, ok := after["OPENAI_API_KEY"]; !ok || v != "" {
		t.Error("OPENAI_API_KEY is not added with .env.example's (empty) value")
	}
	tail := string(out[len(oldEnv):])
	for _, comment := range []string{"# Studio's key for postgres-meta.", "# Infisical's keys.", "# Added by startsvc init --add-missing on 2026-09-01"} {
		if !strings.Contains(tail, comment) {
			t.Errorf("the added part lacks %q:\n%s", comment, tail)
		}
	}
	for _, notAgain := range []string{"# n8n's key.", "N8N_ENCRYPTION_KEY", "KONG_HTTP_PORT"} {
		if strings.Contains(tail, notAgain) {
			t.Errorf("the added part repeats %q", notAgain)
		}
	}
}

// Missing API keys are signed with the JWT_SECRET the file already has, or
// with the one added when it had none.
func TestAddMissingSignsAPIKeysWithTheRightSecret(t *testing.T) {
	now := time.Now()
	existing := "JWT_SECRET=the-secret-this-stack-already-uses-0123456789\n"
	out, added, err := AddMissing([]byte(existing), []byte(addExample), rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ := compose.ParseEnv("new", out, nil)
	for k, role := range map[string]string{"ANON_KEY": "anon", "SERVICE_ROLE_KEY": "service_role"} {
		c, err := VerifyHS256(vals[k], "the-secret-this-stack-already-uses-0123456789")
		if err != nil || c.Role != role {
			t.Errorf("%s is not signed with the existing JWT_SECRET for role %s: %v", k, role, err)
		}
	}
	if slices.Contains(added.Keys, "JWT_SECRET") {
		t.Error("JWT_SECRET was added although the file has one")
	}

	out, _, err = AddMissing([]byte("# nothing yet\n"), []byte(addExample), rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	vals, _ = compose.ParseEnv("new", out, nil)
	if _, err := VerifyHS256(vals["ANON_KEY"], vals["JWT_SECRET"]); err != nil || vals["JWT_SECRET"] == "" {
		t.Errorf("ANON_KEY is not signed with the added JWT_SECRET: %v", err)
	}

	_, _, err = AddMissing([]byte("JWT_SECRET=\n"), []byte(addExample), rand.Reader, now)
	if err == nil || !strings.Contains(err.Error(), "JWT_SECRET is empty") {
		t.Errorf("err = %v, want one saying JWT_SECRET is empty", err)
	}
}

func TestAddMissingNothingMissing(t *testing.T) {
	full, _, err := Generate([]byte(addExample), rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, added, err := AddMissing(full, []byte(addExample), rand.Reader, time.Now())
	if err != nil || len(added.Keys) != 0 || !bytes.Equal(out, full) {
		t.Errorf("added %v, err %v, changed %v; want nothing", added.Keys, err, !bytes.Equal(out, full))
	}
}

func TestAddMissingKeepsCRLF(t *testing.T) {
	existing := "A=1\r\nB=2\r\n"
	out, _, err := AddMissing([]byte(existing), []byte("A=\nC=3\n"), rand.Reader, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(existing)) || bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
		t.Errorf("line ends mixed: %q", out)
	}
}

func TestAddMissingErrorsNameNoValue(t *testing.T) {
	_, _, err := AddMissing([]byte("GOOD=1\nBAD=\"unterminated secret-value\n"), []byte(addExample), rand.Reader, time.Now())
	if err == nil || strings.Contains(err.Error(), "secret-value") {
		t.Errorf("err = %v, want an error without the value", err)
	}
	_, _, err = AddMissing([]byte("A=1\n"), []byte(addExample), failingReader{}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "N8N_ENCRYPTION_KEY") {
		t.Errorf("err = %v, want one naming the key it could not generate", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no randomness") }
