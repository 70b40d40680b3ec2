package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/stack"
)

// prepareOptions are the preparation settings; the zero value prepares the
// default stack with Supabase's pinned ref, and never moves an existing
// checkout.
type prepareOptions struct {
	updateSupabase bool
	supabaseRepo   string // stack.DefaultSupabaseRepo when empty
	supabaseRef    string // stack.DefaultSupabaseRef when empty
}

func newPrepareCmd(d *deps, g *globalOptions) *cobra.Command {
	o := prepareOptions{}
	cmd := &cobra.Command{
		Use:   "prepare",
		Short: "Prepare the stack directory: Supabase's docker folder, SearXNG's secret key, line ends",
		Long: `Do what the stack needs before compose can run it; up does the same each time.
Every step is idempotent and runs without a shell:

  - clone Supabase's docker/ folder into supabase/ when it is missing (a sparse,
    shallow git checkout of a pinned release); an existing checkout is left
    alone unless --update-supabase is given
  - create searxng/settings.yml from settings-base.yml with a random secret key
  - give supabase/docker/volumes/pooler/pooler.exs LF line ends

A supabase/docker/.env left by the old start script is reported: it is a
plaintext copy of your secrets that the stack never reads. Delete it.`,
		Example: `  startsvc prepare
  startsvc prepare --update-supabase --supabase-ref self-hosted/v0.7.2`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPrepare(cmd.Context(), d, g, o)
		},
	}
	cmd.Flags().BoolVar(&o.updateSupabase, "update-supabase", false, "move an existing Supabase checkout to --supabase-ref")
	cmd.Flags().StringVar(&o.supabaseRepo, "supabase-repo", stack.DefaultSupabaseRepo, "git repository to clone Supabase's docker folder from")
	cmd.Flags().StringVar(&o.supabaseRef, "supabase-ref", stack.DefaultSupabaseRef, "tag, branch or commit of Supabase to check out")
	return cmd
}

func runPrepare(ctx context.Context, d *deps, g *globalOptions, o prepareOptions) error {
	res, err := prepareStack(ctx, d, g, o)
	if err != nil {
		return err
	}
	if g.DryRun {
		return nil
	}
	if res.Supabase == stack.SupabaseCloned || res.Supabase == stack.SupabaseUpdated || res.SearXNGKey || res.PoolerFixed {
		g.ui.Success("the stack in %s is prepared", absDir(d, g))
	} else {
		g.ui.Success("the stack in %s was already prepared; nothing changed", absDir(d, g))
	}
	return nil
}

// prepareStack runs the preparation steps of the stack directory (see
// stack.Prepare), with git run in startsvc's environment, and tells the user
// what it did: a line for each change, a warning for a stale plaintext copy of
// .env in supabase/docker. With --dry-run it changes nothing and says what it
// would do. up calls it before its preflight loads the compose files, which
// include Supabase's.
func prepareStack(ctx context.Context, d *deps, g *globalOptions, o prepareOptions) (*stack.Prepared, error) {
	l, err := stack.Open(absDir(d, g), g.Files, g.Environment)
	if err != nil {
		return nil, err
	}
	if g.DryRun {
		return prepareDryRun(d, g, l.Dir, o)
	}
	res, err := stack.Prepare(ctx, l.Dir, stack.PrepareOptions{
		SupabaseRepo:   o.supabaseRepo,
		SupabaseRef:    o.supabaseRef,
		UpdateSupabase: o.updateSupabase,
		Git:            stack.ExecGit(d.env.Environ),
	})
	if err != nil {
		return res, err
	}
	reportPrepared(g, res, o)
	return res, nil
}

func reportPrepared(g *globalOptions, res *stack.Prepared, o prepareOptions) {
	ref := o.supabaseRef
	if ref == "" {
		ref = stack.DefaultSupabaseRef
	}
	switch res.Supabase {
	case stack.SupabaseCloned:
		g.ui.Step("cloned Supabase's docker folder at %s%s into %s", ref, commitNote(res.SupabaseRevision), stack.SupabaseDir)
	case stack.SupabaseUpdated:
		g.ui.Step("moved Supabase's docker folder to %s%s", ref, commitNote(res.SupabaseRevision))
	case stack.SupabasePresent:
		if o.updateSupabase {
			g.ui.Info("Supabase's docker folder is already at %s%s", ref, commitNote(res.SupabaseRevision))
		} else if res.SupabaseAdvice != "" {
			g.ui.Warn("%s", res.SupabaseAdvice)
		} else {
			g.ui.Detail("Supabase's docker folder is there%s; left as it is (--update-supabase moves it)", commitNote(res.SupabaseRevision))
		}
	}
	if res.SearXNGKey {
		g.ui.Step("wrote %s with a new secret key", stack.SearXNGSettings)
	}
	if res.PoolerFixed {
		g.ui.Step("gave %s LF line ends", stack.PoolerConfig)
	}
	if res.StaleEnvCopy != "" {
		g.ui.Warn("%s is a plaintext copy of .env left by the old start script. The stack never reads it "+
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
func prepareDryRun(d *deps, g *globalOptions, dir string, o prepareOptions) (*stack.Prepared, error) {
	res := &stack.Prepared{}
	w := d.env.Stdout
	used, err := stack.UsesSupabase(dir)
	if err != nil {
		return nil, err
	}
	repo, ref := o.supabaseRepo, o.supabaseRef
	if repo == "" {
		repo = stack.DefaultSupabaseRepo
	}
	if ref == "" {
		ref = stack.DefaultSupabaseRef
	}
	if used {
		switch {
		case !regular(filepath.Join(dir, filepath.FromSlash(stack.SupabaseCompose))):
			fmt.Fprintf(w, "# would clone the docker folder of %s at %s into %s\n", repo, ref, stack.SupabaseDir)
		case o.updateSupabase:
			fmt.Fprintf(w, "# would move %s to %s of %s\n", stack.SupabaseDir, ref, repo)
		}
	}
	settings := filepath.Join(dir, filepath.FromSlash(stack.SearXNGSettings))
	if data, err := os.ReadFile(settings); err == nil {
		if bytes.Contains(data, []byte("ultrasecretkey")) {
			fmt.Fprintf(w, "# would give %s a secret key\n", stack.SearXNGSettings)
		}
	} else if regular(filepath.Join(dir, filepath.FromSlash(stack.SearXNGBase))) {
		fmt.Fprintf(w, "# would write %s from %s with a secret key\n", stack.SearXNGSettings, stack.SearXNGBase)
	}
	if data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(stack.PoolerConfig))); err == nil && bytes.Contains(data, []byte("\r\n")) {
		fmt.Fprintf(w, "# would give %s LF line ends\n", stack.PoolerConfig)
	}
	if p := filepath.Join(dir, filepath.FromSlash(stack.SupabaseEnvCopy)); regular(p) {
		res.StaleEnvCopy = p
		g.ui.Warn("%s is a plaintext copy of .env left by the old start script; the stack never reads it: delete %s",
			stack.SupabaseEnvCopy, p)
	}
	return res, nil
}

func regular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
