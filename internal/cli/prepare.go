package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/launch"
	"github.com/startsvc/startsvc/internal/stack"
)

func newPrepareCmd(d *deps, g *globalOptions) *cobra.Command {
	o := launch.PrepareOptions{}
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
	cmd.Flags().BoolVar(&o.UpdateSupabase, "update-supabase", false, "move an existing Supabase checkout to --supabase-ref")
	cmd.Flags().StringVar(&o.SupabaseRepo, "supabase-repo", stack.DefaultSupabaseRepo, "git repository to clone Supabase's docker folder from")
	cmd.Flags().StringVar(&o.SupabaseRef, "supabase-ref", stack.DefaultSupabaseRef, "tag, branch or commit of Supabase to check out")
	return cmd
}

func runPrepare(ctx context.Context, d *deps, g *globalOptions, o launch.PrepareOptions) error {
	res, err := launcher(d, g).Prepare(ctx, o)
	if err != nil {
		return err
	}
	if g.DryRun {
		return printLines(d, res.DryRun)
	}
	if res.Changed() {
		g.ui.Success("the stack in %s is prepared", absDir(d, g))
	} else {
		g.ui.Success("the stack in %s was already prepared; nothing changed", absDir(d, g))
	}
	return nil
}
