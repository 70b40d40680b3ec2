package launch

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/startsvc/startsvc/internal/stack"
)

// PrepareOptions are the preparation settings; the zero value prepares the
// default stack with Supabase's pinned ref, and never moves an existing
// checkout.
type PrepareOptions struct {
	UpdateSupabase bool
	SupabaseRepo   string // stack.DefaultSupabaseRepo when empty
	SupabaseRef    string // stack.DefaultSupabaseRef when empty
}

// Prepared is what Prepare did, or with Options.DryRun would do.
type Prepared struct {
	*stack.Prepared
	// DryRun says, one comment line each, what a dry run would change.
	DryRun []string
}

// Changed reports whether Prepare changed anything.
func (p *Prepared) Changed() bool {
	r := p.Prepared
	return r.Supabase == stack.SupabaseCloned || r.Supabase == stack.SupabaseUpdated || r.SearXNGKey || r.PoolerFixed
}

// Prepare runs the preparation steps of the stack directory (see
// stack.Prepare), with git run in startsvc's environment, and reports what it
// did: a line for each change, a warning for a stale plaintext copy of .env
// in supabase/docker. With Options.DryRun it changes nothing and says what it
// would do. Preflight calls it before it loads the compose files, which
// include Supabase's.
func (l *Launcher) Prepare(ctx context.Context, o PrepareOptions) (*Prepared, error) {
	lay, err := stack.Open(l.StackDir(), l.Options.Files, l.Options.Environment)
	if err != nil {
		return nil, err
	}
	if l.Options.DryRun {
		return l.prepareDryRun(lay.Dir, o)
	}
	res, err := stack.Prepare(ctx, lay.Dir, stack.PrepareOptions{
		SupabaseRepo:   o.SupabaseRepo,
		SupabaseRef:    o.SupabaseRef,
		UpdateSupabase: o.UpdateSupabase,
		Git:            stack.ExecGit(l.Env.Environ),
	})
	if err != nil {
		return &Prepared{Prepared: res}, err
	}
	l.reportPrepared(res, o)
	return &Prepared{Prepared: res}, nil
}

func (l *Launcher) reportPrepared(res *stack.Prepared, o PrepareOptions) {
	ref := o.SupabaseRef
	if ref == "" {
		ref = stack.DefaultSupabaseRef
	}
	switch res.Supabase {
	case stack.SupabaseCloned:
		l.Report.Step("cloned Supabase's docker folder at %s%s into %s", ref, commitNote(res.SupabaseRevision), stack.SupabaseDir)
	case stack.SupabaseUpdated:
		l.Report.Step("moved Supabase's docker folder to %s%s", ref, commitNote(res.SupabaseRevision))
	case stack.SupabasePresent:
		if o.UpdateSupabase {
			l.Report.Info("Supabase's docker folder is already at %s%s", ref, commitNote(res.SupabaseRevision))
		} else if res.SupabaseAdvice != "" {
			l.Report.Warn("%s", res.SupabaseAdvice)
		} else {
			l.Report.Detail("Supabase's docker folder is there%s; left as it is (--update-supabase moves it)", commitNote(res.SupabaseRevision))
		}
	}
	if res.SearXNGKey {
		l.Report.Step("wrote %s with a new secret key", stack.SearXNGSettings)
	}
	if res.PoolerFixed {
		l.Report.Step("gave %s LF line ends", stack.PoolerConfig)
	}
	if res.StaleEnvCopy != "" {
		l.Report.Warn("%s is a plaintext copy of .env left by the old start script. The stack never reads it "+
			"(the include ignores it), but it keeps your secrets on disk a second time: delete %s",
			stack.SupabaseEnvCopy, res.StaleEnvCopy)
	}
}

func commitNote(rev string) string {
	if len(rev) >= 12 {
		return " (commit " + rev[:12] + ")"
	}
	return ""
}

// prepareDryRun says what Prepare would change, changing nothing.
func (l *Launcher) prepareDryRun(dir string, o PrepareOptions) (*Prepared, error) {
	res := &Prepared{Prepared: &stack.Prepared{}}
	say := func(format string, a ...any) { res.DryRun = append(res.DryRun, fmt.Sprintf(format, a...)) }
	used, err := stack.UsesSupabase(dir)
	if err != nil {
		return nil, err
	}
	repo, ref := o.SupabaseRepo, o.SupabaseRef
	if repo == "" {
		repo = stack.DefaultSupabaseRepo
	}
	if ref == "" {
		ref = stack.DefaultSupabaseRef
	}
	if used {
		switch {
		case !regular(filepath.Join(dir, filepath.FromSlash(stack.SupabaseCompose))):
			say("# would clone the docker folder of %s at %s into %s", repo, ref, stack.SupabaseDir)
		case o.UpdateSupabase:
			say("# would move %s to %s of %s", stack.SupabaseDir, ref, repo)
		}
	}
	settings := filepath.Join(dir, filepath.FromSlash(stack.SearXNGSettings))
	if data, err := os.ReadFile(settings); err == nil {
		if bytes.Contains(data, []byte("ultrasecretkey")) {
			say("# would give %s a secret key", stack.SearXNGSettings)
		}
	} else if regular(filepath.Join(dir, filepath.FromSlash(stack.SearXNGBase))) {
		say("# would write %s from %s with a secret key", stack.SearXNGSettings, stack.SearXNGBase)
	}
	if data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(stack.PoolerConfig))); err == nil && bytes.Contains(data, []byte("\r\n")) {
		say("# would give %s LF line ends", stack.PoolerConfig)
	}
	if p := filepath.Join(dir, filepath.FromSlash(stack.SupabaseEnvCopy)); regular(p) {
		res.StaleEnvCopy = p
		l.Report.Warn("%s is a plaintext copy of .env left by the old start script; the stack never reads it: delete %s",
			stack.SupabaseEnvCopy, p)
	}
	return res, nil
}

func regular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
