package snapshot

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/testenv"
)

const clientSecret = "client-secret-Kq83vZ"

// universal is a machine identity reading proj-1 dev:/ of a server.
func universal(secret string) infisical.Settings {
	return infisical.Settings{SiteURL: "https://infisical.example", ProjectID: "proj-1", Environment: "dev", SecretPath: "/",
		ClientID: "client-id-1", ClientSecret: secrets.Secret(secret), Origin: infisical.Origins{Environment: "--infisical-env"}}
}

// ref is RefFor(s), which must hold credentials.
func ref(t *testing.T, s infisical.Settings) Ref {
	t.Helper()
	r, ok := RefFor(s)
	if !ok {
		t.Fatal("settings with credentials give no snapshot")
	}
	return r
}

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newStore(t *testing.T) (*Store, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return &Store{Dir: filepath.Join(t.TempDir(), "state", "startsvc", "snapshots"), Now: c.now}, c
}

// hostile are the values of testenv.Hostile, plus one holding every canary.
func hostile() map[string]string {
	m := map[string]string{"CANARY": "canary-value-Xw52pL"}
	for k, v := range testenv.Hostile {
		m[k] = v
	}
	return m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	st, c := newStore(t)
	r := ref(t, universal(clientSecret))
	vals := hostile()
	if err := st.Save(r, vals); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(90 * time.Minute)
	snap, err := st.Load(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Values) != len(vals) || snap.Keys != len(vals) {
		t.Fatalf("%d values (header says %d), want %d", len(snap.Values), snap.Keys, len(vals))
	}
	for k, v := range vals {
		if snap.Values[k] != v {
			t.Errorf("%s does not come back byte for byte (%d bytes, want %d)", k, len(snap.Values[k]), len(v))
		}
	}
	if got := snap.Age(c.t); got != 90*time.Minute {
		t.Errorf("age %s, want 1h30m", got)
	}
	if snap.Scope != r.Scope {
		t.Errorf("scope %+v, want %+v", snap.Scope, r.Scope)
	}
}

// TestNothingInTheClear: the file, its name and the directory hold no value,
// no secret name's value and no credential; modes are 0600 and 0700 whatever
// the umask and whatever mode the directory had.
func TestNothingInTheClear(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	st, _ := newStore(t)
	if err := os.MkdirAll(st.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := universal(clientSecret)
	r := ref(t, s)
	vals := hostile()
	for i := 0; i < 3; i++ { // replacing, too
		if err := st.Save(r, vals); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d files in the directory, want 1 (no temporary file left)", len(entries))
	}
	fi, err := os.Stat(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	name := entries[0].Name()
	info, err := entries[0].Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", info.Mode().Perm())
	}
	data, err := os.ReadFile(filepath.Join(st.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	secret := map[string]string{"client secret": clientSecret, "client id": string(s.ClientID)}
	for k, v := range vals {
		if len(v) >= 4 {
			secret[k] = v
		}
	}
	for what, v := range secret {
		if bytes.Contains(data, []byte(v)) || strings.Contains(name, v) {
			t.Errorf("the value of %s is in the snapshot file or its name", what)
		}
		if b, _ := json.Marshal(v); bytes.Contains(data, b[1:len(b)-1]) {
			t.Errorf("the value of %s is in the snapshot file, JSON-escaped", what)
		}
	}
	for _, k := range []string{"H_UNICODE", "CANARY"} {
		if bytes.Contains(data, []byte(k)) {
			t.Errorf("the secret name %s is in the clear", k)
		}
	}
	for _, part := range []string{"proj-1", "infisical.example", "dev"} {
		if strings.Contains(name, part) {
			t.Errorf("the file name %s shows the scope (%s)", name, part)
		}
	}
}

func TestRefusals(t *testing.T) {
	other := universal(clientSecret)
	other.ProjectID = "proj-2"
	cases := []struct {
		name string
		// spoil changes the saved file (at path, made for the scope of r) or
		// the store, and returns the settings to open it with.
		spoil func(t *testing.T, st *Store, path string) infisical.Settings
		say   string
	}{
		{name: "a ciphertext byte flipped", say: "does not decrypt", spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
			edit(t, path, func(f map[string]any) {
				ct, err := base64.StdEncoding.DecodeString(f["ciphertext"].(string))
				if err != nil {
					t.Fatal(err)
				}
				ct[10] ^= 1
				f["ciphertext"] = base64.StdEncoding.EncodeToString(ct)
			})
			return universal(clientSecret)
		}},
		{name: "the time of the fetch made younger", say: "does not decrypt", spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
			edit(t, path, func(f map[string]any) { f["fetched_at"] = time.Now().UTC().Format(time.RFC3339Nano) })
			return universal(clientSecret)
		}},
		{name: "the key count changed", say: "does not decrypt", spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
			edit(t, path, func(f map[string]any) { f["keys"] = 3 })
			return universal(clientSecret)
		}},
		{name: "the client secret rotated since", say: "other credentials", spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
			return universal("rotated-secret-Bn47")
		}},
		{name: "another scope's snapshot copied in", say: "another scope or identity", spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
			if err := st.Save(ref(t, other), map[string]string{"K": "other-scope-value"}); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(st.path(ref(t, other).ID()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			return universal(clientSecret)
		}},
		{name: "another scope's snapshot copied in, its header edited to match", say: "does not decrypt",
			spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
				if err := st.Save(ref(t, other), map[string]string{"K": "other-scope-value"}); err != nil {
					t.Fatal(err)
				}
				var mine map[string]any
				data, _ := os.ReadFile(path)
				_ = json.Unmarshal(data, &mine)
				theirs, _ := os.ReadFile(st.path(ref(t, other).ID()))
				if err := os.WriteFile(path, theirs, 0o600); err != nil {
					t.Fatal(err)
				}
				edit(t, path, func(f map[string]any) { f["scope"], f["identity"] = mine["scope"], mine["identity"] })
				return universal(clientSecret)
			}},
		{name: "not a snapshot", say: "not a snapshot file", spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
			if err := os.WriteFile(path, []byte("DB_PASSWORD=plain\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return universal(clientSecret)
		}},
		{name: "a newer format", say: "format 2", spoil: func(t *testing.T, st *Store, path string) infisical.Settings {
			edit(t, path, func(f map[string]any) { f["format"] = 2 })
			return universal(clientSecret)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _ := newStore(t)
			r := ref(t, universal(clientSecret))
			if err := st.Save(r, hostile()); err != nil {
				t.Fatal(err)
			}
			s := c.spoil(t, st, st.path(r.ID()))
			snap, err := st.Load(ref(t, s))
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("opened (%v), want a refusal", err)
			}
			if snap != nil {
				t.Errorf("a refused snapshot came with values")
			}
			if !strings.Contains(err.Error(), c.say) || !strings.Contains(err.Error(), r.ID()[:12]) {
				t.Errorf("the refusal %q does not say %q and name the snapshot", err, c.say)
			}
			for k, v := range hostile() {
				if len(v) >= 4 && strings.Contains(err.Error(), v) {
					t.Errorf("the refusal shows the value of %s", k)
				}
			}
		})
	}
}

// edit rewrites the snapshot file at path through its JSON form.
func edit(t *testing.T, path string, change func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	change(f)
	if data, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestNotFound(t *testing.T) {
	st, _ := newStore(t)
	_, err := st.Load(ref(t, universal(clientSecret)))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if deleted, err := st.Delete(ref(t, universal(clientSecret))); deleted || err != nil {
		t.Errorf("Delete of nothing = %v, %v", deleted, err)
	}
}

// TestOneSnapshotPerScopeAndIdentity: what names a snapshot.
func TestOneSnapshotPerScopeAndIdentity(t *testing.T) {
	base := universal(clientSecret)
	id := ref(t, base).ID()
	change := map[string]func(*infisical.Settings){
		"server":      func(s *infisical.Settings) { s.SiteURL = "https://other.example" },
		"project":     func(s *infisical.Settings) { s.ProjectID = "proj-2" },
		"environment": func(s *infisical.Settings) { s.Environment = "prod" },
		"path":        func(s *infisical.Settings) { s.SecretPath = "/app" },
		"recursive":   func(s *infisical.Settings) { s.Recursive = true },
		"client id":   func(s *infisical.Settings) { s.ClientID = "client-id-2" },
		"a token instead": func(s *infisical.Settings) {
			s.Token = "eyJ.a.b"
		},
	}
	for what, f := range change {
		s := base
		f(&s)
		if ref(t, s).ID() == id {
			t.Errorf("another %s gives the same snapshot", what)
		}
	}
	rotated := base
	rotated.ClientSecret = "rotated-secret-Bn47"
	if ref(t, rotated).ID() != id {
		t.Errorf("a rotated client secret gives another snapshot: the old one would never be replaced or deleted")
	}
	if _, ok := RefFor(infisical.Settings{SiteURL: "https://x.example", ProjectID: "p"}); ok {
		t.Errorf("settings without credentials give a snapshot")
	}
}

func TestDefaultDir(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/startsvc/snapshots"},
		{map[string]string{"XDG_STATE_HOME": "relative/ignored", "HOME": "/home/u"}, "/home/u/.local/state/startsvc/snapshots"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/startsvc/snapshots"},
		{map[string]string{}, ""},
	}
	for _, c := range cases {
		if got := DefaultDir(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("DefaultDir(%v) = %q, want %q", c.env, got, c.want)
		}
	}
	st := NewStore(func(string) string { return "" }, nil)
	if err := st.Save(ref(t, universal(clientSecret)), map[string]string{"A": "b"}); err == nil || !strings.Contains(err.Error(), "XDG_STATE_HOME") {
		t.Errorf("Save without a state directory: %v, want an error saying what to set", err)
	}
}

func TestListAndRemove(t *testing.T) {
	st, c := newStore(t)
	if list, err := st.List(); err != nil || len(list) != 0 {
		t.Fatalf("List of a missing directory = %v, %v", list, err)
	}
	a := universal(clientSecret)
	b := universal(clientSecret)
	b.Environment = "prod"
	if err := st.Save(ref(t, a), map[string]string{"A": "1", "B": "2"}); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Hour)
	if err := st.Save(ref(t, b), map[string]string{"A": "1"}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(st.Dir, "0000garbage"+fileExt), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 {
		t.Fatalf("%d snapshots listed, want 3", len(list))
	}
	var bad int
	for _, i := range list {
		switch {
		case i.Err != nil:
			bad++
		case i.Scope.Environment == "dev" && i.Keys != 2, i.Scope.Environment == "prod" && i.Keys != 1:
			t.Errorf("%s: %d keys", i.Scope, i.Keys)
		case i.Scope.Environment == "prod" && !i.FetchedAt.Equal(c.t):
			t.Errorf("%s: fetched at %s, want %s", i.Scope, i.FetchedAt, c.t)
		}
	}
	if bad != 1 {
		t.Errorf("%d unreadable entries, want 1", bad)
	}
	if _, err := st.Remove("0"); err == nil {
		t.Errorf("a one-character id was accepted")
	}
	gone, err := st.Remove(ref(t, b).ID()[:8])
	if err != nil || gone.Scope.Environment != "prod" {
		t.Fatalf("Remove by prefix = %+v, %v", gone, err)
	}
	if _, err := st.Load(ref(t, b)); !errors.Is(err, ErrNotFound) {
		t.Errorf("the removed snapshot still opens: %v", err)
	}
	all, err := st.RemoveAll()
	if err != nil || len(all) != 2 {
		t.Fatalf("RemoveAll = %d, %v; want 2", len(all), err)
	}
	if entries, _ := os.ReadDir(st.Dir); len(entries) != 0 {
		t.Errorf("%d files left after RemoveAll", len(entries))
	}
}
