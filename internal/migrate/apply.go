package migrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/infisical"
)

// Store is what Apply needs from Infisical.
type Store interface {
	ListSecrets(ctx context.Context, o infisical.ListOptions) (*infisical.Listing, error)
	CreateSecrets(ctx context.Context, o infisical.WriteOptions, list []infisical.Write) ([]string, error)
	UpdateSecrets(ctx context.Context, o infisical.WriteOptions, list []infisical.Write) ([]string, error)
}

var _ Store = (*infisical.Client)(nil)

// ApplyOptions say where Apply writes.
type ApplyOptions struct {
	// Target is the folder, with project and environment resolved
	// (infisical.Client.ResolveTarget), and the batch size.
	Target infisical.WriteOptions
	// Now names the backup; time.Now when nil.
	Now func() time.Time
}

// Result is what Apply did.
type Result struct {
	Backup    string   // the copy of the original file; empty when nothing changed
	Created   []string // secrets created in Infisical
	Updated   []string // secrets given a new value (--overwrite)
	Removed   []string // keys removed from the env file, sorted
	Conflicts []string // keys that stay because Infisical holds another value
}

// RefusedError is a plan that Apply will not carry out. Nothing was written.
type RefusedError struct {
	Path     string
	Problems []string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("nothing was written; %s cannot be migrated as it is:\n  %s", e.Path, strings.Join(e.Problems, "\n  "))
}

// ApplyError is a failed Apply. The env file is unchanged unless Replaced
// says otherwise; the text says which secrets reached Infisical.
type ApplyError struct {
	Step       string   // what failed: "write to Infisical", "read back from Infisical", …
	Path       string   // the env file
	Written    []string // secrets that Infisical now holds as written
	NotWritten []string // secrets that it does not
	Unknown    []string // secrets whose fate could not be read back
	Mismatched []string // secrets written that read back with another value
	Replaced   bool     // the env file was replaced after all (only a failed directory sync)
	Err        error
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	var ie *infisical.Error
	switch {
	case e.Err == nil:
		b.WriteString(e.Step)
	case errors.As(e.Err, &ie):
		b.WriteString(e.Err.Error()) // it names the operation itself
	default:
		b.WriteString(e.Step + ": " + e.Err.Error())
	}
	line := func(label string, keys []string) {
		if len(keys) > 0 {
			fmt.Fprintf(&b, "\n  %s: %s", label, strings.Join(keys, ", "))
		}
	}
	line("read back with another value", e.Mismatched)
	line("written to Infisical", e.Written)
	line("not written", e.NotWritten)
	line("not known (could not read them back)", e.Unknown)
	if e.Replaced {
		fmt.Fprintf(&b, "\n  %s was rewritten", e.Path)
	} else {
		fmt.Fprintf(&b, "\n  %s is unchanged", e.Path)
	}
	return b.String()
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Apply carries the plan out: it refuses a plan with problems, and does
// nothing when no key leaves. Otherwise it checks the env file has not changed
// since it was read, copies it to a backup next to it (mode 0600, a
// timestamped name, never over an existing file), writes the secrets
// (creates, then updates, in batches), lists the folder again and compares
// every key that leaves, and only when all of them read back equal replaces the
// env file atomically (a temporary file in the same folder with the same
// mode, synced, renamed over it). When the env file is a symbolic link, its
// target is backed up and replaced, and the link stays.
//
// Any failure before the replacement leaves the env file byte for byte as it
// was and removes the backup; the *ApplyError says which secrets reached
// Infisical. Secrets written stay there: running migrate again finds them
// with the same value and writes nothing for them.
func (p *Plan) Apply(ctx context.Context, store Store, o ApplyOptions) (*Result, error) {
	if len(p.Problems) > 0 {
		return nil, &RefusedError{Path: p.Path, Problems: p.Problems}
	}
	res := &Result{Conflicts: p.Conflicts()}
	if len(p.leaving) == 0 {
		return res, nil
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	path, err := filepath.EvalSymlinks(p.Path)
	if err != nil {
		return nil, &ApplyError{Step: "check " + p.Path, Path: p.Path, Err: err}
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, &ApplyError{Step: "check " + p.Path, Path: p.Path, Err: err}
	}
	if err := p.unchanged(path); err != nil {
		return nil, &ApplyError{Step: "check " + p.Path, Path: p.Path, Err: err}
	}
	backup, err := createBackup(path, p.original, now())
	if err != nil {
		return nil, &ApplyError{Step: "back up " + p.Path, Path: p.Path, Err: err}
	}
	keepBackup := false
	defer func() {
		if !keepBackup {
			_ = os.Remove(backup)
		}
	}()

	create, update := p.Writes()
	created, err := store.CreateSecrets(ctx, o.Target, create)
	if err != nil {
		return nil, p.writeFailure(ctx, store, o.Target, "create secrets in Infisical", created, err)
	}
	updated, err := store.UpdateSecrets(ctx, o.Target, update)
	if err != nil {
		return nil, p.writeFailure(ctx, store, o.Target, "update secrets in Infisical", append(slices.Clone(created), updated...), err)
	}
	written := append(slices.Clone(created), updated...)

	l, err := store.ListSecrets(ctx, o.Target.ListOptions())
	if err != nil {
		return nil, &ApplyError{Step: "read back from Infisical", Path: p.Path, Written: written, Err: err}
	}
	got := l.Values()
	var mismatched []string
	for _, k := range p.Leaving() {
		if v, ok := got[k]; !ok || v != p.values[k] {
			mismatched = append(mismatched, k)
		}
	}
	if len(mismatched) > 0 {
		return nil, &ApplyError{Step: "read back from Infisical", Path: p.Path, Mismatched: mismatched,
			Written: without(written, mismatched),
			Err:     errors.New("some secrets do not read back as written, so none was removed from the file")}
	}

	replaced, err := replaceFile(path, p.original, p.Content, info.Mode().Perm())
	if err != nil {
		keepBackup = replaced
		return nil, &ApplyError{Step: "rewrite " + p.Path, Path: p.Path, Written: written, Replaced: replaced, Err: err}
	}
	keepBackup = true
	res.Backup = backup
	res.Created, res.Updated = created, updated
	res.Removed = p.Leaving()
	return res, nil
}

// writeFailure builds the error for a failed write: a listing, when it
// answers, says which secrets Infisical now holds as written.
func (p *Plan) writeFailure(ctx context.Context, store Store, target infisical.WriteOptions, step string, confirmed []string, cause error) error {
	create, update := p.Writes()
	var all []string
	for _, w := range append(create, update...) {
		all = append(all, w.Key)
	}
	e := &ApplyError{Step: step, Path: p.Path, Err: cause}
	if ctx.Err() == nil {
		if l, err := store.ListSecrets(ctx, target.ListOptions()); err == nil {
			got := l.Values()
			for _, k := range all {
				if v, ok := got[k]; ok && v == p.values[k] {
					e.Written = append(e.Written, k)
				} else {
					e.NotWritten = append(e.NotWritten, k)
				}
			}
			return e
		}
	}
	e.Written = confirmed
	e.Unknown = without(all, confirmed)
	return e
}

// unchanged checks that the file still holds what the plan was made from.
func (p *Plan) unchanged(path string) error {
	cur, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, p.original) {
		return errors.New("the file changed while migrate ran; run migrate again")
	}
	return nil
}

func without(all, drop []string) []string {
	skip := setOf(drop...)
	var out []string
	for _, k := range all {
		if !skip[k] {
			out = append(out, k)
		}
	}
	return out
}
