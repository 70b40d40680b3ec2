package migrate

import (
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/testenv"
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

func TestScanStatementsFollowsComposeGo(t *testing.T) {
	cases := []struct {
		name      string
		src       string
		keys      []string
		inherited []string
	}{
		{name: "statement after a closing quote on the same line", src: "A=\"x\" B=2\nC=3\n", keys: []string{"A", "B", "C"}},
		{name: "comment after a closing quote", src: "A='x' # c\nB=3", keys: []string{"A", "B"}},
		{name: "bare keys", src: "A=1\nINHERITED\nexport\tB=2\n", keys: []string{"A", "INHERITED", "B"}, inherited: []string{"INHERITED"}},
		{name: "unicode blank space and CRLF", src: " \v A=1\r\n\u00a0\r\n# c\r\nB=\"two\r\nlines\"\r\n", keys: []string{"A", "B"}},
		{name: "yaml style and spaces around the sign", src: "A: b\nC = d e # f\n", keys: []string{"A", "C"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts := scanStatements(c.src)
			var keys, inherited []string
			for _, st := range stmts {
				keys = append(keys, st.Key)
				if st.Inherited {
					inherited = append(inherited, st.Key)
				}
			}
			if strings.Join(keys, " ") != strings.Join(c.keys, " ") {
				t.Errorf("keys %v, want %v", keys, c.keys)
			}
			if strings.Join(inherited, " ") != strings.Join(c.inherited, " ") {
				t.Errorf("inherited %v, want %v", inherited, c.inherited)
			}
			// Dropping any one statement leaves every other key as compose-go reads it.
			before, err := compose.ParseEnv("before", []byte(c.src), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range c.keys {
				after, err := compose.ParseEnv("after", []byte(dropStatements(c.src, stmts, map[string]bool{k: true})), nil)
				if err != nil {
					t.Fatalf("without %s: %v", k, err)
				}
				if _, still := after[k]; still {
					t.Errorf("without %s: still there", k)
				}
				for other, v := range before {
					if other != k && after[other] != v {
						t.Errorf("without %s: %s changed", k, other)
					}
				}
			}
		})
	}
}

// TestDropStatementsWithHostileValues writes every hostile value the way
// compose's writer does, among comments, and drops each key in turn.
func TestDropStatementsWithHostileValues(t *testing.T) {
	data, err := compose.FormatEnv(testenv.Hostile, "a header comment")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.ReplaceAll(string(data), "\nH_", "\n# a comment line\nH_")
	stmts := scanStatements(src)
	if len(stmts) != len(testenv.Hostile) {
		t.Fatalf("%d statements, want %d", len(stmts), len(testenv.Hostile))
	}
	for _, st := range stmts {
		out := dropStatements(src, stmts, map[string]bool{st.Key: true})
		after, err := compose.ParseEnv("after", []byte(out), nil)
		if err != nil {
			t.Fatalf("without %s: %v", st.Key, err)
		}
		if _, still := after[st.Key]; still {
			t.Errorf("without %s: still there", st.Key)
		}
		for k, v := range testenv.Hostile {
			if k != st.Key && after[k] != v {
				t.Errorf("without %s: %s changed", st.Key, k)
			}
		}
		if strings.Count(out, "# a comment line") != strings.Count(src, "# a comment line") {
			t.Errorf("without %s: a comment went missing", st.Key)
		}
	}
}
