package infisical_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

func TestPrecedenceOfImportsAndFolders(t *testing.T) {
	type want struct {
		values     map[string]string
		from       map[string]string // key → folder it came from
		collisions []infisical.Collision
	}
	for _, tc := range []struct {
		name  string
		setup func(srv *infisicaltest.Server)
		list  infisical.ListOptions
		want  want
	}{
		{
			name: "the folder's own secrets win over imports; the last import wins",
			setup: func(srv *infisicaltest.Server) {
				srv.SetSecret(testProject, "dev", "/", "OWN", "own-root")
				srv.SetSecret(testProject, "dev", "/shared", "OWN", "own-shared")
				srv.SetSecret(testProject, "dev", "/shared", "BOTH", "both-first")
				srv.SetSecret(testProject, "dev", "/shared", "FIRST_ONLY", "first-only")
				srv.SetSecret(testProject, "prod", "/common", "BOTH", "both-last")
				srv.AddImport(testProject, "dev", "/", "dev", "/shared")
				srv.AddImport(testProject, "dev", "/", "prod", "/common")
			},
			list: infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/"},
			want: want{
				values: map[string]string{"OWN": "own-root", "BOTH": "both-last", "FIRST_ONLY": "first-only"},
				from:   map[string]string{"OWN": "/", "BOTH": "/common", "FIRST_ONLY": "/shared"},
			},
		},
		{
			name: "without recursion, subfolders are not listed",
			setup: func(srv *infisicaltest.Server) {
				srv.SetSecret(testProject, "dev", "/", "ROOT", "root")
				srv.SetSecret(testProject, "dev", "/app", "APP", "app")
			},
			list: infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/"},
			want: want{values: map[string]string{"ROOT": "root"}, from: map[string]string{"ROOT": "/"}},
		},
		{
			name: "recursive: the shallowest folder wins, then the lexically first",
			setup: func(srv *infisicaltest.Server) {
				srv.SetSecret(testProject, "dev", "/", "SHARED", "from-root")
				srv.SetSecret(testProject, "dev", "/app", "SHARED", "from-app")
				srv.SetSecret(testProject, "dev", "/app", "PORT", "app-port")
				srv.SetSecret(testProject, "dev", "/db", "PORT", "db-port")
				srv.SetSecret(testProject, "dev", "/app/deep", "LEVEL", "deep")
				srv.SetSecret(testProject, "dev", "/zz", "LEVEL", "shallow")
				srv.SetSecret(testProject, "dev", "/db", "ONLY_DB", "db")
			},
			list: infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/", Recursive: true},
			want: want{
				values: map[string]string{"SHARED": "from-root", "PORT": "app-port", "LEVEL": "shallow", "ONLY_DB": "db"},
				from:   map[string]string{"SHARED": "/", "PORT": "/app", "LEVEL": "/zz", "ONLY_DB": "/db"},
				collisions: []infisical.Collision{
					{Key: "LEVEL", Kept: "/zz", Dropped: []string{"/app/deep"}},
					{Key: "PORT", Kept: "/app", Dropped: []string{"/db"}},
					{Key: "SHARED", Kept: "/", Dropped: []string{"/app"}},
				},
			},
		},
		{
			name: "recursive below a folder",
			setup: func(srv *infisicaltest.Server) {
				srv.SetSecret(testProject, "dev", "/", "ROOT", "root")
				srv.SetSecret(testProject, "dev", "/apps", "A", "apps")
				srv.SetSecret(testProject, "dev", "/apps/web", "A", "web")
				srv.SetSecret(testProject, "dev", "/appsx", "OTHER", "not below /apps")
			},
			list: infisical.ListOptions{ProjectID: testProject, Environment: "dev", SecretPath: "/apps", Recursive: true},
			want: want{
				values:     map[string]string{"A": "apps"},
				from:       map[string]string{"A": "/apps"},
				collisions: []infisical.Collision{{Key: "A", Kept: "/apps", Dropped: []string{"/apps/web"}}},
			},
		},
		{
			name: "a personal override wins over the shared secret",
			setup: func(srv *infisicaltest.Server) {
				srv.SetSecret(testProject, "dev", "/", "TOKEN", "shared")
				srv.SetPersonalSecret(testProject, "dev", "/", "TOKEN", "personal")
			},
			list: infisical.ListOptions{ProjectID: testProject, Environment: "dev"},
			want: want{values: map[string]string{"TOKEN": "personal"}, from: map[string]string{"TOKEN": "/"}},
		},
		{
			name: "references are expanded by the server",
			setup: func(srv *infisicaltest.Server) {
				srv.SetSecret(testProject, "dev", "/", "HOST", "db.internal")
				srv.SetSecret(testProject, "prod", "/db", "PASS", "pw")
				srv.SetSecret(testProject, "dev", "/", "URL", "postgres://u:${prod.db.PASS}@${HOST}/x ${MISSING}")
			},
			list: infisical.ListOptions{ProjectID: testProject, Environment: "dev"},
			want: want{
				values: map[string]string{"HOST": "db.internal", "URL": "postgres://u:pw@db.internal/x ${MISSING}"},
				from:   map[string]string{"HOST": "/", "URL": "/"},
			},
		},
	} {
		for _, mode := range []infisicaltest.Mode{infisicaltest.V4, infisicaltest.V3Only} {
			t.Run(tc.name+modeName(mode), func(t *testing.T) {
				srv := fake(t, mode)
				tc.setup(srv)
				c := newClient(t, settings(t, srv, infisical.FlagValues{}, universalAuth()), fastOptions())
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				l, err := c.ListSecrets(ctx, tc.list)
				if err != nil {
					t.Fatalf("ListSecrets: %v", err)
				}
				if !reflect.DeepEqual(l.Values(), tc.want.values) {
					t.Errorf("values = %q, want %q", l.Values(), tc.want.values)
				}
				for _, s := range l.Secrets {
					if s.Path != tc.want.from[s.Key] {
						t.Errorf("%s from %q, want %q", s.Key, s.Path, tc.want.from[s.Key])
					}
				}
				if !reflect.DeepEqual(l.Collisions, tc.want.collisions) {
					t.Errorf("collisions = %+v, want %+v", l.Collisions, tc.want.collisions)
				}
				if n := srv.Calls(infisicaltest.RouteLogin); n != 1 {
					t.Errorf("login calls = %d, want 1", n)
				}
			})
		}
	}
}

func TestAPISourceNotifiesCollisions(t *testing.T) {
	srv := fake(t, infisicaltest.V4)
	srv.SetSecret(testProject, "dev", "/", "KEY", "root-value-1")
	srv.SetSecret(testProject, "dev", "/sub", "KEY", "sub-value-1")
	s := settings(t, srv, infisical.FlagValues{Recursive: true}, universalAuth())
	var notes []string
	src, err := infisical.NewSource(s, infisical.Deps{Notify: func(m string) { notes = append(notes, m) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := src.Fetch(ctx)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if got["KEY"] != "root-value-1" {
		t.Errorf("KEY = %q, want the root folder's value", got["KEY"])
	}
	want := []string{"KEY is defined in / and in /sub; the value from / is used"}
	if !reflect.DeepEqual(notes, want) {
		t.Errorf("notes = %q, want %q", notes, want)
	}
	if src.Name() != "Infisical at "+srv.Listener.Addr().String() {
		t.Errorf("Name() = %q", src.Name())
	}
}
