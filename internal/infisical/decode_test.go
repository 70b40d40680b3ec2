package infisical

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDecodeSecrets(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    string
		want    map[string]string
		wantErr string
	}{
		{name: "empty listing", body: `{"secrets":[],"imports":[]}`, want: map[string]string{}},
		{name: "no imports field", body: `{"secrets":[{"secretKey":"A","secretValue":"1"}]}`, want: map[string]string{"A": "1"}},
		{name: "null imports", body: `{"secrets":[],"imports":null}`, want: map[string]string{}},
		{name: "empty value", body: `{"secrets":[{"secretKey":"A","secretValue":""}]}`, want: map[string]string{"A": ""}},
		{name: "unknown fields ignored", body: `{"secrets":[{"secretKey":"A","secretValue":"1","tags":[{"slug":"x"}],"version":3}],"extra":1}`,
			want: map[string]string{"A": "1"}},
		{name: "trailing whitespace", body: "{\"secrets\":[]}\n\t ", want: map[string]string{}},
		{name: "not JSON", body: `<html>`, wantErr: "invalid JSON"},
		{name: "truncated", body: `{"secrets":[{"secretKey":"A","secretValue":"super-secret-value`, wantErr: "invalid JSON"},
		{name: "two objects", body: `{"secrets":[]}{"secrets":[]}`, wantErr: "data after the object"},
		{name: "no secrets field", body: `{"message":"Ok"}`, wantErr: `no "secrets" list`},
		{name: "secrets not a list", body: `{"secrets":{"secretKey":"A"}}`, wantErr: "wrong type"},
		{name: "value of the wrong type", body: `{"secrets":[{"secretKey":"A","secretValue":12345678}]}`, wantErr: "wrong type"},
		{name: "no name", body: `{"secrets":[{"secretValue":"super-secret-value"}]}`, wantErr: "without a name"},
		{name: "no value", body: `{"secrets":[{"secretKey":"A"}]}`, wantErr: "secret A has no value"},
		{name: "hidden value", body: `{"secrets":[{"secretKey":"A","secretValue":"<hidden-by-infisical>","secretValueHidden":true}]}`,
			wantErr: "hides its value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := decodeSecrets([]byte(tc.body), "dev", "/")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "super-secret") || strings.Contains(err.Error(), "12345678") {
					t.Errorf("error %q quotes the body", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeSecrets: %v", err)
			}
			got := l.Values()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d secrets, want %d", len(got), len(tc.want))
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

// FuzzDecodeSecrets checks that no response body makes decoding panic, and
// that what it accepts is a well-formed listing: one entry per non-empty key,
// sorted, each collision naming a kept folder that is not also dropped.
func FuzzDecodeSecrets(f *testing.F) {
	for _, seed := range []string{
		`{"secrets":[],"imports":[]}`,
		`{"secrets":[{"secretKey":"A","secretValue":"1","secretPath":"/","type":"shared"}]}`,
		`{"secrets":[{"secretKey":"A","secretValue":"1","secretPath":"/x"},{"secretKey":"A","secretValue":"2","secretPath":"/"}]}`,
		`{"secrets":[{"secretKey":"A","secretValue":"1","type":"personal"},{"secretKey":"A","secretValue":"2","type":"shared"}]}`,
		`{"secrets":[],"imports":[{"secretPath":"/s","environment":"prod","secrets":[{"secretKey":"B","secretValue":"x"}]}]}`,
		`{"secrets":[{"secretKey":"A","secretValue":"1","secretPath":"../../.."}]}`,
		`{"secrets":null}`,
		`[]`,
		`null`,
		`{"secrets":[{"secretKey":"\u0000","secretValue":"\ud800"}]}`,
		"",
	} {
		f.Add([]byte(seed), "/")
	}
	f.Fuzz(func(t *testing.T, body []byte, base string) {
		l, err := decodeSecrets(body, "dev", base)
		if err != nil {
			if !utf8.ValidString(err.Error()) && utf8.Valid(body) {
				t.Errorf("error text is not valid UTF-8: %q", err)
			}
			return
		}
		seen := map[string]bool{}
		for i, s := range l.Secrets {
			if s.Key == "" {
				t.Fatalf("accepted a secret without a name")
			}
			if seen[s.Key] {
				t.Fatalf("key %q listed twice", s.Key)
			}
			seen[s.Key] = true
			if i > 0 && l.Secrets[i-1].Key >= s.Key {
				t.Fatalf("secrets not sorted: %q before %q", l.Secrets[i-1].Key, s.Key)
			}
			if !strings.HasPrefix(s.Path, "/") {
				t.Fatalf("folder %q is not absolute", s.Path)
			}
		}
		for _, c := range l.Collisions {
			if !seen[c.Key] || len(c.Dropped) == 0 {
				t.Fatalf("collision %+v does not match the listing", c)
			}
			for _, d := range c.Dropped {
				if d == c.Kept {
					t.Fatalf("collision %+v keeps and drops the same folder", c)
				}
			}
		}
		// Decoding twice gives the same outcome, whatever the order of maps.
		again, err := decodeSecrets(body, "dev", base)
		if err != nil || len(again.Secrets) != len(l.Secrets) {
			t.Fatalf("second decoding differs: %v", err)
		}
		for i := range l.Secrets {
			if l.Secrets[i] != again.Secrets[i] {
				t.Fatalf("second decoding chose differently for %q", l.Secrets[i].Key)
			}
		}
	})
}

func TestToldWait(t *testing.T) {
	for _, tc := range []struct {
		msg, header string
		want        time.Duration
		ok          bool
	}{
		{"Rate limit exceeded. Please try again in 12 seconds", "", 12 * time.Second, true},
		{"Rate limit exceeded. Please try again in 1 second", "", time.Second, true},
		{"Rate limit exceeded. Please try again in 1 minute", "", time.Minute, true},
		{"Rate limit exceeded. Please try again in a minute", "", time.Minute, true},
		{"Rate limit exceeded. Please try again in 2 minutes", "", 2 * time.Minute, true},
		{"Rate limit exceeded", "7", 7 * time.Second, true},
		{"Rate limit exceeded", "", 0, false},
		{"Rate limit exceeded", "Wed, 21 Oct 2015 07:28:00 GMT", 0, false},
	} {
		got, ok := toldWait(tc.msg, tc.header)
		if got != tc.want || ok != tc.ok {
			t.Errorf("toldWait(%q, %q) = %s, %v; want %s, %v", tc.msg, tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestServerMessage(t *testing.T) {
	for _, tc := range []struct {
		body, name, msg string
	}{
		{`{"reqId":"r","statusCode":404,"message":"Folder not found","error":"NotFound"}`, "NotFound", "Folder not found"},
		{`{"statusCode":422,"message":[{"code":"invalid_type","path":["projectId"],"message":"Required"}],"error":"ValidationFailure"}`,
			"ValidationFailure", "projectId: Required"},
		{`{"message":["a","b"]}`, "", "a; b"},
		{`<html>502</html>`, "", ""},
		{`{"error":"TokenError"}`, "TokenError", ""},
	} {
		name, msg := serverMessage([]byte(tc.body))
		if name != tc.name || msg != tc.msg {
			t.Errorf("serverMessage(%s) = %q, %q; want %q, %q", tc.body, name, msg, tc.name, tc.msg)
		}
	}
}

func TestScrub(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		known    []string
	}{
		{"bad client secret hunter2-long", "bad client secret [redacted]", []string{"hunter2-long"}},
		{"token eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl rejected", "token [redacted] rejected", nil},
		{"service st.abc123.def456 rejected", "service [redacted] rejected", nil},
		{"line\none\x1b[31m", "line one [31m", nil},
		{strings.Repeat("é", 400), strings.Repeat("é", 150) + "…", nil},
	} {
		if got := scrub(tc.in, tc.known...); got != tc.want {
			t.Errorf("scrub(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCLIProblem(t *testing.T) {
	for _, tc := range []struct {
		name, stderr string
		kind         Kind
		status       int
		inMsg        string
	}{
		{"not logged in", "You must be logged in to run this command. To login, run [infisical login]", NotConfigured, 0, "not logged in"},
		{"session expired", "\x1b[31merror:\x1b[0m Your login session has expired, please login again", NotConfigured, 0, "expired"},
		{"403 from the API", `error: Unable to fetch secrets
CallGetRawSecretsV3: Unsuccessful response [GET https://app.infisical.com/api/v3/secrets/raw?workspaceId=p] [status-code=403] [response={"statusCode":403,"message":"You are not allowed to read secrets","error":"PermissionDenied"}]
If this issue continues, get support at https://infisical.com/slack`, Auth, 403, "You are not allowed to read secrets"},
		{"404 from the API", `CallGetRawSecretsV3: Unsuccessful response [GET x] [status-code=404] [response={"message":"Project not found"}]`, NotFound, 404, "Project not found"},
		{"500 from the API", `[status-code=500] [response={"message":"boom"}]`, Unreachable, 500, "boom"},
		{"network", `Get "https://infisical.example/api/v3/secrets/raw": dial tcp 10.0.0.1:443: connect: connection refused`, Unreachable, 0, "connection refused"},
		{"something else", "error: unknown flag: --include-imports", Invalid, 0, "unknown flag"},
		{"silence", "", Invalid, 0, "without saying why"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, status, msg := cliProblem(tc.stderr)
			if kind != tc.kind || status != tc.status || !strings.Contains(msg, tc.inMsg) {
				t.Errorf("cliProblem = %v, %d, %q; want %v, %d, a message with %q", kind, status, msg, tc.kind, tc.status, tc.inMsg)
			}
		})
	}
}

func TestDecodeCLIOutput(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      map[string]string
		wantErr   string
	}{
		{"array", `[{"key":"A","value":"1","type":"shared"},{"key":"B","value":"x'y\"z$"}]`, map[string]string{"A": "1", "B": `x'y"z$`}, ""},
		{"nothing", "null", map[string]string{}, ""},
		{"empty", "[]\n", map[string]string{}, ""},
		{"a notice first", "A new release is available\n[{\"key\":\"A\",\"value\":\"1\"}]", map[string]string{"A": "1"}, ""},
		{"last of two wins", `[{"key":"A","value":"1"},{"key":"A","value":"2"}]`, map[string]string{"A": "2"}, ""},
		{"dotenv, not json", "A='1'\n", nil, "not the JSON list"},
		{"no key", `[{"value":"secret-value-here"}]`, nil, "without a name"},
		{"no value", `[{"key":"A"}]`, nil, "secret A without a value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := decodeCLIOutput([]byte(tc.out))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret-value-here") {
					t.Errorf("error %q quotes a value", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := l.Values()
			if len(got) != len(tc.want) {
				t.Fatalf("got %d secrets, want %d", len(got), len(tc.want))
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
