package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/secrets"
)

const editSrc = "# Group: database\n" +
	"DB_HOST=db # the host\n" +
	"export INFISICAL_PROJECT_ID='old-project' # set by hand\n" +
	"DB_PASSWORD=\"multi\nline \\\" pass\"\n" +
	"A=\"x\" INFISICAL_API_URL=http://old\n" +
	"LAST=no-newline"

func editFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEnvFileSetReplacesInPlaceAndKeepsTheRest: a key that is there is
// replaced where it stands (also mid-line, also after export), a new one is
// appended, every other line and comment stays byte for byte, and values of
// any shape read back exactly.
func TestEnvFileSetReplacesInPlaceAndKeepsTheRest(t *testing.T) {
	path := editFile(t, editSrc, 0o644)
	f, err := OpenEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f.now = func() time.Time { return time.Date(2026, 3, 15, 14, 22, 33, 0, time.UTC) }
	set := map[string]string{"INFISICAL_PROJECT_ID": "new-project", "INFISICAL_API_URL": "http://new:8010",
		"NEW_SECRET": `it's "quoted" \ back${X}`, "OTHER": "a $dollar and\nnewline"}
	var list []Assignment
	for _, k := range []string{"INFISICAL_PROJECT_ID", "INFISICAL_API_URL", "NEW_SECRET", "OTHER"} {
		list = append(list, Assignment{Key: k, Value: secretOf(set[k])})
	}
	if err := f.Set(list...); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	got, err := compose.ParseEnv("after", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if got[k] != v {
			t.Errorf("%s does not read back as set", k)
		}
	}
	for k, v := range map[string]string{"DB_HOST": "db", "DB_PASSWORD": "multi\nline \" pass", "A": "x", "LAST": "no-newline"} {
		if got[k] != v {
			t.Errorf("%s changed", k)
		}
	}
	s := string(data)
	for _, part := range []string{"# Group: database\nDB_HOST=db # the host\nINFISICAL_PROJECT_ID=\"new-project\"\nDB_PASSWORD=",
		"A=\"x\" INFISICAL_API_URL=\"http://new:8010\"\nLAST=no-newline\nNEW_SECRET="} {
		if !strings.Contains(s, part) {
			t.Errorf("the file does not hold %q:\n%s", part, s)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if want := path + ".20260315T142233Z.bak"; f.Backup() != want {
		t.Fatalf("backup %q, want %q", f.Backup(), want)
	}
	if b, _ := os.ReadFile(f.Backup()); string(b) != editSrc {
		t.Errorf("the backup is not the file as it was")
	}

	// A second Set keeps the one backup; setting the same values again writes nothing.
	if err := f.Set(Assignment{Key: "NEW_SECRET", Value: "second"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := f.Set(Assignment{Key: "NEW_SECRET", Value: "second"}); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Errorf("setting the same value changed the file")
	}
	if bs, _ := filepath.Glob(path + ".*.bak"); len(bs) != 1 {
		t.Errorf("backups %v, want one", bs)
	}

	// Revert puts back the file as found, mode included, and drops the backup.
	if err := f.Revert(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != editSrc {
		t.Errorf("Revert did not restore the file")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode after Revert %v, want 0644", st.Mode().Perm())
	}
	if bs, _ := filepath.Glob(path + ".*.bak"); len(bs) != 0 {
		t.Errorf("backups left after Revert: %v", bs)
	}
}

// TestEnvFileRefusesWhatWouldNotReadBack: a value no env file can carry, and a
// change that would alter another key, write nothing; a file changed by
// someone else is not overwritten.
func TestEnvFileRefusesWhatWouldNotReadBack(t *testing.T) {
	src := "HOST=a\nURL=http://${HOST}/x\n"
	path := editFile(t, src, 0o600)
	f, err := OpenEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Assignment{{Key: "NUL", Value: "a\x00b"}, {Key: "HOST", Value: "elsewhere"}, {Key: "BAD KEY", Value: "value-of-bad-key"}} {
		err := f.Set(a)
		if err == nil {
			t.Errorf("setting %s was accepted", a.Key)
			continue
		}
		if strings.Contains(err.Error(), string(a.Value)) {
			t.Errorf("the error for %s shows the value", a.Key)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != src {
		t.Errorf("the file changed")
	}
	if bs, _ := filepath.Glob(path + ".*.bak"); len(bs) != 0 {
		t.Errorf("a refused change left a backup: %v", bs)
	}
	if err := os.WriteFile(path, []byte(src+"EDITED=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.Set(Assignment{Key: "NEW", Value: "v"}); err == nil || !strings.Contains(err.Error(), "changed while startsvc was writing it") {
		t.Errorf("err = %v, want a refusal to overwrite a file changed meanwhile", err)
	}
}

// TestEnvFileCreatesAMissingFile: a missing file is created with mode 0600 and
// no backup; Revert removes it again.
func TestEnvFileCreatesAMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	f, err := OpenEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Set(Assignment{Key: "INFISICAL_API_URL", Value: "http://localhost:8010"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "INFISICAL_API_URL=\"http://localhost:8010\"\n" {
		t.Errorf("content %q", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if f.Backup() != "" {
		t.Errorf("a backup of nothing: %s", f.Backup())
	}
	if err := f.Revert(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Revert left the file it created")
	}
}

func secretOf(v string) secrets.Secret { return secrets.Secret(v) }
