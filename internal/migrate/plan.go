package migrate

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
)

// State is how the Infisical folder holds a key of the env file.
type State int

const (
	// Absent: Infisical does not have the key.
	Absent State = iota
	// Same: Infisical has the key with the value compose reads from the file.
	Same
	// Different: Infisical has the key with another value.
	Different
)

// Op is what --apply writes to Infisical for a key.
type Op int

const (
	// None: nothing to write (the key stays, or Infisical holds it already).
	None Op = iota
	// Create: a new secret in the folder.
	Create
	// Update: a new value for a secret of the folder (--overwrite).
	Update
)

// Entry is one key of the env file as migrate sees it. It holds no value.
type Entry struct {
	Key      string
	Decision Decision
	State    State
	// ImportedFrom is the folder whose import gives Infisical's value; empty
	// when the folder holds the key itself, or nobody does.
	ImportedFrom string
	Op           Op
	// Leaves says --apply removes the key from the env file. A key to move
	// that Infisical holds with a different value stays without --overwrite.
	Leaves bool
}

// Conflict reports a key to move that stays, because Infisical holds another
// value and --overwrite was not given.
func (e Entry) Conflict() bool { return e.Decision.Action == Move && !e.Leaves }

// Input is what a plan is made from.
type Input struct {
	// Path names the env file in messages and is where Apply works.
	Path string
	// Data is the env file's content.
	Data []byte
	// Listing is the target folder as ListSecrets gives it (not recursive,
	// imports included, references expanded); nil when Infisical has nothing.
	Listing *infisical.Listing
	// Shell looks up the process environment, from which compose fills a
	// reference the file does not define.
	Shell compose.Lookup
	// Move and Keep are the keys a person classified by hand.
	Move, Keep []string
	// Overwrite lets a differing value in Infisical be replaced.
	Overwrite bool
}

// Plan is what migrate would do with one env file, computed without writing
// anything: each key's fate and the file's new content, verified with
// compose-go's parser. It never prints a value.
type Plan struct {
	Path    string
	Entries []Entry // in the order of the file
	// Content is the env file as --apply leaves it: the same bytes without
	// the statements of the keys that leave.
	Content []byte
	// Problems are why --apply would refuse; each names keys, never values.
	Problems []string

	original []byte
	values   map[string]string // what compose reads for each key
	leaving  map[string]bool
	masked   []string
}

// NewPlan reads the env file as compose does (compose-go's parser, references
// resolved as startsvc up resolves them: Infisical's value first, then the
// file's earlier lines, then the process environment), classifies every key,
// compares it with Infisical's folder, and computes and verifies the new
// content. Reasons --apply would refuse are collected in Problems; an error
// means the file cannot be read or the overrides are wrong.
func NewPlan(in Input) (*Plan, error) {
	keepSet, moveSet := setOf(in.Keep...), setOf(in.Move...)
	for _, k := range in.Move {
		if keepSet[k] {
			return nil, fmt.Errorf("%s is given to both --move and --keep", k)
		}
		if Bootstrap(k) {
			return nil, fmt.Errorf("--move %s: Infisical needs its own settings before it can be read, so %s stays in %s", k, k, in.Path)
		}
	}
	own, err := ownKeys(in.Path, in.Data)
	if err != nil {
		return nil, err
	}
	remote := map[string]infisical.Secret{}
	remoteValues := map[string]string{}
	if in.Listing != nil {
		for _, s := range in.Listing.Secrets {
			remote[s.Key] = s
			remoteValues[s.Key] = string(s.Value)
		}
	}
	values, err := compose.ParseEnv(in.Path, in.Data, upLookup(remoteValues, own, in.Shell, nil))
	if err != nil {
		return nil, err
	}
	src := string(in.Data)
	stmts := scanStatements(src)

	// Keys in the order of the file; a key with only bare KEY lines has no
	// value of the file's own.
	var order []string
	assigned, seen := map[string]bool{}, map[string]bool{}
	for _, st := range stmts {
		if !st.Inherited {
			assigned[st.Key] = true
		}
		if !seen[st.Key] {
			seen[st.Key] = true
			order = append(order, st.Key)
		}
	}
	var extra []string
	for k := range values {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	order = append(order, extra...)
	for _, k := range append(slices.Clone(in.Move), in.Keep...) {
		if !seen[k] {
			return nil, fmt.Errorf("%s has no %s", in.Path, k)
		}
		if moveSet[k] && !assigned[k] {
			return nil, fmt.Errorf("--move %s: %s gives %s no value (compose takes it from the environment)", k, in.Path, k)
		}
	}

	p := &Plan{Path: in.Path, original: in.Data, values: values, leaving: map[string]bool{}}
	for _, k := range order {
		if k == "" {
			continue
		}
		v := values[k]
		e := Entry{Key: k}
		switch {
		case keepSet[k]:
			e.Decision = Decision{Keep, "--keep"}
		case moveSet[k]:
			e.Decision = Decision{Move, "--move"}
		case seen[k] && !assigned[k]:
			e.Decision = Decision{Keep, "no value in the file (compose takes it from the environment)"}
		default:
			e.Decision = Classify(k, v)
		}
		if s, ok := remote[k]; ok {
			e.State = Different
			if string(s.Value) == v {
				e.State = Same
			}
			if s.Imported {
				e.ImportedFrom = s.Path
			}
		}
		if e.Decision.Action == Move {
			e.Leaves = e.State != Different || in.Overwrite
			switch {
			case !e.Leaves, e.State == Same:
			case e.State == Absent, e.ImportedFrom != "":
				e.Op = Create
			default:
				e.Op = Update
			}
			p.masked = append(p.masked, v)
		} else if secrets.LooksSecret(k, v) || Bootstrap(k) {
			p.masked = append(p.masked, v)
		}
		if e.Leaves {
			p.leaving[k] = true
			if e.Op != None {
				if problem := roundTrip(k, v); problem != "" {
					p.Problems = append(p.Problems, problem)
				}
			}
		}
		p.Entries = append(p.Entries, e)
	}
	for _, s := range remote {
		p.masked = append(p.masked, string(s.Value))
	}
	p.Content = []byte(dropStatements(src, stmts, p.leaving))
	p.Problems = append(p.Problems, p.verify(values, remoteValues, in.Shell)...)
	return p, nil
}

// upLookup resolves a reference in the env file the way startsvc up does:
// Infisical's value first, then (for a key the file defines) the file's
// earlier lines, then the process environment. Names startsvc never sets
// come from the process environment. Keys in gone resolve to nothing: they
// are no longer in the file, and the file alone must not depend on Infisical
// for them.
func upLookup(remote, own map[string]string, shell compose.Lookup, gone map[string]bool) compose.Lookup {
	return func(k string) (string, bool) {
		if gone[k] {
			return "", false
		}
		if v, ok := remote[k]; ok && !secrets.Reserved(k) {
			return v, true
		}
		if _, mine := own[k]; mine && !secrets.Reserved(k) {
			return "", false
		}
		if shell == nil {
			return "", false
		}
		return shell(k)
	}
}

// ownKeys returns the keys an env file defines. Every reference resolves to
// a stand-in, so that compose-go neither warns about a variable it cannot
// resolve nor fails on a required one: only the keys matter here. A key with
// only bare KEY lines is not the file's own: compose reads it from the
// environment.
func ownKeys(path string, data []byte) (map[string]string, error) {
	own, err := compose.ParseEnv(path, data, func(string) (string, bool) { return probeValue, true })
	if err != nil {
		return nil, err
	}
	bare := map[string]bool{}
	for _, st := range scanStatements(string(data)) {
		if _, seen := bare[st.Key]; !seen || !st.Inherited {
			bare[st.Key] = st.Inherited
		}
	}
	for k, onlyBare := range bare {
		if onlyBare {
			delete(own, k)
		}
	}
	return own, nil
}

// probeValue stands in for a removed key to find who reads it.
const probeValue = "startsvc-migrate-probe"

// verify parses the new content with compose-go and checks that the keys
// that leave are gone and every other key reads exactly as before. A kept key
// that changes because it reads a key that leaves is named with that key.
//
// It parses first with the keys that leave reading as empty, which spares
// the person compose-go's warning about each unset variable, and catches
// every plain reference to them (their values are not empty). Only when that
// finds no change does it parse with them unset, as compose will, for the
// forms that tell empty from unset (${X+word}).
func (p *Plan) verify(before, remote map[string]string, shell compose.Lookup) []string {
	name := filepath.Base(p.Path)
	content := p.Content
	own, err := ownKeys(p.Path, content)
	if err != nil {
		return []string{fmt.Sprintf("the rewritten %s would not read: %v", name, err)}
	}
	exact := upLookup(remote, own, shell, p.leaving)
	quiet := func(k string) (string, bool) {
		if p.leaving[k] {
			return "", true
		}
		return exact(k)
	}
	var problems, changed []string
	for _, lookup := range []compose.Lookup{quiet, exact} {
		after, err := compose.ParseEnv(p.Path, content, lookup)
		if err != nil {
			return []string{fmt.Sprintf("the rewritten %s would not read: %v", name, err)}
		}
		problems, changed = nil, nil
		for _, k := range sortedKeys(before) {
			av, still := after[k]
			switch {
			case p.leaving[k] && still:
				problems = append(problems, fmt.Sprintf("%s cannot be removed from %s without changing other lines; keep it with --keep %s", k, name, k))
			case !p.leaving[k] && (!still || av != before[k]):
				changed = append(changed, k)
			}
		}
		for _, k := range sortedKeys(after) {
			if _, ok := before[k]; !ok {
				problems = append(problems, fmt.Sprintf("%s would appear in the rewritten %s; move or keep the keys around it by hand", k, name))
			}
		}
		if len(changed) > 0 || len(problems) > 0 {
			break
		}
	}
	if len(changed) == 0 {
		return problems
	}
	// Find, for each changed key, the leaving keys it reads: give one leaving
	// key at a time a value and see which keys change with it.
	base, err := compose.ParseEnv(p.Path, content, quiet)
	readers := map[string][]string{}
	for _, m := range sortedKeys(p.leaving) {
		if err != nil {
			break
		}
		probe := func(k string) (string, bool) {
			if k == m {
				return probeValue, true
			}
			return quiet(k)
		}
		got, perr := compose.ParseEnv(p.Path, content, probe)
		if perr != nil {
			continue
		}
		for _, k := range changed {
			gv, gok := got[k]
			bv, bok := base[k]
			if gv != bv || gok != bok {
				readers[k] = append(readers[k], m)
			}
		}
	}
	for _, k := range changed {
		refs := readers[k]
		if len(refs) == 0 {
			problems = append(problems, fmt.Sprintf("%s would read differently once the keys that move leave %s (it may read one of them): "+
				"move %s too (--move %s), or keep what it reads (--keep)", k, name, k, k))
			continue
		}
		problems = append(problems, fmt.Sprintf("%s reads %s, which would move to Infisical, and %s would then give %s another value: "+
			"move %s too (--move %s), or keep %s (--keep %s)",
			k, refList(refs), name, k, k, k, strings.Join(refs, ", "), strings.Join(refs, " --keep ")))
	}
	return problems
}

func refList(keys []string) string {
	refs := make([]string, len(keys))
	for i, k := range keys {
		refs[i] = "${" + k + "}"
	}
	return strings.Join(refs, ", ")
}

// roundTrip says why a value would not read back from Infisical as written,
// or "" when it would.
func roundTrip(key, value string) string {
	switch {
	case !utf8.ValidString(value):
		return fmt.Sprintf("%s: the value is not valid UTF-8, which Infisical cannot store; keep it with --keep %s", key, key)
	case strings.IndexByte(value, 0) >= 0:
		return fmt.Sprintf("%s: the value holds a NUL byte, which Infisical cannot store; keep it with --keep %s", key, key)
	case trimmedByServer(value):
		return fmt.Sprintf("%s: the value starts or ends with white space, which Infisical trims; keep it with --keep %s", key, key)
	case strings.Contains(value, "${"):
		return fmt.Sprintf("%s: the value holds ${…}, which Infisical reads as a reference to another secret; keep it with --keep %s", key, key)
	}
	return ""
}

// trimmedByServer reports whether Infisical would change the value on write:
// it trims white space at both ends but keeps one trailing newline.
func trimmedByServer(v string) bool {
	body := strings.TrimSuffix(v, "\n")
	return strings.TrimFunc(body, func(r rune) bool { return unicode.IsSpace(r) || r == '\uFEFF' }) != body
}

// Leaving returns the keys --apply removes from the env file, sorted.
func (p *Plan) Leaving() []string { return sortedKeys(p.leaving) }

// Conflicts returns the keys to move that stay because Infisical holds
// another value (no --overwrite), in the order of the file.
func (p *Plan) Conflicts() []string {
	var out []string
	for _, e := range p.Entries {
		if e.Conflict() {
			out = append(out, e.Key)
		}
	}
	return out
}

// Writes returns the secrets --apply creates and those it updates, in the
// order of the file.
func (p *Plan) Writes() (create, update []infisical.Write) {
	for _, e := range p.Entries {
		w := infisical.Write{Key: e.Key, Value: secrets.Secret(p.values[e.Key])}
		switch e.Op {
		case Create:
			create = append(create, w)
		case Update:
			update = append(update, w)
		}
	}
	return create, update
}

// Sensitive returns the values that must never appear in output: those of
// keys that move or look secret, and Infisical's.
func (p *Plan) Sensitive() []string { return slices.Clone(p.masked) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
