package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
	"github.com/startsvc/startsvc/internal/testenv"
)

// TestMigrateMovesSecretsAndContainersKeepTheirValues is issue 6's first and
// third promises, against a current server and a v3-only one: the dry run
// changes nothing anywhere; --apply moves the secrets, keeps the rest and a
// 0600 backup; startsvc up afterwards gives the container exactly what it got
// before; and no output shows a value.
func TestMigrateMovesSecretsAndContainersKeepTheirValues(t *testing.T) {
	testenv.BuildFixtureImage(t)
	for _, c := range []struct {
		name string
		mode infisicaltest.Mode
	}{
		{"v4 server", infisicaltest.V4},
		{"v3-only server", infisicaltest.V3Only},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := migrateServer(t, c.mode)
			stack := migrateStack(t)
			envPath := filepath.Join(stack, ".env")
			project := testenv.ProjectName(t)
			env := infisicalEnv(srv, "client-secret-value-1")
			var outputs []string

			r := startsvc(t, env, "up", "-C", stack, "-p", project)
			if r.code != 0 {
				t.Fatalf("up before migrating exited %d:\n%s", r.code, masked(r.out))
			}
			before, err := testenv.ContainerEnv(project, "app")
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range migrateValues {
				want := v
				if k == "CONFLICT_PASSWORD" {
					want = "infisical-conflict-value" // Infisical wins
				}
				if before[k] != want {
					t.Fatalf("before migrating, %s does not arrive as expected", k)
				}
			}

			// The dry run.
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(envPath, old, old); err != nil {
				t.Fatal(err)
			}
			start := migrateSnap(t, envPath)
			srv.ResetCalls()
			r = startsvc(t, env, "migrate", "-C", stack)
			outputs = append(outputs, r.out)
			if r.code != 0 {
				t.Fatalf("the dry run exited %d:\n%s", r.code, masked(r.out))
			}
			if !migrateSnap(t, envPath).same(start) {
				t.Errorf("the dry run changed .env or its folder")
			}
			if n := migrateWriteCalls(srv); n != 0 {
				t.Errorf("the dry run made %d write calls", n)
			}
			for _, k := range migrateMoved {
				if !migrateRow(r.out, "move", k) {
					t.Errorf("the dry run does not list %s as moving", k)
				}
			}
			for _, k := range migrateKept {
				if !migrateRow(r.out, "keep", k) {
					t.Errorf("the dry run does not list %s as staying", k)
				}
			}
			if !migrateRow(r.out, "conflict", "CONFLICT_PASSWORD") {
				t.Errorf("the dry run does not list CONFLICT_PASSWORD as a conflict")
			}
			for _, s := range []string{"same value", "DIFFERENT value", "Dry run: nothing was written"} {
				if !strings.Contains(r.out, s) {
					t.Errorf("the dry run does not say %q", s)
				}
			}

			// --apply.
			srv.ResetCalls()
			r = startsvc(t, env, "migrate", "-C", stack, "--apply")
			outputs = append(outputs, r.out)
			if r.code != 0 {
				t.Fatalf("migrate --apply exited %d:\n%s", r.code, masked(r.out))
			}
			if n := srv.Calls(infisicaltest.RouteCreateBatch); n != 1 || migrateWriteCalls(srv) != 1 {
				t.Errorf("%d create calls and %d writes in all, want one batch", n, migrateWriteCalls(srv))
			}
			stored := srv.Secrets("proj-1", "dev", "/")
			for _, k := range migrateMoved {
				if stored[k] != migrateValues[k] {
					t.Errorf("%s is not in Infisical as compose read it", k)
				}
			}
			if stored["CONFLICT_PASSWORD"] != "infisical-conflict-value" {
				t.Errorf("CONFLICT_PASSWORD was overwritten without --overwrite")
			}
			if _, ok := stored["INFISICAL_ENCRYPTION_KEY"]; ok {
				t.Errorf("Infisical's own key was written to Infisical")
			}
			kept, err := compose.ReadEnvFile(envPath, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range migrateMoved {
				if _, ok := kept[k]; ok {
					t.Errorf("%s is still in .env", k)
				}
			}
			for _, k := range append(migrateKept, "CONFLICT_PASSWORD") {
				if v, ok := kept[k]; !ok || v != migrateValues[k] {
					t.Errorf("%s is not kept in .env as it was", k)
				}
			}
			newData, _ := os.ReadFile(envPath)
			if !bytes.HasPrefix(newData, []byte("# Settings\nDB_HOST=db\nPORT=5432\nFEATURE_FLAG=true\n\n# Secrets\nCONFLICT_PASSWORD=")) {
				t.Errorf("comments or the order of kept lines changed")
			}
			if st, _ := os.Stat(envPath); st.Mode().Perm() != 0o640 {
				t.Errorf(".env mode %v, want 0640 as before", st.Mode().Perm())
			}
			bs := migrateBackups(t, stack)
			if len(bs) != 1 {
				t.Fatalf("backups: %v, want one", bs)
			}
			if st, _ := os.Stat(bs[0]); st.Mode().Perm() != 0o600 {
				t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
			}
			if b, _ := os.ReadFile(bs[0]); string(b) != migrateEnv {
				t.Errorf("the backup is not the original .env")
			}
			if !strings.Contains(r.out, "CONFLICT_PASSWORD stays in .env") {
				t.Errorf("the conflict is not reported:\n%s", masked(r.out))
			}

			// up again: the container gets exactly what it got before.
			r = startsvc(t, env, "up", "-C", stack, "-p", project)
			if r.code != 0 {
				t.Fatalf("up after migrating exited %d:\n%s", r.code, masked(r.out))
			}
			after, err := testenv.ContainerEnv(project, "app")
			if err != nil {
				t.Fatal(err)
			}
			for k := range migrateValues {
				if after[k] != before[k] {
					t.Errorf("%s reaches the container differently after the migration (%d bytes, before %d)", k, len(after[k]), len(before[k]))
				}
			}

			// --overwrite then replaces the conflict and removes it from .env.
			r = startsvc(t, env, "migrate", "-C", stack, "--apply", "--overwrite")
			outputs = append(outputs, r.out)
			if r.code != 0 {
				t.Fatalf("migrate --apply --overwrite exited %d:\n%s", r.code, masked(r.out))
			}
			if srv.Secrets("proj-1", "dev", "/")["CONFLICT_PASSWORD"] != migrateValues["CONFLICT_PASSWORD"] {
				t.Errorf("--overwrite did not replace CONFLICT_PASSWORD")
			}
			if kept, _ := compose.ReadEnvFile(envPath, nil); kept["CONFLICT_PASSWORD"] != "" {
				t.Errorf("CONFLICT_PASSWORD is still in .env after --overwrite")
			}
			for _, out := range outputs {
				assertNoValues(t, out, migrateSecrets())
			}
		})
	}
}

// TestMigrateServerFailsHalfway is issue 6's second promise: a 500 on the
// second write leaves .env byte for byte as it was, and the output says which
// secrets were written and which were not.
func TestMigrateServerFailsHalfway(t *testing.T) {
	srv := migrateServer(t, infisicaltest.V4)
	stack := migrateStack(t)
	envPath := filepath.Join(stack, ".env")
	start := migrateSnap(t, envPath)
	srv.FailWrite(2)
	r := startsvc(t, infisicalEnv(srv, "client-secret-value-1"), "migrate", "-C", stack, "--apply", "--batch-size", "2")
	if r.code != 4 {
		t.Fatalf("exit %d, want 4:\n%s", r.code, masked(r.out))
	}
	if !migrateSnap(t, envPath).same(start) {
		t.Errorf(".env or its folder changed (a backup left behind?)")
	}
	for _, s := range []string{"written to Infisical: DB_PASSWORD, API_TOKEN", "not written: DATABASE_URL, MULTI_SECRET", ".env is unchanged", "HTTP 500"} {
		if !strings.Contains(r.out, s) {
			t.Errorf("output does not say %q:\n%s", s, masked(r.out))
		}
	}
	stored := srv.Secrets("proj-1", "dev", "/")
	if stored["DB_PASSWORD"] != migrateValues["DB_PASSWORD"] || stored["API_TOKEN"] != migrateValues["API_TOKEN"] {
		t.Errorf("the first batch is not in Infisical")
	}
	if _, ok := stored["DATABASE_URL"]; ok {
		t.Errorf("DATABASE_URL was written although its batch failed")
	}
	assertNoValues(t, r.out, migrateSecrets())
}
