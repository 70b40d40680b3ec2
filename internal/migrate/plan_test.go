package migrate

import (
	"bytes"
	"flag"
	"strings"
	"testing"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleEnv has a bit of everything: comments, quoting styles, export, YAML
// style, a multi-line value, a reference, a bare key.
const sampleEnv = `# Database
DB_HOST=db # the host
DB_PASSWORD="p'a\"s$$w0rd"
DATABASE_URL=postgres://app:${DB_PASSWORD}@db:5432/app

# API
export API_TOKEN='tok-1234 5678'
PORT: 5432
EMPTY_SECRET=
INHERITED_TOKEN
ALREADY_SECRET=same-value-1234
CONFLICT_PASSWORD=dotenv-value-5678
IMPORTED_KEY=imported-same-9999
MULTI_SECRET="line one
line two"
INFISICAL_AUTH_SECRET=bootstrap-secret-0000
`

// sampleValues are the values compose reads from sampleEnv, by key.
var sampleValues = map[string]string{
	"DB_HOST":               "db",
	"DB_PASSWORD":           `p'a"s$w0rd`,
	"DATABASE_URL":          `postgres://app:p'a"s$w0rd@db:5432/app`,
	"API_TOKEN":             "tok-1234 5678",
	"PORT":                  "5432",
	"ALREADY_SECRET":        "same-value-1234",
	"CONFLICT_PASSWORD":     "dotenv-value-5678",
	"IMPORTED_KEY":          "imported-same-9999",
	"MULTI_SECRET":          "line one\nline two",
	"INFISICAL_AUTH_SECRET": "bootstrap-secret-0000",
}

func sampleListing() *infisical.Listing {
	return &infisical.Listing{Secrets: []infisical.Secret{
		{Key: "ALREADY_SECRET", Value: "same-value-1234", Path: "/"},
		{Key: "CONFLICT_PASSWORD", Value: "infisical-value-4321", Path: "/"},
		{Key: "IMPORTED_KEY", Value: "imported-same-9999", Path: "/shared", Imported: true},
		{Key: "REMOTE_ONLY", Value: "remote-only-value", Path: "/"},
	}}
}

func TestPlan(t *testing.T) {
	p, err := NewPlan(Input{Path: ".env", Data: []byte(sampleEnv), Listing: sampleListing()})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		action Action
		state  State
		op     Op
		leaves bool
	}
	want := map[string]row{
		"DB_HOST":               {Keep, Absent, None, false},
		"DB_PASSWORD":           {Move, Absent, Create, true},
		"DATABASE_URL":          {Move, Absent, Create, true},
		"API_TOKEN":             {Move, Absent, Create, true},
		"PORT":                  {Keep, Absent, None, false},
		"EMPTY_SECRET":          {Keep, Absent, None, false},
		"INHERITED_TOKEN":       {Keep, Absent, None, false},
		"ALREADY_SECRET":        {Move, Same, None, true},
		"CONFLICT_PASSWORD":     {Move, Different, None, false},
		"IMPORTED_KEY":          {Move, Same, None, true},
		"MULTI_SECRET":          {Move, Absent, Create, true},
		"INFISICAL_AUTH_SECRET": {Keep, Absent, None, false},
	}
	var order []string
	for _, e := range p.Entries {
		order = append(order, e.Key)
		w, ok := want[e.Key]
		if !ok {
			t.Errorf("unexpected entry %s", e.Key)
			continue
		}
		if got := (row{e.Decision.Action, e.State, e.Op, e.Leaves}); got != w {
			t.Errorf("%s: %+v (%s), want %+v", e.Key, got, e.Decision.Rule, w)
		}
	}
	wantOrder := "DB_HOST DB_PASSWORD DATABASE_URL API_TOKEN PORT EMPTY_SECRET INHERITED_TOKEN ALREADY_SECRET " +
		"CONFLICT_PASSWORD IMPORTED_KEY MULTI_SECRET INFISICAL_AUTH_SECRET"
	if strings.Join(order, " ") != wantOrder {
		t.Errorf("order %v, want the file's", order)
	}
	if e := p.Entries[9]; e.ImportedFrom != "/shared" {
		t.Errorf("IMPORTED_KEY imported from %q, want /shared", e.ImportedFrom)
	}
	if len(p.Problems) > 0 {
		t.Errorf("problems: %q", p.Problems)
	}
	wantContent := `# Database
DB_HOST=db # the host

# API
PORT: 5432
EMPTY_SECRET=
INHERITED_TOKEN
CONFLICT_PASSWORD=dotenv-value-5678
INFISICAL_AUTH_SECRET=bootstrap-secret-0000
`
	if string(p.Content) != wantContent {
		t.Errorf("the rewritten content differs; its lines start: %q", lineStarts(p.Content))
	}
	create, upd := p.Writes()
	if len(upd) != 0 {
		t.Errorf("updates without --overwrite: %d", len(upd))
	}
	var keys []string
	for _, w := range create {
		keys = append(keys, w.Key)
		if string(w.Value) != sampleValues[w.Key] {
			t.Errorf("%s would be written with another value than compose reads", w.Key)
		}
	}
	if strings.Join(keys, " ") != "DB_PASSWORD DATABASE_URL API_TOKEN MULTI_SECRET" {
		t.Errorf("creates %v", keys)
	}
	if got := strings.Join(p.Conflicts(), " "); got != "CONFLICT_PASSWORD" {
		t.Errorf("conflicts %q", got)
	}

	var table bytes.Buffer
	if err := p.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	table.WriteString("\n" + p.Summary() + "\n")
	golden(t, "plan.golden", table.Bytes())
	noValues(t, "the table", table.String(), sampleValues)
}

func TestPlanOverwrite(t *testing.T) {
	p, err := NewPlan(Input{Path: ".env", Data: []byte(sampleEnv), Listing: sampleListing(), Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	_, upd := p.Writes()
	if len(upd) != 1 || upd[0].Key != "CONFLICT_PASSWORD" || string(upd[0].Value) != "dotenv-value-5678" {
		t.Errorf("updates %v, want CONFLICT_PASSWORD with the file's value", upd)
	}
	if len(p.Conflicts()) != 0 || bytes.Contains(p.Content, []byte("CONFLICT_PASSWORD")) {
		t.Errorf("CONFLICT_PASSWORD should leave the file with --overwrite")
	}
	// A differing value that comes from an import is set in the folder itself.
	l := sampleListing()
	l.Secrets[2].Value = "imported-other"
	p, err = NewPlan(Input{Path: ".env", Data: []byte(sampleEnv), Listing: l, Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if e := p.Entries[9]; e.Op != Create || e.State != Different {
		t.Errorf("IMPORTED_KEY: op %v state %v, want a create of a different value", e.Op, e.State)
	}
}

// TestPlanValuesAsUpReadsThem: a reference in the file resolves as startsvc up
// resolves it, Infisical's value first, then the file, then the shell.
func TestPlanValuesAsUpReadsThem(t *testing.T) {
	src := "BASE=dotenv-base\nDERIVED_SECRET=${BASE}-x\nSHELL_SECRET=${FROM_SHELL}-y\nFROM_SHELL\n"
	l := &infisical.Listing{Secrets: []infisical.Secret{{Key: "BASE", Value: "remote-base", Path: "/"}}}
	shell := func(k string) (string, bool) {
		if k == "FROM_SHELL" {
			return "shell", true
		}
		return "", false
	}
	p, err := NewPlan(Input{Path: ".env", Data: []byte(src), Listing: l, Shell: shell})
	if err != nil {
		t.Fatal(err)
	}
	create, _ := p.Writes()
	got := map[string]string{}
	for _, w := range create {
		got[w.Key] = string(w.Value)
	}
	if got["DERIVED_SECRET"] != "remote-base-x" || got["SHELL_SECRET"] != "shell-y" {
		t.Errorf("values differ from what up gives compose")
	}
	// A bare key reads the shell, and stays.
	if p.values["FROM_SHELL"] != "shell" || p.Entries[3].Decision.Action != Keep {
		t.Errorf("the bare FROM_SHELL does not read the shell, or moves")
	}
	if len(p.Problems) > 0 {
		t.Errorf("problems: %q", p.Problems)
	}
}

func TestPlanRefusesWhatWouldChange(t *testing.T) {
	cases := []struct {
		name, src string
		keep      []string
		remote    map[string]string
		say       []string // parts of the one problem; none when empty
	}{
		{name: "leading space", src: "A_SECRET=\" padded-value\"\n", say: []string{"A_SECRET", "white space", "--keep A_SECRET"}},
		{name: "trailing space", src: "A_SECRET=\"padded-value \"\n", say: []string{"A_SECRET", "white space"}},
		{name: "trailing tab", src: "A_SECRET=\"padded-value\t\"\n", say: []string{"A_SECRET", "white space"}},
		{name: "byte order mark", src: "A_SECRET=\"\ufeffvalue-1234\"\n", say: []string{"A_SECRET", "white space"}},
		{name: "one trailing newline survives", src: "A_SECRET=\"value-1234\\n\"\n"},
		{name: "a reference Infisical would expand", src: "A_SECRET='${HOME}-value'\n", say: []string{"A_SECRET", "${…}", "reference"}},
		{name: "an escaped dollar brace", src: "A_SECRET=\"$${HOME}-value\"\n", say: []string{"A_SECRET", "reference"}},
		{name: "kept by hand", src: "A_SECRET=\" padded-value\"\n", keep: []string{"A_SECRET"}},
		{name: "already in Infisical", src: "A_SECRET=\" padded-value\"\n", remote: map[string]string{"A_SECRET": " padded-value"}},
		{name: "a kept key reads a key that leaves", src: "DB_PASSWORD=abcd1234efgh\nDB_HINT=${DB_PASSWORD}\n",
			say: []string{"DB_HINT reads ${DB_PASSWORD}, which would move to Infisical", "--move DB_HINT", "--keep DB_PASSWORD"}},
		{name: "a kept key reads a key that leaves, with a default", src: "DB_PASSWORD=abcd1234efgh\nHINT=\"x${DB_PASSWORD:-none}\"\n",
			say: []string{"HINT reads ${DB_PASSWORD}"}},
		{name: "a kept key tests whether a key that leaves is set", src: "DB_PASSWORD=abcd1234efgh\nUSE_DB=${DB_PASSWORD+yes}\n",
			say: []string{"USE_DB would read differently", "--move USE_DB"}},
		{name: "a moving key reads a moving key", src: "DB_PASSWORD=abcd1234efgh\nDB_URL=postgres://u:${DB_PASSWORD}@db/x\n"},
		{name: "a kept key reads a conflict that stays", src: "DB_PASSWORD=abcd1234efgh\nDB_HINT=${DB_PASSWORD}\n",
			remote: map[string]string{"DB_PASSWORD": "other-value-99"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := &infisical.Listing{}
			for k, v := range c.remote {
				l.Secrets = append(l.Secrets, infisical.Secret{Key: k, Value: secrets.Secret(v), Path: "/"})
			}
			p, err := NewPlan(Input{Path: ".env", Data: []byte(c.src), Listing: l, Keep: c.keep})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.say) == 0 {
				if len(p.Problems) > 0 {
					t.Errorf("problems: %q", p.Problems)
				}
				return
			}
			if len(p.Problems) != 1 {
				t.Fatalf("problems: %q, want one", p.Problems)
			}
			for _, s := range c.say {
				if !strings.Contains(p.Problems[0], s) {
					t.Errorf("problem %q does not say %q", p.Problems[0], s)
				}
			}
			for _, v := range []string{"padded-value", "value-1234", "abcd1234efgh"} {
				if strings.Contains(p.Problems[0], v) {
					t.Errorf("the problem holds a value")
				}
			}
		})
	}
}

func TestPlanOverrides(t *testing.T) {
	src := []byte("DB_HOST=db\nAPI_TOKEN=tok-1234\nINFISICAL_CLIENT_SECRET=cs-1234\nBARE\n")
	p, err := NewPlan(Input{Path: ".env", Data: src, Move: []string{"DB_HOST"}, Keep: []string{"API_TOKEN"}})
	if err != nil {
		t.Fatal(err)
	}
	if e := p.Entries[0]; e.Decision != (Decision{Move, "--move"}) {
		t.Errorf("DB_HOST: %+v", e.Decision)
	}
	if e := p.Entries[1]; e.Decision != (Decision{Keep, "--keep"}) {
		t.Errorf("API_TOKEN: %+v", e.Decision)
	}
	for _, c := range []struct {
		name       string
		move, keep []string
		say        string
	}{
		{"both", []string{"API_TOKEN"}, []string{"API_TOKEN"}, "both --move and --keep"},
		{"bootstrap", []string{"INFISICAL_CLIENT_SECRET"}, nil, "Infisical needs its own settings"},
		{"unknown to move", []string{"NOPE"}, nil, ".env has no NOPE"},
		{"unknown to keep", nil, []string{"NOPE"}, ".env has no NOPE"},
		{"a bare key", []string{"BARE"}, nil, "gives BARE no value"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewPlan(Input{Path: ".env", Data: src, Move: c.move, Keep: c.keep})
			if err == nil || !strings.Contains(err.Error(), c.say) {
				t.Errorf("err = %s, want %q", show(err), c.say)
			}
		})
	}
}

// TestPlanShowsNoValue renders everything a plan says about hostile secrets,
// including its problems, and looks for their values.
func TestPlanShowsNoValue(t *testing.T) {
	values := map[string]string{}
	var src strings.Builder
	for k, v := range testenv.Hostile {
		values[k+"_SECRET"] = v
	}
	data, err := compose.FormatEnv(values)
	if err != nil {
		t.Fatal(err)
	}
	src.Write(data)
	src.WriteString("HINT=${H_JSON_SECRET}\n")
	l := &infisical.Listing{Secrets: []infisical.Secret{{Key: "H_ZEROS_SECRET", Value: "008", Path: "/"}}}
	p, err := NewPlan(Input{Path: ".env", Data: []byte(src.String()), Listing: l})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Problems) == 0 {
		t.Fatal("want problems (white space, ${…}, a kept reader)")
	}
	var out bytes.Buffer
	p.WriteTable(&out)
	out.WriteString(p.Summary())
	out.WriteString(strings.Join(p.Problems, "\n"))
	out.WriteString((&RefusedError{Path: ".env", Problems: p.Problems}).Error())
	noValues(t, "the plan's output", out.String(), values)
}

// noValues fails when text holds a value of at least secrets.MinMasked bytes
// (or one line of a multi-line value); it names the key, never the value.
func noValues(t *testing.T, what, text string, values map[string]string) {
	t.Helper()
	for k, v := range values {
		for _, part := range append([]string{v}, strings.Split(v, "\n")...) {
			if len(part) >= secrets.MinMasked && strings.Contains(text, part) {
				t.Errorf("%s holds the value of %s", what, k)
			}
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	testenv.Golden(t, *update, name, got)
}

// show is err's text with every value of these tests masked, for failure
// messages.
func show(err error) string {
	if err == nil {
		return "no error"
	}
	vals := []string{"padded-value", "abcd1234efgh", "remote-base", "infisical-value-4321", clientSecret}
	for _, v := range sampleValues {
		vals = append(vals, v)
	}
	return secrets.NewRedactor(vals...).String(err.Error())
}

// lineStarts returns the first 12 bytes of each line, enough to tell the
// lines apart without showing a value whole.
func lineStarts(content []byte) []string {
	var out []string
	for _, l := range strings.Split(string(content), "\n") {
		out = append(out, l[:min(len(l), 12)])
	}
	return out
}
