package infisical_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/secrets"
)

// writable are the values of hostile that Infisical stores unchanged: it
// trims white space at either end of a value.
func writable() []infisical.Write {
	var out []infisical.Write
	for _, k := range slices.Sorted(maps.Keys(hostile)) {
		if v := hostile[k]; v == strings.TrimSpace(v) || v == strings.TrimSpace(v)+"\n" {
			out = append(out, infisical.Write{Key: k, Value: secrets.Secret(v)})
		}
	}
	return out
}

// noValueIn fails when text holds one of the values; it names the key only.
func noValueIn(t *testing.T, what, text string, list []infisical.Write) {
	t.Helper()
	for _, w := range list {
		if len(w.Value) >= 4 && strings.Contains(text, string(w.Value)) {
			t.Errorf("%s holds the value of %s", what, w.Key)
		}
	}
}

// show is err's text with every value of these tests masked, for failure
// messages.
func show(err error) string {
	if err == nil {
		return "no error"
	}
	vals := []string{testClientSecret, "value-aaaa", "value-bbbb", "value-cccc", "value-xxxx", "tok-value-1", "changed-1", "changed-2"}
	for _, v := range hostile {
		vals = append(vals, v)
	}
	return secrets.NewRedactor(vals...).String(err.Error())
}

func writeTarget(path string, batch int) infisical.WriteOptions {
	return infisical.WriteOptions{ProjectID: testProject, Environment: "dev", SecretPath: path, BatchSize: batch}
}

func TestCreateAndUpdateInBatches(t *testing.T) {
	for _, mode := range []infisicaltest.Mode{infisicaltest.V4, infisicaltest.V3Only} {
		t.Run(modeName(mode), func(t *testing.T) {
			srv := fake(t, mode)
			c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
			list := writable()
			written, err := c.CreateSecrets(context.Background(), writeTarget("/", 3), list)
			if err != nil {
				t.Fatalf("CreateSecrets: %s", show(err))
			}
			if len(written) != len(list) {
				t.Errorf("%d keys confirmed, want %d", len(written), len(list))
			}
			if got, want := srv.Calls(infisicaltest.RouteCreateBatch), (len(list)+2)/3; got != want {
				t.Errorf("%d create calls for %d secrets in batches of 3, want %d", got, len(list), want)
			}
			stored := srv.Secrets(testProject, "dev", "/")
			for _, w := range list {
				if stored[w.Key] != string(w.Value) {
					t.Errorf("%s is not stored byte for byte", w.Key)
				}
			}
			// The listing gives them back unchanged, through v4 or v3.
			l, err := c.ListSecrets(context.Background(), infisical.ListOptions{ProjectID: testProject, Environment: "dev"})
			if err != nil {
				t.Fatal(err)
			}
			got := l.Values()
			for _, w := range list {
				if strings.Contains(string(w.Value), "${") {
					continue // the server expands references on reading
				}
				if got[w.Key] != string(w.Value) {
					t.Errorf("%s does not read back byte for byte", w.Key)
				}
			}

			update := []infisical.Write{{Key: list[0].Key, Value: "changed-1"}, {Key: list[1].Key, Value: "changed-2"}}
			if _, err := c.UpdateSecrets(context.Background(), writeTarget("/", 100), update); err != nil {
				t.Fatalf("UpdateSecrets: %s", show(err))
			}
			if n := srv.Calls(infisicaltest.RouteUpdateBatch); n != 1 {
				t.Errorf("%d update calls, want 1", n)
			}
			stored = srv.Secrets(testProject, "dev", "/")
			if stored[list[0].Key] != "changed-1" || stored[list[1].Key] != "changed-2" {
				t.Errorf("updates not stored")
			}
			if n := srv.Calls(infisicaltest.RouteLogin); n != 1 {
				t.Errorf("%d logins, want 1", n)
			}
		})
	}
}

func TestCreateMakesAMissingFolder(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	list := []infisical.Write{{Key: "A_TOKEN", Value: "tok-value-1"}}
	if _, err := c.CreateSecrets(context.Background(), writeTarget("/apps/web", 0), list); err != nil {
		t.Fatalf("CreateSecrets: %s", show(err))
	}
	if got := srv.Secrets(testProject, "dev", "/apps/web"); got["A_TOKEN"] != "tok-value-1" {
		t.Errorf("secret not in /apps/web")
	}
	if n := srv.Calls(infisicaltest.RouteCreateFolder); n != 2 {
		t.Errorf("%d folder calls, want 2 (/apps, /apps/web)", n)
	}
	// A folder that exists already is not an error.
	if err := c.CreateFolder(context.Background(), writeTarget("/apps/web", 0)); err != nil {
		t.Errorf("CreateFolder of an existing folder: %s", show(err))
	}
}

func TestWriteFailures(t *testing.T) {
	list := []infisical.Write{{Key: "A_SECRET", Value: "value-aaaa"}, {Key: "B_SECRET", Value: "value-bbbb"}, {Key: "C_SECRET", Value: "value-cccc"}}
	cases := []struct {
		name    string
		setup   func(srv *infisicaltest.Server)
		written []string
		kind    infisical.Kind
		calls   int // create calls
		say     string
	}{
		{name: "500 on the second batch is not retried", setup: func(srv *infisicaltest.Server) { srv.FailWrite(2) },
			written: []string{"A_SECRET", "B_SECRET"}, kind: infisical.Unreachable, calls: 2, say: "HTTP 500"},
		{name: "429 is retried", setup: func(srv *infisicaltest.Server) {
			srv.FailNext(infisicaltest.RouteCreateBatch, infisicaltest.RateLimited(""))
		}, written: []string{"A_SECRET", "B_SECRET", "C_SECRET"}, calls: 3},
		{name: "an existing key refuses its batch", setup: func(srv *infisicaltest.Server) {
			srv.SetSecret(testProject, "dev", "/", "C_SECRET", "already-there")
		}, written: []string{"A_SECRET", "B_SECRET"}, kind: infisical.Invalid, calls: 2, say: "already exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fake(t, infisicaltest.V4)
			c.setup(srv)
			cl := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
			written, err := cl.CreateSecrets(context.Background(), writeTarget("/", 2), list)
			if !slices.Equal(written, c.written) {
				t.Errorf("confirmed %v, want %v", written, c.written)
			}
			if got := infisical.KindOf(err); got != c.kind {
				t.Errorf("kind %v, want %v", got, c.kind)
			}
			if err != nil && !strings.Contains(err.Error(), c.say) {
				t.Errorf("error does not say %q: %s", c.say, show(err))
			}
			if err != nil {
				noValueIn(t, "the error", err.Error(), list)
			}
			if n := srv.Calls(infisicaltest.RouteCreateBatch); n != c.calls {
				t.Errorf("%d create calls, want %d", n, c.calls)
			}
		})
	}
}

func TestReadOnlyServiceToken(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	tok := srv.AddReadOnlyServiceToken(testProject, "prod", "/")
	s := settings(t, srv, infisical.FlagValues{}, map[string]string{"INFISICAL_TOKEN": tok})
	c := newClient(t, s, fastOptions())
	target, err := c.ResolveTarget(context.Background(), s.ListOptions())
	if err != nil {
		t.Fatalf("ResolveTarget: %s", show(err))
	}
	if target.ProjectID != testProject || target.Environment != "prod" || target.SecretPath != "/" {
		t.Errorf("target %+v, want the token's project and environment", target)
	}
	_, err = c.CreateSecrets(context.Background(), infisical.WriteOptions{ProjectID: target.ProjectID, Environment: target.Environment},
		[]infisical.Write{{Key: "X_TOKEN", Value: "value-xxxx"}})
	if infisical.KindOf(err) != infisical.Auth || !strings.Contains(fmt.Sprint(err), "read-only") {
		t.Errorf("err = %s, want an Auth error that says the token may be read-only", show(err))
	}
	if strings.Contains(fmt.Sprint(err), tok[:20]) {
		t.Errorf("the error holds the token")
	}
}

func TestWriteNeedsATarget(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
	_, err := c.CreateSecrets(context.Background(), infisical.WriteOptions{Environment: "dev"}, []infisical.Write{{Key: "K", Value: "v"}})
	if infisical.KindOf(err) != infisical.Invalid {
		t.Errorf("err = %s, want Invalid", show(err))
	}
	if srv.TotalCalls() != 0 {
		t.Errorf("%d calls made for an incomplete target", srv.TotalCalls())
	}
}
