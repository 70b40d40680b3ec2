package snapshot

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
)

func unreachable(msg string) error {
	return &infisical.Error{Kind: infisical.Unreachable, Op: "log in to Infisical", Host: "infisical.example", Message: msg}
}

func refusedCredentials() error {
	return &infisical.Error{Kind: infisical.Auth, Op: "log in to Infisical", Host: "infisical.example", Status: 401, Message: "Invalid credentials"}
}

// text is everything a decision says, one message a line, with its level.
func text(d Decision) string {
	var b strings.Builder
	d.Tell(func(f string, a ...any) { fmt.Fprintf(&b, "WARNING: "+f+"\n", a...) },
		func(f string, a ...any) { fmt.Fprintf(&b, f+"\n", a...) },
		func(f string, a ...any) { fmt.Fprintf(&b, "detail: "+f+"\n", a...) })
	return b.String()
}

func TestFallback(t *testing.T) {
	vals := hostile()
	type outcome struct {
		use     bool
		code    int      // exit code of Err; 0 for none
		say     []string // what the messages must hold
		present bool     // the snapshot file exists afterwards
	}
	cases := []struct {
		name    string
		policy  Policy
		age     time.Duration // of the stored snapshot; 0 means none is stored
		spoil   bool          // the stored snapshot is altered
		s       infisical.Settings
		fetched map[string]string
		err     error
		want    outcome
	}{
		{name: "fetched: saved", s: universal(clientSecret), fetched: vals,
			want: outcome{say: []string{fmt.Sprintf("detail: kept an encrypted snapshot of the %d secrets", len(vals))}, present: true}},
		{name: "fetched: replaces an expired one", age: 400 * time.Hour, s: universal(clientSecret), fetched: vals,
			want: outcome{present: true}},
		{name: "unreachable, fresh snapshot: used, with the age and the cause", age: 2*time.Hour + 5*time.Minute,
			s: universal(clientSecret), err: unreachable("connection refused"),
			want: outcome{use: true, present: true, say: []string{"WARNING: Infisical is unreachable, using the snapshot of its secrets taken 2h05m ago (" + fmt.Sprint(len(vals)) + " secrets",
				"--max-stale 72h): log in to Infisical at infisical.example: connection refused"}}},
		{name: "unreachable, expired snapshot: not used, and said so", age: 73 * time.Hour,
			s: universal(clientSecret), err: unreachable("connection refused"),
			want: outcome{present: true, say: []string{"WARNING: the snapshot of Infisical's secrets was taken 3d01h ago, longer than --max-stale 72h: expired, not used"}}},
		{name: "unreachable, no snapshot: the env file", s: universal(clientSecret), err: unreachable("connection refused"),
			want: outcome{say: []string{"detail: no snapshot of proj-1 dev:/ at https://infisical.example"}}},
		{name: "unreachable, altered snapshot: refused, not used", age: time.Hour, spoil: true,
			s: universal(clientSecret), err: unreachable("connection refused"),
			want: outcome{present: true, say: []string{"WARNING: snapshot ", "refused: it does not decrypt", "not used (`startsvc snapshot delete "}}},
		{name: "unreachable under --require-infisical: not used", age: time.Hour, policy: Policy{Require: true},
			s: universal(clientSecret), err: unreachable("connection refused"), want: outcome{present: true}},
		{name: "401: deleted", age: time.Hour, s: universal("wrong-secret"), err: refusedCredentials(),
			want: outcome{say: []string{"WARNING: Infisical refused the credentials: deleted the encrypted snapshot of proj-1 dev:/"}}},
		{name: "403: deleted", age: time.Hour, s: universal(clientSecret),
			err:  &infisical.Error{Kind: infisical.Auth, Op: "list Infisical secrets", Status: 403, Message: "Token expired"},
			want: outcome{say: []string{"deleted the encrypted snapshot"}}},
		{name: "404: kept, not used", age: time.Hour, s: universal(clientSecret),
			err:  &infisical.Error{Kind: infisical.NotFound, Op: "list Infisical secrets", Status: 404},
			want: outcome{present: true}},
		{name: "offline: used, nothing asked", age: 5 * time.Minute, policy: Policy{Offline: true}, s: universal(clientSecret),
			want: outcome{use: true, present: true, say: []string{"--offline: using the snapshot of Infisical's secrets taken 5m ago (" + fmt.Sprint(len(vals)) + " secrets"}}},
		{name: "offline without a snapshot: exit 4", policy: Policy{Offline: true}, s: universal(clientSecret),
			want: outcome{code: exitcode.Infisical, say: []string{"--offline: no snapshot of proj-1 dev:/", "run once while Infisical is reachable"}}},
		{name: "offline with an expired snapshot: exit 4", age: 80 * time.Hour, policy: Policy{Offline: true}, s: universal(clientSecret),
			want: outcome{code: exitcode.Infisical, present: true, say: []string{"taken 3d08h ago, longer than --max-stale 72h"}}},
		{name: "offline with an altered snapshot: exit 4", age: time.Hour, spoil: true, policy: Policy{Offline: true}, s: universal(clientSecret),
			want: outcome{code: exitcode.Infisical, present: true, say: []string{"refused: it does not decrypt"}}},
		{name: "offline without credentials: exit 4", policy: Policy{Offline: true},
			s:    infisical.Settings{SiteURL: "https://infisical.example"},
			want: outcome{code: exitcode.Infisical, say: []string{"--offline: the snapshots are opened with Infisical's machine credentials"}}},
		{name: "not configured: nothing kept", s: infisical.Settings{SiteURL: "https://infisical.example"},
			err: &infisical.Error{Kind: infisical.NotConfigured, Op: "use Infisical"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, clk := newStore(t)
			stored := universal(clientSecret)
			if c.age > 0 {
				if err := st.Save(ref(t, stored), vals); err != nil {
					t.Fatal(err)
				}
				if c.spoil {
					edit(t, st.path(ref(t, stored).ID()), func(f map[string]any) { f["keys"] = 1 })
				}
				clk.t = clk.t.Add(c.age)
			}
			p := c.policy
			p.Store = st
			if p.MaxStale == 0 {
				p.MaxStale = DefaultMaxStale
			}
			d := p.Fallback(c.s, c.fetched, c.err)
			out := text(d)
			if d.Use != c.want.use {
				t.Errorf("Use = %v, want %v\n%s", d.Use, c.want.use, out)
			}
			if d.Use {
				for k, v := range vals {
					if d.Values[k] != v {
						t.Errorf("%s is not the snapshot's value", k)
					}
				}
			} else if d.Values != nil {
				t.Errorf("values without Use")
			}
			if got := exitcode.Of(nil, d.Err); d.Err != nil && got != c.want.code || d.Err == nil && c.want.code != 0 {
				t.Errorf("err = %v (exit %d), want exit %d", d.Err, got, c.want.code)
			}
			if d.Err != nil {
				out += "error: " + d.Err.Error() + "\n"
			}
			for _, s := range c.want.say {
				if !strings.Contains(out, s) {
					t.Errorf("the decision does not say %q:\n%s", s, out)
				}
			}
			for k, v := range vals {
				if len(v) >= 4 && strings.Contains(out, v) {
					t.Errorf("the decision shows the value of %s", k)
				}
			}
			_, err := os.Stat(st.path(ref(t, stored).ID()))
			if present := err == nil; present != c.want.present {
				t.Errorf("snapshot present afterwards: %v, want %v", present, c.want.present)
			}
		})
	}
}

func TestFallbackSaveFailureIsAWarning(t *testing.T) {
	dir := t.TempDir()
	blocker := dir + "/file"
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p := Policy{Store: &Store{Dir: blocker + "/snapshots"}, MaxStale: DefaultMaxStale}
	d := p.Fallback(universal(clientSecret), map[string]string{"A": "value-a"}, nil)
	if d.Use || d.Err != nil || !strings.Contains(text(d), "WARNING: could not keep the encrypted snapshot") {
		t.Errorf("a failed save: Use %v, err %v, said:\n%s", d.Use, d.Err, text(d))
	}
}

func TestEarly(t *testing.T) {
	cases := []struct {
		name    string
		age     time.Duration
		require bool
		use     bool
		say     string
	}{
		{name: "fresh: used instead of stand-ins", age: 3 * time.Hour, use: true, say: "until the in-stack Infisical answers, compose gets the snapshot of its secrets taken 3h ago (" + fmt.Sprint(len(hostile())) + " secrets)"},
		{name: "expired: stand-ins", age: 100 * time.Hour, say: "WARNING: the snapshot of Infisical's secrets was taken 4d04h ago, longer than --max-stale 72h: expired, the first stage starts without it"},
		{name: "none: stand-ins", say: "detail: no snapshot"},
		{name: "--require-infisical: stand-ins", age: time.Hour, require: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, clk := newStore(t)
			if c.age > 0 {
				if err := st.Save(ref(t, universal(clientSecret)), hostile()); err != nil {
					t.Fatal(err)
				}
				clk.t = clk.t.Add(c.age)
			}
			d := Policy{Store: st, MaxStale: DefaultMaxStale, Require: c.require}.Early(universal(clientSecret))
			if d.Use != c.use || d.Err != nil || (d.Values != nil) != c.use {
				t.Errorf("Use %v (values %d), err %v; want Use %v", d.Use, len(d.Values), d.Err, c.use)
			}
			if !strings.Contains(text(d), c.say) {
				t.Errorf("does not say %q:\n%s", c.say, text(d))
			}
		})
	}
}

func TestFormatAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                "0s",
		42 * time.Second:                 "42s",
		12*time.Minute + 5*time.Second:   "12m",
		5*time.Hour + 7*time.Minute:      "5h07m",
		3 * time.Hour:                    "3h",
		72 * time.Hour:                   "3d00h",
		30 * time.Minute * 3:             "1h30m",
		(3*24+4)*time.Hour + time.Minute: "3d04h",
	} {
		if got := FormatAge(d); got != want {
			t.Errorf("FormatAge(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestFlagValue(t *testing.T) {
	for d, want := range map[time.Duration]string{72 * time.Hour: "72h", 90 * time.Minute: "1h30m", 2 * time.Minute: "2m", 90 * time.Second: "1m30s"} {
		if got := flagValue(d); got != want {
			t.Errorf("flagValue(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestRefusedErrorIsTyped(t *testing.T) {
	var e error = &RefusedError{ID: "0123456789abcdef", Reason: "x"}
	var r *RefusedError
	if !errors.As(fmt.Errorf("wrapped: %w", e), &r) || !strings.Contains(e.Error(), "snapshot 0123456789ab refused: x") {
		t.Errorf("RefusedError: %v", e)
	}
}
