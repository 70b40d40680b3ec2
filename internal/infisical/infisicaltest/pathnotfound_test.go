package infisicaltest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// TestPathNotFound: a current server (V4) answers an unknown environment or
// folder on both listing routes as a 2026 server does, 404
// SecretPathNotFound; with SetLegacyNotFound an unknown environment as older
// servers did; a 2024 server (V3Only) with 200 and an empty list.
func TestPathNotFound(t *testing.T) {
	srv := infisicaltest.New()
	defer srv.Close()
	srv.AddProject("p")
	tok := srv.IssueToken()
	lists := map[string]string{
		"v4": "/api/v4/secrets?projectId=p&environment=%s&secretPath=%s",
		"v3": "/api/v3/secrets/raw?workspaceId=p&environment=%s&secretPath=%s",
	}
	for route, query := range lists {
		for _, tc := range []struct{ env, path, msg string }{
			{"dev", "/nope", "Folder with path '/nope' in environment 'dev' was not found"},
			{"prdo", "/", "Folder with path '/' in environment 'prdo' was not found"},
		} {
			status, body := call(t, srv, "GET", fmt.Sprintf(query, tc.env, tc.path), tok, nil)
			msg, _ := body["message"].(string)
			if status != 404 || body["error"] != "SecretPathNotFound" || !strings.HasPrefix(msg, tc.msg) {
				t.Errorf("%s %s%s: %d %v, want 404 SecretPathNotFound %q", route, tc.env, tc.path, status, body, tc.msg)
			}
		}
		srv.SetLegacyNotFound(true)
		status, body := call(t, srv, "GET", fmt.Sprintf(query, "prdo", "/"), tok, nil)
		if msg, _ := body["message"].(string); status != 404 || body["error"] != "NotFound" || !strings.Contains(msg, "Environment with slug 'prdo'") {
			t.Errorf("%s with SetLegacyNotFound: %d %v, want the older 404", route, status, body)
		}
		srv.SetLegacyNotFound(false)
	}
	srv.SetMode(infisicaltest.V3Only)
	status, body := call(t, srv, "GET", fmt.Sprintf(lists["v3"], "dev", "/nope"), tok, nil)
	if secrets, _ := body["secrets"].([]any); status != 200 || body["secrets"] == nil || len(secrets) != 0 {
		t.Errorf("a 2024 server: %d %v, want 200 and an empty list", status, body)
	}
}
