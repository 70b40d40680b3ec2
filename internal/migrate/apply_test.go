package migrate

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

const (
	project      = "proj-9c2e"
	clientID     = "migrate-client-id"
	clientSecret = "migrate-client-secret-value"
)

// server is a fake Infisical with the test identity and project.
func server(t *testing.T, mode infisicaltest.Mode) *infisicaltest.Server {
	t.Helper()
	srv := infisicaltest.New()
	t.Cleanup(srv.Close)
	srv.SetMode(mode)
	srv.AddIdentity(clientID, clientSecret)
	srv.AddProject(project, "dev")
	return srv
}

func client(t *testing.T, srv *infisicaltest.Server) *infisical.Client {
	t.Helper()
	s, err := infisical.ResolveSettings(infisical.FlagValues{URL: srv.URL}, func(k string) string {
		return map[string]string{
			"INFISICAL_CLIENT_ID": clientID, "INFISICAL_CLIENT_SECRET": clientSecret, "INFISICAL_PROJECT_ID": project,
		}[k]
	}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := infisical.NewClient(s, infisical.Options{RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// envFile writes content to .env in a new folder with mode perm and returns its path.
func envFile(t *testing.T, content string, perm fs.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// planFor lists the folder and makes a plan for the file at path.
func planFor(t *testing.T, c *infisical.Client, path, folder string, overwrite bool) *Plan {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.ListSecrets(context.Background(), infisical.ListOptions{ProjectID: project, Environment: "dev", SecretPath: folder, FolderMayBeMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(Input{Path: path, Data: data, Listing: l, Overwrite: overwrite})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func target(folder string, batch int) ApplyOptions {
	return ApplyOptions{
		Target: infisical.WriteOptions{ProjectID: project, Environment: "dev", SecretPath: folder, BatchSize: batch},
		Now:    func() time.Time { return time.Date(2026, 3, 15, 14, 22, 33, 0, time.UTC) },
	}
}

var backupPattern = regexp.MustCompile(`^\.env\.\d{8}T\d{6}Z(-\d+)?\.bak$`)

// backups returns the backup files next to path.
func backups(t *testing.T, path string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if backupPattern.MatchString(e.Name()) {
			out = append(out, filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
	return out
}

// unchanged fails unless the file at path still has data, mtime and mode,
// and nothing else is in its folder.
func unchanged(t *testing.T, path string, data []byte, before fs.FileInfo) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("%s changed", path)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.ModTime().Equal(before.ModTime()) || st.Mode() != before.Mode() {
		t.Errorf("%s: mtime or mode changed", path)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files next to %s: %v, want none", filepath.Base(path), names)
	}
}

func TestApply(t *testing.T) {
	for _, mode := range []infisicaltest.Mode{infisicaltest.V4, infisicaltest.V3Only} {
		name := map[infisicaltest.Mode]string{infisicaltest.V4: "v4", infisicaltest.V3Only: "v3-only"}[mode]
		t.Run(name, func(t *testing.T) {
			srv := server(t, mode)
			srv.SetSecret(project, "dev", "/", "ALREADY_SECRET", "same-value-1234")
			srv.SetSecret(project, "dev", "/", "CONFLICT_PASSWORD", "infisical-value-4321")
			srv.SetSecret(project, "dev", "/shared", "IMPORTED_KEY", "imported-same-9999")
			srv.AddImport(project, "dev", "/", "dev", "/shared")
			c := client(t, srv)
			path := envFile(t, sampleEnv, 0o640)
			p := planFor(t, c, path, "/", false)
			srv.ResetCalls()

			res, err := p.Apply(context.Background(), c, target("/", 100))
			if err != nil {
				t.Fatalf("Apply: %s", show(err))
			}
			// The secrets are in Infisical exactly as compose read them.
			stored := srv.Secrets(project, "dev", "/")
			for _, k := range []string{"DB_PASSWORD", "DATABASE_URL", "API_TOKEN", "MULTI_SECRET", "ALREADY_SECRET"} {
				if stored[k] != sampleValues[k] {
					t.Errorf("%s is not in Infisical as compose read it", k)
				}
			}
			if stored["CONFLICT_PASSWORD"] != "infisical-value-4321" {
				t.Errorf("CONFLICT_PASSWORD was overwritten without --overwrite")
			}
			if _, ok := stored["IMPORTED_KEY"]; ok {
				t.Errorf("IMPORTED_KEY was written although its import has the same value")
			}
			// One batch, one listing to read back; no login again.
			for route, want := range map[string]int{infisicaltest.RouteCreateBatch: 1, infisicaltest.RouteUpdateBatch: 0,
				infisicaltest.RouteCreateSecret: 0, infisicaltest.RouteLogin: 0} {
				if n := srv.Calls(route); n != want {
					t.Errorf("%s: %d calls, want %d", route, n, want)
				}
			}
			// The file: the kept lines, same mode; the backup: the original, 0600.
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, p.Content) {
				t.Errorf("the file is not the plan's content")
			}
			if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want 0640 as before", st.Mode().Perm())
			}
			bs := backups(t, path)
			if len(bs) != 1 || bs[0] != res.Backup || filepath.Base(res.Backup) != ".env.20260315T142233Z.bak" {
				t.Fatalf("backups %v, result %q", bs, res.Backup)
			}
			if st, _ := os.Stat(res.Backup); st.Mode().Perm() != 0o600 {
				t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
			}
			if b, _ := os.ReadFile(res.Backup); string(b) != sampleEnv {
				t.Errorf("the backup is not the original")
			}
			if strings.Join(res.Created, " ") != "DB_PASSWORD DATABASE_URL API_TOKEN MULTI_SECRET" || len(res.Updated) != 0 ||
				strings.Join(res.Conflicts, " ") != "CONFLICT_PASSWORD" || len(res.Removed) != 6 {
				t.Errorf("result %+v", res)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 2 {
				t.Errorf("%d files in the folder, want .env and its backup (no temporary file left)", len(entries))
			}

			// A second run finds nothing left to move, and writes nothing.
			p = planFor(t, c, path, "/", false)
			srv.ResetCalls()
			res, err = p.Apply(context.Background(), c, target("/", 100))
			if err != nil {
				t.Fatal(show(err))
			}
			if res.Backup != "" || len(res.Removed) != 0 || srv.TotalCalls() != 0 || len(backups(t, path)) != 1 {
				t.Errorf("second run: %+v, %d calls", res, srv.TotalCalls())
			}

			// --overwrite replaces the conflict, in one update call.
			p = planFor(t, c, path, "/", true)
			srv.ResetCalls()
			res, err = p.Apply(context.Background(), c, target("/", 100))
			if err != nil {
				t.Fatal(show(err))
			}
			if srv.Secrets(project, "dev", "/")["CONFLICT_PASSWORD"] != "dotenv-value-5678" || srv.Calls(infisicaltest.RouteUpdateBatch) != 1 {
				t.Errorf("--overwrite did not replace CONFLICT_PASSWORD in one call")
			}
			if strings.Join(res.Updated, " ") != "CONFLICT_PASSWORD" || len(backups(t, path)) != 2 {
				t.Errorf("result %+v; %d backups, want 2", res, len(backups(t, path)))
			}
		})
	}
}

func TestApplyFailsHalfway(t *testing.T) {
	srv := server(t, infisicaltest.V4)
	c := client(t, srv)
	path := envFile(t, sampleEnv, 0o600)
	before, _ := os.Stat(path)
	p := planFor(t, c, path, "/", false)
	srv.FailWrite(2) // the second batch of two
	_, err := p.Apply(context.Background(), c, target("/", 2))
	var ae *ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %s, want an *ApplyError", show(err))
	}
	unchanged(t, path, []byte(sampleEnv), before)
	notWritten := "API_TOKEN ALREADY_SECRET CONFLICT_PASSWORD IMPORTED_KEY MULTI_SECRET"
	if strings.Join(ae.Written, " ") != "DB_PASSWORD DATABASE_URL" || strings.Join(ae.NotWritten, " ") != notWritten {
		t.Errorf("written %v, not written %v", ae.Written, ae.NotWritten)
	}
	if infisical.KindOf(err) != infisical.Unreachable {
		t.Errorf("kind %v, want unreachable (500)", infisical.KindOf(err))
	}
	text := err.Error()
	for _, s := range []string{"written to Infisical: DB_PASSWORD, DATABASE_URL", "not written: API_TOKEN, ALREADY_SECRET, CONFLICT_PASSWORD, IMPORTED_KEY, MULTI_SECRET", path + " is unchanged"} {
		if !strings.Contains(text, s) {
			t.Errorf("error does not say %q", s)
		}
	}
	noValues(t, "the error", text, sampleValues)

	// Running again after the server recovered finishes the job: the two
	// written are found with the same value and not written again.
	srv.ClearFaults()
	p = planFor(t, c, path, "/", false)
	srv.ResetCalls()
	res, err := p.Apply(context.Background(), c, target("/", 2))
	if err != nil {
		t.Fatal(show(err))
	}
	if strings.Join(res.Created, " ") != notWritten || srv.Calls(infisicaltest.RouteCreateBatch) != 3 {
		t.Errorf("second run created %v in %d calls", res.Created, srv.Calls(infisicaltest.RouteCreateBatch))
	}
}

// store wraps a real client so that a test can change what one call does.
type store struct {
	Store
	list func(ctx context.Context, o infisical.ListOptions) (*infisical.Listing, error)
}

func (s store) ListSecrets(ctx context.Context, o infisical.ListOptions) (*infisical.Listing, error) {
	if s.list != nil {
		return s.list(ctx, o)
	}
	return s.Store.ListSecrets(ctx, o)
}

var _ Store = store{}

func TestApplyKeepsTheFileWhenAValueReadsBackDifferently(t *testing.T) {
	srv := server(t, infisicaltest.V3Only)
	c := client(t, srv)
	path := envFile(t, sampleEnv, 0o600)
	before, _ := os.Stat(path)
	p := planFor(t, c, path, "/", false)
	s := store{Store: c, list: func(ctx context.Context, o infisical.ListOptions) (*infisical.Listing, error) {
		l, err := c.ListSecrets(ctx, o)
		for i := range l.Secrets {
			if l.Secrets[i].Key == "API_TOKEN" {
				l.Secrets[i].Value += "-changed"
			}
		}
		return l, err
	}}
	_, err := p.Apply(context.Background(), s, target("/", 100))
	var ae *ApplyError
	if !errors.As(err, &ae) || strings.Join(ae.Mismatched, " ") != "API_TOKEN" {
		t.Fatalf("err = %s, want API_TOKEN read back differently", show(err))
	}
	if !strings.Contains(err.Error(), "written to Infisical: DB_PASSWORD, DATABASE_URL, ALREADY_SECRET, CONFLICT_PASSWORD, IMPORTED_KEY, MULTI_SECRET") {
		t.Errorf("error does not name the secrets written: %s", show(err))
	}
	unchanged(t, path, []byte(sampleEnv), before)
}

func TestApplyRefuses(t *testing.T) {
	srv := server(t, infisicaltest.V4)
	c := client(t, srv)

	// A plan with problems writes nothing.
	path := envFile(t, "A_SECRET=\" padded-value\"\n", 0o600)
	before, _ := os.Stat(path)
	p := planFor(t, c, path, "/", false)
	srv.ResetCalls()
	_, err := p.Apply(context.Background(), c, target("/", 100))
	var re *RefusedError
	if !errors.As(err, &re) || srv.TotalCalls() != 0 {
		t.Errorf("err = %s and %d calls, want a refusal and no call", show(err), srv.TotalCalls())
	}
	unchanged(t, path, []byte("A_SECRET=\" padded-value\"\n"), before)

	// A file changed since the plan was made writes nothing.
	path = envFile(t, sampleEnv, 0o600)
	p = planFor(t, c, path, "/", false)
	edited := sampleEnv + "NEW_SETTING=1\n"
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ = os.Stat(path)
	srv.ResetCalls()
	_, err = p.Apply(context.Background(), c, target("/", 100))
	if err == nil || !strings.Contains(err.Error(), "changed while migrate ran") || srv.TotalCalls() != 0 {
		t.Errorf("err = %s and %d calls, want a refusal and no call", show(err), srv.TotalCalls())
	}
	unchanged(t, path, []byte(edited), before)
}

func TestApplyToANewFolderThroughASymlink(t *testing.T) {
	srv := server(t, infisicaltest.V4)
	c := client(t, srv)
	real := envFile(t, sampleEnv, 0o600)
	link := filepath.Join(t.TempDir(), ".env")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	p := planFor(t, c, link, "/apps/web", false)
	res, err := p.Apply(context.Background(), c, target("/apps/web", 100))
	if err != nil {
		t.Fatal(show(err))
	}
	if got := srv.Secrets(project, "dev", "/apps/web"); got["DB_PASSWORD"] != sampleValues["DB_PASSWORD"] {
		t.Errorf("DB_PASSWORD not in the new folder")
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file")
	}
	if got, _ := os.ReadFile(real); !bytes.Equal(got, p.Content) {
		t.Errorf("the link's target was not rewritten")
	}
	if filepath.Dir(res.Backup) != filepath.Dir(real) {
		t.Errorf("backup %s is not next to the file", res.Backup)
	}
}

func TestApplyWithReadOnlyServiceToken(t *testing.T) {
	srv := server(t, infisicaltest.V4)
	tok := srv.AddReadOnlyServiceToken(project, "dev", "/")
	s, err := infisical.ResolveSettings(infisical.FlagValues{URL: srv.URL},
		func(k string) string { return map[string]string{"INFISICAL_TOKEN": tok}[k] }, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := infisical.NewClient(s, infisical.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := c.ResolveTarget(context.Background(), s.ListOptions())
	if err != nil {
		t.Fatal(err)
	}
	path := envFile(t, sampleEnv, 0o600)
	before, _ := os.Stat(path)
	p := planFor(t, c, path, "/", false)
	_, err = p.Apply(context.Background(), c, ApplyOptions{Target: infisical.WriteOptions{
		ProjectID: tgt.ProjectID, Environment: tgt.Environment, SecretPath: tgt.SecretPath}})
	if infisical.KindOf(err) != infisical.Auth || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("err = %s, want an Auth error about a read-only token", show(err))
	}
	if !strings.Contains(err.Error(), "not written: DB_PASSWORD, DATABASE_URL, API_TOKEN, ALREADY_SECRET, CONFLICT_PASSWORD, IMPORTED_KEY, MULTI_SECRET") {
		t.Errorf("the error does not list what was not written")
	}
	unchanged(t, path, []byte(sampleEnv), before)
}

func TestBackupNeverReplacesAFile(t *testing.T) {
	path := envFile(t, "A=1\n", 0o644)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	first, err := createBackup(path, []byte("one"), at)
	if err != nil {
		t.Fatal(err)
	}
	second, err := createBackup(path, []byte("two"), at)
	if err != nil {
		t.Fatal(err)
	}
	if first == second || !slices.Equal([]string{filepath.Base(first), filepath.Base(second)},
		[]string{".env.20260102T030405Z.bak", ".env.20260102T030405Z-2.bak"}) {
		t.Errorf("backups %s and %s", first, second)
	}
	if b, _ := os.ReadFile(first); string(b) != "one" {
		t.Errorf("the first backup was replaced")
	}
}
