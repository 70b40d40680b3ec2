package snapshot

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
)

// DefaultMaxStale is the default of --max-stale: three days cover an outage
// over a weekend or a laptop on a trip, and are short enough that a secret
// rotated in Infisical does not live on for weeks in a snapshot.
const DefaultMaxStale = 72 * time.Hour

// Policy decides where the secrets come from when Infisical cannot give them:
// the snapshot of the last successful fetch when it is younger than MaxStale,
// else the env file.
type Policy struct {
	Store    *Store
	MaxStale time.Duration
	// Require is --require-infisical: no snapshot is used, ever.
	Require bool
	// Offline is --offline: the snapshot is used without asking Infisical;
	// without a usable one, that is an error.
	Offline bool
}

// Level says how a Message is shown.
type Level int

const (
	Detail  Level = iota // only with --verbose
	Note                 // an informational line
	Warning              // shown even with --quiet
)

// Message is something a person should be told; it names no value.
type Message struct {
	Level Level
	Text  string
}

// Decision is what a Policy decided.
type Decision struct {
	// Use says the snapshot's Values replace what the Infisical phase would
	// otherwise give (nothing, that is the env file alone).
	Use    bool
	Values map[string]string
	// Err ends the run (exit 4); Values is nil then.
	Err error
	// Say is what to tell, in order.
	Say []Message
}

// Tell passes each message to the function of its level (printf-style, as
// the ui package's Warn, Info and Detail are).
func (d Decision) Tell(warn, info, detail func(format string, a ...any)) {
	for _, m := range d.Say {
		switch m.Level {
		case Warning:
			warn("%s", m.Text)
		case Note:
			info("%s", m.Text)
		default:
			detail("%s", m.Text)
		}
	}
}

func (d *Decision) say(l Level, format string, a ...any) {
	d.Say = append(d.Say, Message{Level: l, Text: fmt.Sprintf(format, a...)})
}

// Fallback applies the policy to the outcome of the Infisical phase with
// settings s: the values fetched, or the error (an *infisical.Error) that
// ended it. It never contacts Infisical and never fails the run except under
// Offline.
//
//   - Fetched: the values are saved as the snapshot (a failure to save is a
//     warning); the caller goes on with them (Use is false).
//   - 401 or 403 (the credentials were refused): the identity's snapshot is
//     deleted; the caller reports the error as before.
//   - Unreachable, and not Require: a snapshot younger than MaxStale is used
//     (Use, with a warning naming the cause and its age); an older one, or
//     one that does not open, is not, and the caller falls back to the env
//     file as before (after a warning that says why).
//   - Offline: the fetch result is ignored (the caller made none) and the
//     snapshot is used; none, an expired one or one that does not open is Err.
//   - Anything else (not configured, 404, …): nothing to do.
func (p Policy) Fallback(s infisical.Settings, fetched map[string]string, err error) Decision {
	var d Decision
	ref, ok := RefFor(s)
	if p.Offline {
		return p.offline(s, ref, ok)
	}
	if !ok {
		return d
	}
	kind := infisical.KindOf(err)
	switch {
	case err == nil:
		if serr := p.Store.Save(ref, fetched); serr != nil {
			d.say(Warning, "could not keep the encrypted snapshot of Infisical's secrets (%v): if Infisical becomes unreachable, "+
				"startsvc falls back to the env file", serr)
		} else {
			d.say(Detail, "kept an encrypted snapshot of the %d secrets in %s", len(fetched), p.Store.Dir)
		}
	case kind == infisical.Auth:
		deleted, derr := p.Store.Delete(ref)
		switch {
		case derr != nil:
			d.say(Warning, "Infisical refused the credentials, and the snapshot of %s could not be deleted: %v", ref.Scope, derr)
		case deleted:
			d.say(Warning, "Infisical refused the credentials: deleted the encrypted snapshot of %s made with them", ref.Scope)
		}
	case kind == infisical.Unreachable && !p.Require:
		snap, ok := p.usable(&d, ref, "not used")
		if !ok {
			return d
		}
		d.Use, d.Values = true, snap.Values
		d.say(Warning, "Infisical is unreachable, using the snapshot of its secrets taken %s ago (%d secrets, %s; --max-stale %s): %v",
			FormatAge(snap.Age(p.Store.now())), snap.Keys, snap.FetchedAt.Local().Format(time.DateTime), flagValue(p.MaxStale), err)
	}
	return d
}

// offline is Fallback under --offline.
func (p Policy) offline(s infisical.Settings, ref Ref, ok bool) Decision {
	var d Decision
	fail := func(format string, a ...any) Decision {
		return Decision{Say: d.Say, Err: exitcode.With(exitcode.Infisical, fmt.Errorf("--offline: "+format, a...))}
	}
	if !ok {
		return fail("the snapshots are opened with Infisical's machine credentials, and none are set: %s", s.Hint())
	}
	snap, err := p.Store.Load(ref)
	switch {
	case errors.Is(err, ErrNotFound):
		return fail("%v: run once while Infisical is reachable to take one", err)
	case err != nil:
		return fail("%v", err)
	}
	if age := snap.Age(p.Store.now()); age > p.MaxStale {
		return fail("the snapshot of %s was taken %s ago, longer than --max-stale %s: not used", ref.Scope, FormatAge(age), flagValue(p.MaxStale))
	}
	d.Use, d.Values = true, snap.Values
	d.say(Note, "--offline: using the snapshot of Infisical's secrets taken %s ago (%d secrets, %s); Infisical was not contacted",
		FormatAge(snap.Age(p.Store.now())), snap.Keys, snap.FetchedAt.Local().Format(time.DateTime))
	return d
}

// Early gives the values that services starting before an in-stack Infisical
// answers get instead of stand-ins: the snapshot's, when it is younger than
// MaxStale and opens (not under Require). It never fails the run; the fetch
// that follows decides what the later stages get.
func (p Policy) Early(s infisical.Settings) Decision {
	var d Decision
	ref, ok := RefFor(s)
	if !ok || p.Require {
		return d
	}
	snap, ok := p.usable(&d, ref, "the first stage starts without it")
	if !ok {
		return d
	}
	d.Use, d.Values = true, snap.Values
	d.say(Note, "until the in-stack Infisical answers, compose gets the snapshot of its secrets taken %s ago (%d secrets)",
		FormatAge(snap.Age(p.Store.now())), snap.Keys)
	return d
}

// usable loads ref's snapshot and says why it cannot be used, ending with
// instead, when it is missing, refused or older than MaxStale.
func (p Policy) usable(d *Decision, ref Ref, instead string) (*Snapshot, bool) {
	snap, err := p.Store.Load(ref)
	var refused *RefusedError
	switch {
	case errors.Is(err, ErrNotFound):
		d.say(Detail, "%v", err)
		return nil, false
	case errors.As(err, &refused):
		d.say(Warning, "%v; %s (`startsvc snapshot delete %s` removes it)", err, instead, shortID(refused.ID))
		return nil, false
	case err != nil:
		d.say(Warning, "%v; %s", err, instead)
		return nil, false
	}
	if age := snap.Age(p.Store.now()); age > p.MaxStale {
		d.say(Warning, "the snapshot of Infisical's secrets was taken %s ago, longer than --max-stale %s: expired, %s",
			FormatAge(age), flagValue(p.MaxStale), instead)
		return nil, false
	}
	return snap, true
}

// FormatAge shows an age the way people say it: 45s, 12m, 5h07m, 3h, 3d04h.
func FormatAge(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour && d%time.Hour < time.Minute:
		return fmt.Sprintf("%dh", int(d.Hours()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// flagValue shows a duration as one would give it to --max-stale: 72h, 1h30m.
func flagValue(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
