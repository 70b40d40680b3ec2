package cli_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSnapshotCommand is issue 14's fifth promise: `snapshot` lists scope,
// age, key count and state, never a value, in the table and in --json; and
// deletes one or all.
func TestSnapshotCommand(t *testing.T) {
	stack := faultStack(t)
	state := t.TempDir()
	env := append(identityEnv("https://infisical.example", faultClientSecret), "XDG_STATE_HOME="+state)
	values := snapshotValues()
	values["CANARY"] = "snapcmd-canary-Tz82"
	fresh := seedSnapshot(t, state, stack, env, values, 90*time.Minute)
	staging := append(slicesClone(env), "INFISICAL_PROJECT_ID=proj-staging")
	old := seedSnapshot(t, state, stack, staging, map[string]string{"ONE": "one-value-Wq11"}, 100*time.Hour)
	if err := os.WriteFile(filepath.Join(state, "startsvc", "snapshots", "00badf00d.snapshot"), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	hidden := maps.Clone(values)
	hidden["ONE"], hidden["client secret"] = "one-value-Wq11", faultClientSecret

	r := startsvc(t, env, "snapshot")
	if r.code != 0 {
		t.Fatalf("snapshot exited %d:\n%s", r.code, r.out)
	}
	rows := map[string]*regexp.Regexp{
		"fresh":      regexp.MustCompile(`(?m)^[0-9a-f]{12}\s+https://infisical\.example\s+proj-1\s+dev\s+/\s+1h3\dm\s+` + strconv.Itoa(len(values)) + `\s+usable$`),
		"expired":    regexp.MustCompile(`(?m)^[0-9a-f]{12}\s+https://infisical\.example\s+proj-staging\s+dev\s+/\s+4d04h\s+1\s+expired$`),
		"unreadable": regexp.MustCompile(`(?m)^00badf00d\s+(-\s+){6}unreadable: `),
	}
	for what, re := range rows {
		if !re.MatchString(r.out) {
			t.Errorf("the list has no %s row (%s):\n%s", what, re, r.out)
		}
	}
	assertNoValues(t, r.out, hidden)

	if l := startsvc(t, env, "snapshot", "list"); l.out != r.out {
		t.Errorf("snapshot list differs from snapshot:\n%s", l.out)
	}
	r = startsvc(t, env, "snapshot", "list", "--json")
	var doc struct {
		Directory string `json:"directory"`
		Snapshots []struct {
			ID, Server, Project, Environment, Path, State string
			Keys                                          int
			AgeSeconds                                    int64 `json:"age_seconds"`
		} `json:"snapshots"`
	}
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || r.code != 0 {
		t.Fatalf("snapshot --json: exit %d, %v:\n%s", r.code, err, r.out)
	}
	if len(doc.Snapshots) != 3 || doc.Directory != filepath.Join(state, "startsvc", "snapshots") {
		t.Fatalf("snapshot --json: %d snapshots in %s, want 3 in the state directory", len(doc.Snapshots), doc.Directory)
	}
	states := map[string]int{}
	for _, s := range doc.Snapshots {
		states[s.State]++
		if s.Project == "proj-1" && (s.Keys != len(values) || s.AgeSeconds < 5400 || s.AgeSeconds > 5400+600) {
			t.Errorf("snapshot --json: proj-1 has %d keys, age %ds; want %d keys, about 5400s", s.Keys, s.AgeSeconds, len(values))
		}
	}
	if states["usable"] != 1 || states["expired"] != 1 || states["unreadable"] != 1 {
		t.Errorf("snapshot --json states: %v", states)
	}
	assertNoValues(t, r.out, hidden)

	id := strings.TrimSuffix(filepath.Base(old), ".snapshot")
	r = startsvc(t, env, "snapshot", "delete", id[:8])
	if r.code != 0 || !strings.Contains(r.out, "deleted snapshot "+id[:12]+" (proj-staging dev:/ at https://infisical.example)") {
		t.Errorf("snapshot delete: exit %d:\n%s", r.code, r.out)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the deleted snapshot is still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("snapshot delete removed another snapshot too: %v", err)
	}
	if r = startsvc(t, env, "snapshot", "delete"); r.code != 2 {
		t.Errorf("snapshot delete without an id: exit %d, want 2:\n%s", r.code, r.out)
	}
	r = startsvc(t, env, "snapshot", "delete", "--all")
	if r.code != 0 || !strings.Contains(r.out, "deleted 2 snapshots") {
		t.Errorf("snapshot delete --all: exit %d:\n%s", r.code, r.out)
	}
	if entries, _ := os.ReadDir(filepath.Join(state, "startsvc", "snapshots")); len(entries) != 0 {
		t.Errorf("%d files left after delete --all", len(entries))
	}
}
