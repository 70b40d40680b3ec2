package infisicaltest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// call sends a request to the fake and decodes its JSON answer.
func call(t *testing.T, srv *infisicaltest.Server, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, out
}

func TestErrorShape(t *testing.T) {
	srv := infisicaltest.New()
	defer srv.Close()
	srv.SetMode(infisicaltest.V3Only)
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		errName, msgPrefix        string
	}{
		{"route-404 of a v3-only server", "GET", "/api/v4/secrets?projectId=p&environment=dev", "", nil, 404, "Not Found",
			"Route GET:/api/v4/secrets?projectId=p&environment=dev not found"},
		{"bad credentials", "POST", "/api/v1/auth/universal-auth/login", "", map[string]string{"clientId": "x", "clientSecret": "y"},
			401, "UnauthorizedError", "Invalid credentials"},
		{"unknown token", "GET", "/api/v3/secrets/raw?workspaceId=p&environment=dev", "eyJ.x.y", nil, 403, "TokenError", "Invalid token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			if status != tc.status {
				t.Errorf("status = %d, want %d", status, tc.status)
			}
			for _, field := range []string{"reqId", "statusCode", "message", "error"} {
				if _, ok := out[field]; !ok {
					t.Errorf("error body lacks %q: %v", field, out)
				}
			}
			if out["error"] != tc.errName || !strings.HasPrefix(out["message"].(string), tc.msgPrefix) {
				t.Errorf("error %v, message %v; want %q, %q", out["error"], out["message"], tc.errName, tc.msgPrefix)
			}
			if out["statusCode"] != float64(tc.status) {
				t.Errorf("statusCode = %v", out["statusCode"])
			}
		})
	}
}

func TestWrites(t *testing.T) {
	srv := infisicaltest.New()
	defer srv.Close()
	srv.AddProject("p")
	tok := srv.IssueToken()
	target := func(extra map[string]any) map[string]any {
		m := map[string]any{"workspaceId": "p", "environment": "dev", "secretPath": "/", "type": "shared"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	steps := []struct {
		name, method, path string
		body               map[string]any
		status             int
	}{
		{"create", "POST", "/api/v3/secrets/raw/A", target(map[string]any{"secretValue": "  one  "}), 200},
		{"create again", "POST", "/api/v3/secrets/raw/A", target(map[string]any{"secretValue": "x"}), 400},
		{"update", "PATCH", "/api/v3/secrets/raw/A", target(map[string]any{"secretValue": "two\n"}), 200},
		{"update a missing secret", "PATCH", "/api/v3/secrets/raw/NOPE", target(map[string]any{"secretValue": "x"}), 404},
		{"create in a missing folder", "POST", "/api/v3/secrets/raw/B", map[string]any{"workspaceId": "p", "environment": "dev",
			"secretPath": "/missing", "secretValue": "x"}, 404},
		{"create the folder", "POST", "/api/v1/folders", map[string]any{"workspaceId": "p", "environment": "dev", "name": "missing", "path": "/"}, 200},
		{"batch create", "POST", "/api/v3/secrets/batch/raw", target(map[string]any{"secrets": []map[string]string{
			{"secretKey": "B", "secretValue": "b"}, {"secretKey": "C", "secretValue": "c"}}}), 200},
		{"batch create with one existing is refused whole", "POST", "/api/v3/secrets/batch/raw", target(map[string]any{"secrets": []map[string]string{
			{"secretKey": "D", "secretValue": "d"}, {"secretKey": "B", "secretValue": "b"}}}), 400},
		{"batch update", "PATCH", "/api/v3/secrets/batch/raw", target(map[string]any{"secrets": []map[string]string{
			{"secretKey": "B", "secretValue": "b2"}}}), 200},
		{"missing workspace", "POST", "/api/v3/secrets/raw/E", map[string]any{"environment": "dev", "secretValue": "x"}, 422},
	}
	for _, st := range steps {
		status, out := call(t, srv, st.method, st.path, tok, st.body)
		if status != st.status {
			t.Fatalf("%s: status %d (%v), want %d", st.name, status, out, st.status)
		}
	}
	want := map[string]string{"A": "two\n", "B": "b2", "C": "c"}
	got := srv.Secrets("p", "dev", "/")
	if len(got) != len(want) {
		t.Fatalf("secrets = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if n := srv.Calls(infisicaltest.RouteCreateSecret); n != 4 {
		t.Errorf("create calls = %d, want 4", n)
	}
}

func TestFailWrite(t *testing.T) {
	srv := infisicaltest.New()
	defer srv.Close()
	srv.AddProject("p")
	tok := srv.IssueToken()
	srv.FailWrite(2)
	var statuses []int
	for _, name := range []string{"A", "B", "C"} {
		status, _ := call(t, srv, "POST", "/api/v3/secrets/raw/"+name, tok,
			map[string]any{"workspaceId": "p", "environment": "dev", "secretPath": "/", "secretValue": "v"})
		statuses = append(statuses, status)
	}
	if statuses[0] != 200 || statuses[1] != 500 || statuses[2] != 200 {
		t.Errorf("statuses = %v, want [200 500 200]", statuses)
	}
	if got := srv.Secrets("p", "dev", "/"); len(got) != 2 || got["B"] != "" {
		t.Errorf("secrets = %q, want A and C only", got)
	}
}

func TestServiceTokenForm(t *testing.T) {
	srv := infisicaltest.New()
	defer srv.Close()
	srv.AddProject("p")
	full := srv.AddServiceToken("p", "prod", "/")
	if parts := strings.Split(full, "."); len(parts) != 4 || parts[0] != "st" {
		t.Fatalf("service token %q is not st.<id>.<secret>.<key>", full)
	}
	bearer := full[:strings.LastIndex(full, ".")]
	if status, out := call(t, srv, "GET", "/api/v2/service-token", bearer, nil); status != 200 || out["workspace"] != "p" {
		t.Errorf("with st.<id>.<secret>: %d %v", status, out)
	}
	if status, _ := call(t, srv, "GET", "/api/v2/service-token", full, nil); status != 401 {
		t.Errorf("with the key part sent: status %d, want 401", status)
	}
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	srv := infisicaltest.New()
	srv.FailAlways(infisicaltest.RouteStatus, infisicaltest.HangBeforeHeaders())
	errc := make(chan error, 1)
	go func() {
		resp, err := srv.Client().Get(srv.URL + "/api/status")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-srv.Hanging()
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while a request hung")
	}
	<-errc
}
