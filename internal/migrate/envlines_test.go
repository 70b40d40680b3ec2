package migrate

import (
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
)

func TestDropStatementsKeepsEverythingElse(t *testing.T) {
	src := "# Group: database\n" +
		"DB_HOST=db # the host\n" +
		"DB_PASSWORD=\"multi\nline \\\" pass\"\n" +
		"\n" +
		"export API_TOKEN='tok en'\n" +
		"PORT: 5432\n" +
		"EMPTY=\n" +
		"INHERITED\n" +
		"LAST=\"no newline at end\""
	stmts := scanStatements(src)
	var keys []string
	for _, s := range stmts {
		keys = append(keys, s.Key)
	}
	want := []string{"DB_HOST", "DB_PASSWORD", "API_TOKEN", "PORT", "EMPTY", "INHERITED", "LAST"}
	if len(keys) != len(want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("keys = %v, want %v", keys, want)
		}
	}
	out := dropStatements(src, stmts, map[string]bool{"DB_PASSWORD": true, "API_TOKEN": true, "LAST": true})
	wantOut := "# Group: database\nDB_HOST=db # the host\n\nPORT: 5432\nEMPTY=\nINHERITED\n"
	if out != wantOut {
		t.Errorf("got:\n%q\nwant:\n%q", out, wantOut)
	}
	before, err := compose.ParseEnv("before", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := compose.ParseEnv("after", []byte(out), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"DB_HOST", "PORT", "EMPTY"} {
		if before[k] != after[k] {
			t.Errorf("%s changed", k)
		}
	}
	for _, k := range []string{"DB_PASSWORD", "API_TOKEN", "LAST"} {
		if _, ok := after[k]; ok {
			t.Errorf("%s still there", k)
		}
	}
}
