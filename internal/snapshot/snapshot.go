// Package snapshot keeps the last-known-good secrets of each Infisical scope,
// encrypted, so that startsvc can start a stack while Infisical is unreachable
// without falling back to stale plaintext.
//
// A snapshot is one file per scope (server, project, environment, folder) and
// identity (a machine identity's client id, or a token), named by a hash of
// both. Its values are sealed with AES-256-GCM under a key derived with HKDF
// from the identity's credential and the scope; the scope, the identity's
// fingerprint, the time of the fetch and the number of keys stay readable (for
// `startsvc snapshot`) and are bound to the ciphertext as additional data, so
// a snapshot that was altered, copied from another scope or written with other
// credentials does not open. No value, and no credential, is ever written in
// the clear.
package snapshot

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
)

// Scope is what a snapshot holds the secrets of. An empty Project or
// Environment means the one a service token is scoped to.
type Scope struct {
	Server      string `json:"server"`
	Project     string `json:"project"`
	Environment string `json:"environment"`
	Path        string `json:"path"`
	Recursive   bool   `json:"recursive,omitempty"`
}

// String names the scope for messages: "proj-1 dev:/ at https://host".
func (s Scope) String() string {
	project, env := s.Project, s.Environment
	if project == "" {
		project = "(token's project)"
	}
	if env == "" {
		env = "(token's environment)"
	}
	path := s.Path
	if s.Recursive {
		path += " (recursive)"
	}
	return fmt.Sprintf("%s %s:%s at %s", project, env, path, s.Server)
}

// Ref names one snapshot: a scope read by one identity. It holds the
// identity's credential, from which the key is derived; its String shows no
// credential.
type Ref struct {
	Scope Scope
	auth  string // infisical.AuthMethod
	id    string // what identifies the identity: a client id, or the token
	key   []byte // the credential the key is derived from
}

// String names the scope; it never shows the credential.
func (r Ref) String() string { return r.Scope.String() }

// RefFor returns the snapshot of what s reads with s's machine credentials.
// ok is false when s holds none (no Infisical, or the Infisical CLI's own
// login): no snapshot is kept then.
func RefFor(s infisical.Settings) (r Ref, ok bool) {
	r.Scope = Scope{Server: s.SiteURL, Project: s.ProjectID, Environment: s.Environment, Path: s.SecretPath, Recursive: s.Recursive}
	r.auth = string(s.Auth())
	switch s.Auth() {
	case infisical.AuthUniversal:
		r.id = string(s.ClientID)
		r.key = []byte(string(s.ClientID) + "\x00" + string(s.ClientSecret))
	case infisical.AuthAccessToken, infisical.AuthServiceToken:
		r.id = string(s.Token)
		r.key = []byte(s.Token)
		if s.Auth() == infisical.AuthServiceToken && s.Origin.Environment == infisical.OriginDefault {
			r.Scope.Environment = "" // the token's own
		}
	default:
		return Ref{}, false
	}
	if r.Scope.Path == "" {
		r.Scope.Path = infisical.DefaultSecretPath
	}
	return r, true
}

// fingerprint identifies the identity without revealing it: the client id or
// token, hashed. It is what a snapshot file records as its identity.
func (r Ref) fingerprint() string {
	h := sha256.Sum256([]byte("startsvc snapshot identity\x00" + r.auth + "\x00" + r.id))
	return hex.EncodeToString(h[:16])
}

// ID is the snapshot's name: a hash of the scope and the identity's
// fingerprint, which reveals neither.
func (r Ref) ID() string {
	h := sha256.Sum256(append([]byte("startsvc snapshot name\x00"+r.fingerprint()+"\x00"), encodeScope(r.Scope)...))
	return hex.EncodeToString(h[:16])
}

// encodeScope is the scope's canonical byte form, for hashing and key
// derivation: each field length-prefixed, so no two scopes encode alike.
func encodeScope(s Scope) []byte {
	return encodeFields(s.Server, s.Project, s.Environment, s.Path, strconv.FormatBool(s.Recursive))
}

func encodeFields(fields ...string) []byte {
	var b []byte
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

// Info describes a snapshot file without opening it.
type Info struct {
	ID        string    // the file's name without extension
	File      string    // its path
	Scope     Scope     // what it says it holds (checked only when it is opened)
	Auth      string    // how the identity authenticated: "universal auth", "access token", …
	FetchedAt time.Time // when the values were fetched from Infisical
	Keys      int       // how many secrets it holds
	// Err is why the file cannot be read as a snapshot; the other fields are
	// then zero except ID and File.
	Err error
}

// Snapshot is an opened snapshot.
type Snapshot struct {
	Info
	Values map[string]string
}

// Age is how long ago the values were fetched, at now; never negative.
func (i Info) Age(now time.Time) time.Duration { return max(now.Sub(i.FetchedAt), 0) }

// formatVersion is the file format written and read.
const formatVersion = 1

// fileExt ends every snapshot file's name.
const fileExt = ".snapshot"

// header is the readable part of a snapshot file; all of it is bound to the
// ciphertext as additional data.
type header struct {
	Format    int       `json:"format"`
	Scope     Scope     `json:"scope"`
	Auth      string    `json:"auth"`
	Identity  string    `json:"identity"` // Ref.fingerprint
	FetchedAt time.Time `json:"fetched_at"`
	Keys      int       `json:"keys"`
	Salt      []byte    `json:"salt"` // for the key derivation, new with each write
}

// file is a snapshot file: the header, the nonce and the sealed values (a
// JSON object of names to values).
type file struct {
	header
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// additionalData is the header's canonical form, bound to the ciphertext.
func (h header) additionalData() []byte {
	return encodeFields("startsvc snapshot v1", strconv.Itoa(h.Format), string(encodeScope(h.Scope)), h.Auth, h.Identity,
		strconv.FormatInt(h.FetchedAt.UnixNano(), 10), strconv.Itoa(h.Keys), string(h.Salt))
}

// aead returns the cipher for r's snapshot with the given salt: the key comes
// from the credential, the scope and the authentication method.
func (r Ref) aead(salt []byte) (cipher.AEAD, error) {
	info := string(encodeFields("startsvc snapshot key v1", r.auth, string(encodeScope(r.Scope))))
	key, err := hkdf.Key(sha256.New, r.key, salt, info, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ErrNotFound is returned (wrapped) by Load when there is no snapshot for a Ref.
var ErrNotFound = errors.New("no snapshot")

// RefusedError is a snapshot file that exists but must not be used: it was
// altered, belongs to another scope or identity, or is not a snapshot.
type RefusedError struct {
	ID     string
	File   string
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("snapshot %s refused: %s", shortID(e.ID), e.Reason)
}

// shortID is the part of an ID shown to people; `startsvc snapshot delete`
// accepts it.
func shortID(id string) string { return id[:min(len(id), 12)] }

// ShortID is the part of i's ID shown to people.
func (i Info) ShortID() string { return shortID(i.ID) }

// Store is a directory of snapshots. Its methods are safe to call from several
// processes at once: a write replaces a file atomically.
type Store struct {
	// Dir holds the snapshot files; empty means there is no state directory,
	// and every method fails saying so.
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultDir is where snapshots live: $XDG_STATE_HOME/startsvc/snapshots, or
// ~/.local/state/startsvc/snapshots when XDG_STATE_HOME is unset or not an
// absolute path (the XDG rule). It is empty when neither that nor HOME is set.
func DefaultDir(getenv func(string) string) string {
	base := getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(base) {
		home := getenv("HOME")
		if !filepath.IsAbs(home) {
			return ""
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "startsvc", "snapshots")
}

// NewStore returns the store in DefaultDir(getenv), with the clock now.
func NewStore(getenv func(string) string, now func() time.Time) *Store {
	return &Store{Dir: DefaultDir(getenv), Now: now}
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

var errNoDir = errors.New("no state directory for snapshots: set XDG_STATE_HOME or HOME")

func (s *Store) path(id string) string { return filepath.Join(s.Dir, id+fileExt) }

// File is where r's snapshot is (or would be) kept.
func (s *Store) File(r Ref) string { return s.path(r.ID()) }

// Save stores values as r's snapshot, fetched now, replacing the one before.
// The file is written under a temporary name (mode 0600) and renamed into
// place; the directory is created with mode 0700, or made so.
func (s *Store) Save(r Ref, values map[string]string) error {
	if s.Dir == "" {
		return errNoDir
	}
	plain, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	f := file{header: header{Format: formatVersion, Scope: r.Scope, Auth: r.auth, Identity: r.fingerprint(),
		FetchedAt: s.now().UTC(), Keys: len(values), Salt: make([]byte, 32)}}
	rand.Read(f.Salt)
	aead, err := r.aead(f.Salt)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	f.Nonce = make([]byte, aead.NonceSize())
	rand.Read(f.Nonce)
	f.Ciphertext = aead.Seal(nil, f.Nonce, plain, f.additionalData())
	clear(plain)
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if err := os.Chmod(s.Dir, 0o700); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	return writeAtomic(s.path(r.ID()), data)
}

// writeAtomic writes data to a new 0600 file next to path and renames it
// there: a reader sees the old file or the new one, never a part.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*"+fileExt)
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	done = true
	return nil
}

// Load opens r's snapshot. The error wraps ErrNotFound when there is none, and
// is a *RefusedError when the file exists but does not open as r's: altered,
// copied from another scope or identity, written with other credentials (a
// client secret since rotated), or not a snapshot at all.
func (s *Store) Load(r Ref) (*Snapshot, error) {
	if s.Dir == "" {
		return nil, errNoDir
	}
	id := r.ID()
	path := s.path(id)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w of %s in %s", ErrNotFound, r.Scope, s.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	refuse := func(format string, a ...any) error {
		return &RefusedError{ID: id, File: path, Reason: fmt.Sprintf(format, a...)}
	}
	f, err := parse(data)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if f.Scope != r.Scope || f.Auth != r.auth || f.Identity != r.fingerprint() {
		return nil, refuse("it was made for another scope or identity (%s, %s), not %s: a foreign file", f.Scope, f.Auth, r.Scope)
	}
	aead, err := r.aead(f.Salt)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if len(f.Nonce) != aead.NonceSize() {
		return nil, refuse("its nonce has the wrong size")
	}
	plain, err := aead.Open(nil, f.Nonce, f.Ciphertext, f.additionalData())
	if err != nil {
		return nil, refuse("it does not decrypt with this identity's credentials: it was altered, " +
			"or written with other credentials (a client secret since rotated)")
	}
	defer clear(plain)
	var values map[string]string
	if err := json.Unmarshal(plain, &values); err != nil || len(values) != f.Keys {
		return nil, refuse("its content is not the %d secrets it announces", f.Keys)
	}
	return &Snapshot{Info: f.info(id, path), Values: values}, nil
}

// parse reads a snapshot file's structure (without opening it).
func parse(data []byte) (*file, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, errors.New("it is not a snapshot file (not the JSON expected)")
	}
	if f.Format != formatVersion {
		return nil, fmt.Errorf("it has format %d, which this startsvc does not read (it reads %d)", f.Format, formatVersion)
	}
	if f.FetchedAt.IsZero() || len(f.Salt) == 0 || len(f.Ciphertext) == 0 || f.Keys < 0 {
		return nil, errors.New("it is not a snapshot file (fields missing)")
	}
	return &f, nil
}

func (f *file) info(id, path string) Info {
	return Info{ID: id, File: path, Scope: f.Scope, Auth: f.Auth, FetchedAt: f.FetchedAt, Keys: f.Keys}
}

// Delete removes r's snapshot. It reports whether there was one.
func (s *Store) Delete(r Ref) (bool, error) {
	if s.Dir == "" {
		return false, errNoDir
	}
	err := os.Remove(s.path(r.ID()))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete snapshot: %w", err)
	}
	return true, nil
}

// List describes every snapshot in the store, sorted by scope, without
// opening any: what a file says of itself is shown, and is checked only when
// it is opened. A missing directory is an empty store.
func (s *Store) List() ([]Info, error) {
	if s.Dir == "" {
		return nil, errNoDir
	}
	entries, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []Info
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, fileExt) || strings.HasPrefix(name, ".") {
			continue
		}
		id := strings.TrimSuffix(name, fileExt)
		path := filepath.Join(s.Dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			out = append(out, Info{ID: id, File: path, Err: err})
			continue
		}
		f, err := parse(data)
		if err != nil {
			out = append(out, Info{ID: id, File: path, Err: err})
			continue
		}
		out = append(out, f.info(id, path))
	}
	slices.SortFunc(out, func(a, b Info) int {
		return strings.Compare(a.Scope.String()+"\x00"+a.ID, b.Scope.String()+"\x00"+b.ID)
	})
	return out, nil
}

// Remove deletes the snapshots whose ID starts with prefix (at least 4
// characters); more than one match is an error, and nothing is removed.
func (s *Store) Remove(prefix string) (Info, error) {
	if len(prefix) < 4 {
		return Info{}, fmt.Errorf("snapshot id %q: give at least 4 characters", prefix)
	}
	all, err := s.List()
	if err != nil {
		return Info{}, err
	}
	var match []Info
	for _, i := range all {
		if strings.HasPrefix(i.ID, strings.ToLower(prefix)) {
			match = append(match, i)
		}
	}
	switch len(match) {
	case 0:
		return Info{}, fmt.Errorf("no snapshot with id %s in %s", prefix, s.Dir)
	case 1:
	default:
		return Info{}, fmt.Errorf("snapshot id %s is ambiguous: %d snapshots start with it", prefix, len(match))
	}
	if err := os.Remove(match[0].File); err != nil {
		return Info{}, fmt.Errorf("delete snapshot: %w", err)
	}
	return match[0], nil
}

// RemoveAll deletes every snapshot (and any temporary file a killed write
// left) and returns what it deleted.
func (s *Store) RemoveAll() ([]Info, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, i := range all {
		if err := os.Remove(i.File); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("delete snapshot: %w", err)
		}
	}
	if tmps, err := filepath.Glob(filepath.Join(s.Dir, ".tmp-*"+fileExt)); err == nil {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	return all, nil
}
