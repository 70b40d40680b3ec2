package cli_test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

// The values a fault run must never print: what .env holds, what the fake
// Infisical holds, and the credentials that reach it.
const (
	faultClientID     = "fault-client-id"
	faultClientSecret = "fault-client-secret-Zq81vX"
	faultEnvPassword  = "dotenv-db-password-Hk27pL"
	faultEnvAPIKey    = "dotenv-api-key-Wm40dR"
	faultRemotePass   = "infisical-db-password-Tc93nB"
	faultRemoteAPIKey = "infisical-api-key-Jy65sQ"
)

// faultValues maps a name to each value the fault tests keep out of the output.
var faultValues = map[string]string{
	"client secret":         faultClientSecret,
	".env DB_PASSWORD":      faultEnvPassword,
	".env API_KEY":          faultEnvAPIKey,
	"Infisical DB_PASSWORD": faultRemotePass,
	"Infisical API_KEY":     faultRemoteAPIKey,
	"Infisical ONLY_REMOTE": "only-in-infisical-Vb58eK",
	// Every access token the fake issues starts and ends with these.
	"access token header":    "eyJhbGciOiJIUzI1NiJ9",
	"access token signature": "c2lnbmF0dXJl",
}

// faultStack writes a one-service stack whose required password and API key
// come from .env unless Infisical supplies them.
func faultStack(t *testing.T) string {
	t.Helper()
	dir := writeStack(t, "services:\n  app:\n    image: "+testenv.FixtureImage+"\n    environment:\n"+
		"      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}\n      API_KEY: ${API_KEY}\n      PLAIN: ${PLAIN}\n")
	dotenv := "DB_PASSWORD=" + faultEnvPassword + "\nAPI_KEY=" + faultEnvAPIKey + "\nPLAIN=plain-setting\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// faultServer configures a fake Infisical (plain or TLS) with one identity and
// the values of faultValues, and closes it when t ends.
func faultServer(t *testing.T, tls bool) *infisicaltest.Server {
	t.Helper()
	srv := infisicaltest.New
	if tls {
		srv = infisicaltest.NewTLS
	}
	s := srv()
	t.Cleanup(s.Close)
	s.AddProject("proj-1", "dev")
	s.AddIdentity(faultClientID, faultClientSecret)
	s.SetSecret("proj-1", "dev", "/", "DB_PASSWORD", faultRemotePass)
	s.SetSecret("proj-1", "dev", "/", "API_KEY", faultRemoteAPIKey)
	s.SetSecret("proj-1", "dev", "/", "ONLY_REMOTE", faultValues["Infisical ONLY_REMOTE"])
	return s
}

// onOldServer sets up a 2024 server (v3 routes only) and startsvc's flags args.
func onOldServer(args ...string) func(t *testing.T) ([]string, []string) {
	return func(t *testing.T) ([]string, []string) {
		s := faultServer(t, false)
		s.SetMode(infisicaltest.V3Only)
		return identityEnv(s.URL, faultClientSecret), args
	}
}

// identityEnv points startsvc at url with the universal-auth identity.
func identityEnv(url, secret string) []string {
	return []string{
		"INFISICAL_API_URL=" + url,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=" + faultClientID,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + secret,
		"INFISICAL_PROJECT_ID=proj-1",
	}
}

// closedPort is an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// faultTimeout is the --infisical-timeout of every fault run, and faultBound
// the generous limit a whole run must end within: the Infisical phase must
// never be what keeps startsvc from returning.
const (
	faultTimeout = "3s"
	faultBound   = 90 * time.Second
)

// checkFaultRun checks what every fault run promises: its exit code, an end
// well within the bound, no value or credential printed, no hand-over file
// left in the stack directory.
func checkFaultRun(t *testing.T, r result, code int, stack string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit %d, want %d:\n%s", r.code, code, r.out)
	}
	if r.duration > faultBound {
		t.Errorf("took %s with --infisical-timeout %s: the Infisical phase is not bounded", r.duration.Round(time.Millisecond), faultTimeout)
	}
	assertNoValues(t, r.out, faultValues)
	if _, err := os.Stat(filepath.Join(stack, secrets.FileName)); !os.IsNotExist(err) {
		t.Errorf("%s is left in the stack directory", secrets.FileName)
	}
}
