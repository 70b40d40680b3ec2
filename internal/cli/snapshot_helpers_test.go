package cli_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
	snapshots "github.com/startsvc/startsvc/internal/snapshot"
	"github.com/startsvc/startsvc/internal/testenv"
)

// snapshotValues are what a seeded snapshot holds: every hostile value, and
// values for the precedence probes that differ from .env's and Infisical's.
func snapshotValues() map[string]string {
	m := maps.Clone(testenv.Hostile)
	m["OVERRIDE"] = "override-from-snapshot"
	m["ONLY_INFISICAL"] = "only-in-snapshot-Rk39"
	return m
}

// seedSnapshot stores values as the snapshot startsvc would take with env in
// stack (the same settings resolution), fetched age ago, in the state
// directory state; it returns the snapshot's file.
func seedSnapshot(t *testing.T, state, stack string, env []string, values map[string]string, age time.Duration) string {
	t.Helper()
	st, ref := snapshotOf(t, state, stack, env)
	st.Now = func() time.Time { return time.Now().Add(-age) }
	if err := st.Save(ref, values); err != nil {
		t.Fatal(err)
	}
	return st.File(ref)
}

// snapshotOf is the store in state and the snapshot startsvc uses with env in stack.
func snapshotOf(t *testing.T, state, stack string, env []string) (*snapshots.Store, snapshots.Ref) {
	t.Helper()
	getenv := func(k string) string { return secrets.EnvMap(append([]string{"XDG_STATE_HOME=" + state}, env...))[k] }
	s, err := infisical.ResolveSettings(infisical.FlagValues{}, getenv, stack)
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := snapshots.RefFor(s)
	if !ok {
		t.Fatal("no snapshot for these settings")
	}
	return snapshots.NewStore(getenv, time.Now), ref
}

// assertNothingOnDisk fails when a file below one of dirs holds one of values
// (at least 4 bytes), as it is or JSON-escaped; .env is the user's own.
func assertNothingOnDisk(t *testing.T, values map[string]string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || d.Name() == ".env" {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for k, v := range values {
				esc, _ := json.Marshal(v)
				if len(v) >= secrets.MinMasked && (bytes.Contains(data, []byte(v)) || bytes.Contains(data, esc[1:len(esc)-1])) {
					t.Errorf("%s holds the value of %s in the clear", path, k)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }
