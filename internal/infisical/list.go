package infisical

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/startsvc/startsvc/internal/secrets"
)

// ListOptions says which secrets to list.
type ListOptions struct {
	// ProjectID is the project (workspace) id; empty takes a service token's project.
	ProjectID string
	// Environment is the environment slug; empty takes a service token's first
	// scope, else DefaultEnvironment.
	Environment string
	// SecretPath is the folder; empty is the root.
	SecretPath string
	// Recursive lists the folder's subfolders too, in the same call.
	Recursive bool
	// FolderMayBeMissing lists a folder that does not exist as empty rather
	// than failing with NotFound: a target that migrate is about to create.
	// An unknown project or environment is NotFound all the same.
	FolderMayBeMissing bool
}

// Secret is one secret as listed, after the precedence rules of the package doc.
// Its value never prints.
type Secret struct {
	Key         string
	Value       secrets.Secret
	Path        string // the folder it was read from
	Environment string
	Imported    bool // it came from an import, not from the folder (or its subfolders)
}

// Collision is a key that a recursive listing found in more than one folder.
// It names folders only, never values.
type Collision struct {
	Key     string
	Kept    string   // the folder whose value is used
	Dropped []string // the other folders, sorted
}

func (c Collision) String() string {
	return fmt.Sprintf("%s is defined in %s and in %s; the value from %s is used",
		c.Key, c.Kept, strings.Join(c.Dropped, ", "), c.Kept)
}

// Listing is the outcome of one listing: one Secret per key, sorted by key.
type Listing struct {
	Secrets    []Secret
	Collisions []Collision
	// API is the route that answered: "v4", "v3", or "cli" for the CLI source.
	API string
	// Notes are things a person should know about the listing (names and
	// folders only, never values): that an empty listing could not be told
	// from a typo, for instance.
	Notes []string
}

// Values returns the listing as a map from key to value.
func (l *Listing) Values() map[string]string {
	m := make(map[string]string, len(l.Secrets))
	for _, s := range l.Secrets {
		m[s.Key] = string(s.Value)
	}
	return m
}

// Keys returns the listed keys, sorted.
func (l *Listing) Keys() []string {
	keys := make([]string, len(l.Secrets))
	for i, s := range l.Secrets {
		keys[i] = s.Key
	}
	return keys
}

// wireSecret is a secret in a listing response (v3 raw and v4 share the shape).
type wireSecret struct {
	SecretKey   string  `json:"secretKey"`
	SecretValue *string `json:"secretValue"`
	SecretPath  string  `json:"secretPath"`
	Type        string  `json:"type"`
	Environment string  `json:"environment"`
	// ValueHidden is set by servers that let an identity see names but not values.
	ValueHidden bool `json:"secretValueHidden"`
}

type wireImport struct {
	SecretPath  string       `json:"secretPath"`
	Environment string       `json:"environment"`
	Secrets     []wireSecret `json:"secrets"`
}

type wireListing struct {
	Secrets *[]wireSecret `json:"secrets"`
	Imports []wireImport  `json:"imports"`
}

// decodeError is a listing body that is not what Infisical sends. Its text
// never quotes the body.
type decodeError struct {
	kind Kind
	msg  string
}

func (e *decodeError) Error() string { return e.msg }

// item is a listed secret before the precedence rules have chosen among the
// secrets of one key.
type item struct {
	Secret
	personal bool
}

// decodeSecrets decodes a listing response for the folder base in env and
// applies the precedence rules of the package doc. It fails on anything but a
// JSON object with a "secrets" array of named secrets carrying values; it
// never panics and its errors never quote the body.
func decodeSecrets(body []byte, env, base string) (*Listing, error) {
	var w wireListing
	// Unmarshal, not a Decoder: the body is in memory already, and a
	// Decoder would copy it into its own buffer piece by piece (a third of
	// the decoding time of a 3 MB listing).
	if err := json.Unmarshal(body, &w); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) && afterFirstValue(body, syn.Offset) {
			return nil, &decodeError{Invalid, "invalid JSON in response: data after the object"}
		}
		return nil, &decodeError{Invalid, "invalid JSON in response: " + jsonProblem(err)}
	}
	if w.Secrets == nil {
		return nil, &decodeError{Invalid, `response has no "secrets" list: is this an Infisical server?`}
	}
	base = CleanSecretPath(base)
	var own []item
	for _, ws := range *w.Secrets {
		it, err := fromWire(ws, env, base)
		if err != nil {
			return nil, err
		}
		own = append(own, it)
	}
	l := &Listing{}
	chosen := map[string]Secret{}
	for key, group := range groupByKey(own) {
		winner, c := pickOwn(key, group)
		chosen[key] = winner
		if c != nil {
			l.Collisions = append(l.Collisions, *c)
		}
	}
	// The folder's own secrets win over imported ones; among imports the last
	// one wins, so they are visited from the last.
	for i := len(w.Imports) - 1; i >= 0; i-- {
		imp := w.Imports[i]
		impPath, impEnv := CleanSecretPath(imp.SecretPath), imp.Environment
		if impEnv == "" {
			impEnv = env
		}
		var group []item
		for _, ws := range imp.Secrets {
			it, err := fromWire(ws, impEnv, impPath)
			if err != nil {
				return nil, err
			}
			it.Path, it.Environment, it.Imported = impPath, impEnv, true
			group = append(group, it)
		}
		for key, same := range groupByKey(group) {
			if _, ok := chosen[key]; !ok {
				chosen[key] = preferPersonal(same)
			}
		}
	}
	for _, s := range chosen {
		l.Secrets = append(l.Secrets, s)
	}
	sort.Slice(l.Secrets, func(i, j int) bool { return l.Secrets[i].Key < l.Secrets[j].Key })
	sort.Slice(l.Collisions, func(i, j int) bool { return l.Collisions[i].Key < l.Collisions[j].Key })
	return l, nil
}

// afterFirstValue reports whether a syntax error at offset lies after a
// complete first JSON value of body: the body holds more than one.
func afterFirstValue(body []byte, offset int64) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	return dec.Decode(&v) == nil && dec.InputOffset() < offset
}

func fromWire(ws wireSecret, env, base string) (item, error) {
	if ws.SecretKey == "" {
		return item{}, &decodeError{Invalid, "invalid response: a secret without a name"}
	}
	if ws.ValueHidden {
		return item{}, &decodeError{Auth, fmt.Sprintf("secret %s: the server hides its value from this identity", ws.SecretKey)}
	}
	if ws.SecretValue == nil {
		return item{}, &decodeError{Invalid, fmt.Sprintf("invalid response: secret %s has no value", ws.SecretKey)}
	}
	p := base
	if ws.SecretPath != "" {
		p = CleanSecretPath(ws.SecretPath)
	}
	if ws.Environment != "" {
		env = ws.Environment
	}
	return item{
		Secret:   Secret{Key: ws.SecretKey, Value: secrets.Secret(*ws.SecretValue), Path: p, Environment: env},
		personal: ws.Type == "personal",
	}, nil
}

func groupByKey(list []item) map[string][]item {
	m := map[string][]item{}
	for _, it := range list {
		m[it.Key] = append(m[it.Key], it)
	}
	return m
}

// depth counts a folder's segments: "/" is 0, "/a/b" is 2.
func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// pickOwn chooses among a listing's own secrets of one key: the shallowest
// folder wins, then the lexically first. It reports a collision when the key is
// in more than one folder.
func pickOwn(key string, group []item) (Secret, *Collision) {
	byPath := map[string][]item{}
	var paths []string
	for _, it := range group {
		if _, ok := byPath[it.Path]; !ok {
			paths = append(paths, it.Path)
		}
		byPath[it.Path] = append(byPath[it.Path], it)
	}
	sort.Slice(paths, func(i, j int) bool {
		if di, dj := depth(paths[i]), depth(paths[j]); di != dj {
			return di < dj
		}
		return paths[i] < paths[j]
	})
	winner := preferPersonal(byPath[paths[0]])
	if len(paths) == 1 {
		return winner, nil
	}
	return winner, &Collision{Key: key, Kept: paths[0], Dropped: paths[1:]}
}

// preferPersonal chooses among the secrets of one key in one folder: a personal
// override wins over the shared secret, as in the Infisical CLI. Two of the
// same type cannot exist on a real server; should a response hold them, the
// lexically first value is taken so that the outcome does not depend on order.
func preferPersonal(same []item) Secret {
	best := same[0]
	for _, it := range same[1:] {
		if it.personal != best.personal {
			if it.personal {
				best = it
			}
			continue
		}
		if it.Value < best.Value {
			best = it
		}
	}
	return best.Secret
}
