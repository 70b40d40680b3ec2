package envgen

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// seeded is a deterministic stand-in for crypto/rand.
func seeded(seed uint64) io.Reader {
	return mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), 1, 2, 3})
}

func shippedExample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func parse(t *testing.T, data []byte) map[string]string {
	t.Helper()
	vals, err := compose.ParseEnv("test", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

func TestGenerateShippedExample(t *testing.T) {
	example := shippedExample(t)
	out, keys, err := Generate(example, rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	before, after := parse(t, example), parse(t, out)

	// Every secret of the table that .env.example lists is generated.
	for _, k := range Keys() {
		if _, listed := before[k]; !listed {
			t.Errorf(".env.example does not list %s, which init generates", k)
			continue
		}
		if after[k] == "" {
			t.Errorf("%s is empty after Generate", k)
		}
	}
	if len(keys) != len(Keys()) {
		t.Errorf("Generate reported %d keys, want %d", len(keys), len(Keys()))
	}
	// Everything else is as in the example.
	for k, v := range before {
		if _, gen := secrets[k]; gen {
			continue
		}
		if _, gen := apiKeys[k]; gen {
			continue
		}
		if after[k] != v {
			t.Errorf("%s changed", k)
		}
	}
}

func TestGenerateFormats(t *testing.T) {
	out, _, err := Generate(shippedExample(t), seeded(1), now)
	if err != nil {
		t.Fatal(err)
	}
	v := parse(t, out)
	hexOf := func(n int) func(string) bool {
		return func(s string) bool {
			b, err := hex.DecodeString(s)
			return err == nil && len(b) == n
		}
	}
	base64Of := func(n int) func(string) bool {
		return func(s string) bool {
			b, err := base64.StdEncoding.DecodeString(s)
			return err == nil && len(b) == n
		}
	}
	tests := []struct {
		key  string
		want string
		ok   func(string) bool
	}{
		{"INFISICAL_ENCRYPTION_KEY", "16 bytes hex", hexOf(16)},
		{"INFISICAL_AUTH_SECRET", "32 bytes base64", base64Of(32)},
		{"ENCRYPTION_KEY", "64 hex characters", hexOf(32)},
		{"VAULT_ENC_KEY", "exactly 32 characters", func(s string) bool { return len(s) == 32 }},
		{"SECRET_KEY_BASE", "at least 64 characters", func(s string) bool { return len(s) >= 64 }},
		{"JWT_SECRET", "at least 32 characters", func(s string) bool { return len(s) >= 32 }},
		{"PG_META_CRYPTO_KEY", "at least 32 characters", func(s string) bool { return len(s) >= 32 }},
		{"NEXTAUTH_SECRET", "32 bytes base64", base64Of(32)},
		{"N8N_ENCRYPTION_KEY", "32 bytes hex", hexOf(32)},
		{"POSTGRES_PASSWORD", "no @, : or /", func(s string) bool { return s != "" && !strings.ContainsAny(s, "@:/") }},
		{"INFISICAL_POSTGRES_PASSWORD", "no @, : or /", func(s string) bool { return s != "" && !strings.ContainsAny(s, "@:/") }},
		{"NEO4J_AUTH", "neo4j/<password>", func(s string) bool {
			p, ok := strings.CutPrefix(s, "neo4j/")
			return ok && len(p) >= 8
		}},
		{"DASHBOARD_PASSWORD", "alphanumeric, not all digits", func(s string) bool {
			return regexp.MustCompile(`^[A-Za-z0-9]{24}$`).MatchString(s) && !regexp.MustCompile(`^[0-9]+$`).MatchString(s)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if !tt.ok(v[tt.key]) {
				t.Errorf("%s is not %s", tt.key, tt.want)
			}
		})
	}
	// No two secrets share a value.
	seen := map[string]string{}
	for _, k := range Keys() {
		if other, dup := seen[v[k]]; dup {
			t.Errorf("%s and %s have the same value", k, other)
		}
		seen[v[k]] = k
	}
}

func TestGenerateSupabaseKeys(t *testing.T) {
	out, _, err := Generate(shippedExample(t), seeded(2), now)
	if err != nil {
		t.Fatal(err)
	}
	v := parse(t, out)
	for key, role := range map[string]string{"ANON_KEY": "anon", "SERVICE_ROLE_KEY": "service_role"} {
		c, err := VerifyHS256(v[key], v["JWT_SECRET"])
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if c.Role != role || c.Issuer != "supabase" {
			t.Errorf("%s: role %q issuer %q, want %q supabase", key, c.Role, c.Issuer, role)
		}
		if c.IssuedAt != now.Unix() || time.Unix(c.Expires, 0).Before(now.AddDate(9, 0, 0)) {
			t.Errorf("%s: issued %d, expires %d: want issued now and valid for years", key, c.IssuedAt, c.Expires)
		}
		if _, err := VerifyHS256(v[key], "another secret"); err == nil {
			t.Errorf("%s verifies with a different secret", key)
		}
	}
}

// A known-answer check of the hand-written HS256 against a token computed
// independently (RFC 7515 style: base64url, no padding, HMAC-SHA256).
func TestSignHS256KnownAnswer(t *testing.T) {
	got, err := SignHS256(Claims{Role: "anon", Issuer: "supabase", IssuedAt: 1700000000, Expires: 2000000000}, "0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	const want = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJyb2xlIjoiYW5vbiIsImlzcyI6InN1cGFiYXNlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjIwMDAwMDAwMDB9." +
		"NrwOZ2QY7emqF2cVLGcE73M40oyTPKQsHJ3Ys0Fe810"
	if got != want {
		t.Errorf("SignHS256 =\n%s\nwant\n%s", got, want)
	}
}

func TestGeneratePreservesLayout(t *testing.T) {
	example := []byte("# header comment\r\n\r\nA=keep me\r\nexport JWT_SECRET=placeholder\r\n  # indented comment\r\nANON_KEY=\r\nB=\"two words\" # inline\r\nPOSTGRES_PASSWORD=x")
	out, keys, err := Generate(example, seeded(3), now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ANON_KEY", "JWT_SECRET", "POSTGRES_PASSWORD"}; strings.Join(keys, ",") != strings.Join(want, ",") {
		t.Errorf("keys = %v, want %v", keys, want)
	}
	in, got := splitLines(example), splitLines(out)
	if len(in) != len(got) {
		t.Fatalf("%d lines in, %d out", len(in), len(got))
	}
	for i := range in {
		if !bytes.Equal(in[i].eol, got[i].eol) {
			t.Errorf("line %d: end of line changed", i+1)
		}
		m := assignment.FindSubmatch(in[i].text)
		generated := m != nil && (secrets[string(m[2])] != nil || apiKeys[string(m[2])] != "")
		if !generated && !bytes.Equal(in[i].text, got[i].text) {
			t.Errorf("line %d changed: %q -> %q", i+1, in[i].text, got[i].text)
		}
		if generated && !bytes.HasPrefix(got[i].text, m[0]) {
			t.Errorf("line %d lost its prefix %q: %q", i+1, m[0], got[i].text)
		}
	}
	v := parse(t, out)
	if v["A"] != "keep me" || v["B"] != "two words" {
		t.Errorf("other settings changed: A=%q B=%q", v["A"], v["B"])
	}
}

func TestGenerateIsDeterministicForOneRandomStream(t *testing.T) {
	a, _, err := Generate(shippedExample(t), seeded(4), now)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Generate(shippedExample(t), seeded(4), now)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := Generate(shippedExample(t), seeded(5), now)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("same random stream, different output")
	}
	if bytes.Equal(a, c) {
		t.Error("different random streams, same output")
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Run("random source runs dry", func(t *testing.T) {
		_, _, err := Generate([]byte("JWT_SECRET=\n"), bytes.NewReader(make([]byte, 5)), now)
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "JWT_SECRET") {
			t.Errorf("err = %v, want one naming JWT_SECRET and wrapping io.ErrUnexpectedEOF", err)
		}
	})
	t.Run("API key without JWT_SECRET", func(t *testing.T) {
		_, _, err := Generate([]byte("ANON_KEY=\n"), rand.Reader, now)
		if err == nil || !strings.Contains(err.Error(), "ANON_KEY") || !strings.Contains(err.Error(), "JWT_SECRET") {
			t.Errorf("err = %v, want one naming ANON_KEY and JWT_SECRET", err)
		}
	})
	t.Run("example compose cannot parse", func(t *testing.T) {
		if _, _, err := Generate([]byte("JWT_SECRET=\nBROKEN=\"unterminated\n"), rand.Reader, now); err == nil {
			t.Error("want an error for an example compose cannot read")
		}
	})
}

// digitsFirst yields bytes that map to digits for the first n passwords'
// worth of bytes, then ordinary random bytes.
type digitsFirst struct {
	n int
	r io.Reader
}

func (d *digitsFirst) Read(p []byte) (int, error) {
	for i := range p {
		if d.n > 0 {
			p[i] = byte(52 + i%10) // alphanumeric[52:62] are the digits
			d.n--
			continue
		}
		if _, err := d.r.Read(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

func TestPasswordNeverAllDigits(t *testing.T) {
	r := &digitsFirst{n: 24 * 3, r: seeded(6)}
	pw, err := password(24)(r)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`^[0-9]+$`).MatchString(pw) {
		t.Fatal("password is all digits")
	}
	if r.n != 0 {
		t.Fatal("the all-digit candidates were not consumed")
	}
}

func TestPasswordIsUniform(t *testing.T) {
	counts := map[byte]int{}
	const n = 62 * 400
	pw, err := password(n)(seeded(7))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(pw); i++ {
		counts[pw[i]]++
	}
	if len(counts) != len(alphanumeric) {
		t.Fatalf("%d distinct characters, want %d", len(counts), len(alphanumeric))
	}
	for c, k := range counts {
		if math.Abs(float64(k)-400) > 120 {
			t.Errorf("character %q appears %d times, expected about 400", c, k)
		}
	}
}

func TestVerifyHS256Rejects(t *testing.T) {
	good, err := SignHS256(Claims{Role: "anon"}, "s3cret-s3cret-s3cret-s3cret-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
	for name, token := range map[string]string{
		"two parts":        parts[0] + "." + parts[1],
		"alg none":         none + "." + parts[1] + "." + parts[2],
		"payload changed":  parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"role":"service_role"}`)) + "." + parts[2],
		"signature broken": parts[0] + "." + parts[1] + ".!!",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := VerifyHS256(token, "s3cret-s3cret-s3cret-s3cret-s3cret")
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Error("error shows the secret")
			}
		})
	}
}
