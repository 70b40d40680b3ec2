package infisicaltest_test

import (
	"fmt"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// TestPathNotFound: with SetPathNotFound, both listing routes answer an
// unknown environment or folder as a 2026 server does; without it, an
// unknown folder is an empty list.
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
			srv.SetPathNotFound(true)
			status, body := call(t, srv, "GET", fmt.Sprintf(query, tc.env, tc.path), tok, nil)
			if status != 404 || body["error"] != "SecretPathNotFound" || body["message"] != tc.msg {
				t.Errorf("%s %s%s: %d %v, want 404 SecretPathNotFound %q", route, tc.env, tc.path, status, body, tc.msg)
			}
		}
		srv.SetPathNotFound(false)
		status, body := call(t, srv, "GET", fmt.Sprintf(query, "dev", "/nope"), tok, nil)
		if secrets, _ := body["secrets"].([]any); status != 200 || body["secrets"] == nil || len(secrets) != 0 {
			t.Errorf("%s without SetPathNotFound: %d %v, want 200 and an empty list", route, status, body)
		}
	}
}
