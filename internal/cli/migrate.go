package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
	"github.com/startsvc/startsvc/internal/migrate"
	"github.com/startsvc/startsvc/internal/secrets"
)

type migrateOptions struct {
	global    *globalOptions
	apply     bool
	overwrite bool
	move      []string
	keep      []string
	batchSize int
}

func newMigrateCmd(d *deps, g *globalOptions) *cobra.Command {
	return migrateCommand(d, &migrateOptions{global: g})
}

// migrateCommand builds the command around o, so that a test can read what
// the flags filled in.
func migrateCommand(d *deps, o *migrateOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Move the secrets of .env into Infisical (a dry run unless --apply)",
		Long: `Move the secrets of the env file into Infisical and keep only the settings that
are not secret (hosts, ports, URLs without credentials, flags, numbers) in it.

Without --apply it only shows, for every key, whether it would move or stay,
the rule that decided, and whether Infisical already holds the key with the
same or a different value. It never shows a value, and writes nothing.

With --apply it refuses values Infisical would not give back unchanged (white
space at either end, ${...}, NUL, invalid UTF-8) and a kept value that reads a
key that would leave. Then it copies the file to a backup next to it (mode
0600), writes the secrets to Infisical, reads them back, and only when every
one reads back equal rewrites the file without them, keeping comments and the
order of the other lines. A key that Infisical holds with a different value is
not touched, and stays in the file, unless --overwrite is given. On any
failure the file is left as it was, and the message says which secrets were
written.

Infisical's own settings (every INFISICAL_... variable: credentials, project,
URL, and the keys of the Infisical inside the stack) always stay. The
credentials are those of every other command; a service token needs write
access.`,
		Example: `  startsvc migrate
  startsvc migrate --move SMTP_USER --keep OPENAI_API_KEY
  startsvc migrate --infisical-env prod --secret-path /app --apply`,
		Args: o.global.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrate(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.apply, "apply", false, "write to Infisical and rewrite the env file (without it: a dry run)")
	f.BoolVar(&o.overwrite, "overwrite", false, "replace a secret Infisical holds with a different value")
	f.StringSliceVar(&o.move, "move", nil, "move this key whatever the rules say (repeatable, or comma-separated)")
	f.StringSliceVar(&o.keep, "keep", nil, "keep this key in the env file whatever the rules say (repeatable, or comma-separated)")
	f.IntVar(&o.batchSize, "batch-size", infisical.DefaultBatchSize, "secrets per write call to Infisical")
	return cmd
}

func (o *migrateOptions) validate() error {
	g := o.global
	switch {
	case o.apply && g.DryRun:
		return exitcode.Usagef("--apply and --dry-run contradict each other (migrate is a dry run without --apply)")
	case g.SkipInfisical:
		return exitcode.Usagef("migrate writes to Infisical: --skip-infisical does not go with it")
	case g.Recursive:
		return exitcode.Usagef("migrate writes to one folder: --recursive does not go with it")
	case o.batchSize < 1:
		return exitcode.Usagef("--batch-size must be at least 1")
	}
	return nil
}

func runMigrate(ctx context.Context, d *deps, o *migrateOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	g := o.global
	dir := absDir(d, g)
	envFile := g.EnvFile
	if !filepath.IsAbs(envFile) {
		envFile = filepath.Join(dir, envFile)
	}
	data, err := os.ReadFile(envFile)
	if errors.Is(err, fs.ErrNotExist) {
		return exitcode.Usagef("%s does not exist: nothing to migrate", envFile)
	}
	if err != nil {
		return exitcode.Usagef("env file: %w", err)
	}

	settings, err := infisical.ResolveSettings(infisical.FlagValues{
		URL: g.InfisicalURL, ProjectID: g.InfisicalProject, Environment: g.InfisicalEnv, SecretPath: g.SecretPath,
	}, infisical.EnvFileGetenv(d.env.Getenv, envFile), dir)
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	if !settings.Configured() {
		return exitcode.With(exitcode.Infisical, errors.New("migrate writes through Infisical's API and needs machine credentials: "+
			"set INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET with INFISICAL_PROJECT_ID "+
			"(or --infisical-project), or INFISICAL_TOKEN"))
	}
	client, err := infisical.NewClient(settings, infisical.Options{Timeout: g.InfisicalTimeout, MaxRetryWait: g.InfisicalTimeout / 2})
	if err != nil {
		return migrateInfisicalError(ctx, err)
	}
	target, err := client.ResolveTarget(ctx, settings.ListOptions())
	if err != nil {
		return migrateInfisicalError(ctx, err)
	}
	listing, err := client.ListSecrets(ctx, target)
	if err != nil {
		return migrateInfisicalError(ctx, err)
	}
	g.redactor.Add(slices.Collect(maps.Values(listing.Values()))...)

	shell := secrets.EnvMap(d.env.Environ)
	migration, err := migrate.NewPlan(migrate.Input{
		Path: envFile, Data: data, Listing: listing,
		Shell: func(k string) (string, bool) { v, ok := shell[k]; return v, ok },
		Move:  o.move, Keep: o.keep, Overwrite: o.overwrite,
	})
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	g.redactor.Add(migration.Sensitive()...)

	out := g.redactor.Writer(d.env.Stdout)
	fmt.Fprintf(out, "%s -> Infisical at %s, project %s, environment %s, folder %s\n\n",
		displayPath(d, envFile), client.Host(), target.ProjectID, target.Environment, target.SecretPath)
	if err := migration.WriteTable(out); err != nil {
		out.Close()
		return err
	}
	fmt.Fprintf(out, "\n%s\n", migration.Summary())
	if err := out.Close(); err != nil {
		return err
	}
	name := filepath.Base(envFile)
	conflicts := migration.Conflicts()

	if !o.apply {
		for _, p := range migration.Problems {
			g.ui.Warn("--apply would refuse: %s", p)
		}
		if len(conflicts) > 0 {
			g.ui.Warn("Infisical holds a different value for %s: without --overwrite %s in %s", strings.Join(conflicts, ", "),
				agreeVerb(len(conflicts), "it stays", "they stay"), name)
		}
		g.ui.Info("Dry run: nothing was written. Run again with --apply to move the secrets.")
		return nil
	}

	res, err := migration.Apply(ctx, client, migrate.ApplyOptions{Target: infisical.WriteOptions{
		ProjectID: target.ProjectID, Environment: target.Environment, SecretPath: target.SecretPath, BatchSize: o.batchSize,
	}})
	if err != nil {
		return migrateApplyError(ctx, err)
	}
	if len(res.Removed) == 0 {
		g.ui.Info("nothing to move: %s is unchanged", name)
	} else {
		g.ui.Success("%s now in Infisical (%d created, %d replaced, %d already there) and removed from %s",
			plural(len(res.Removed), "secret"), len(res.Created), len(res.Updated),
			len(res.Removed)-len(res.Created)-len(res.Updated), name)
		g.ui.Info("The original is saved as %s (mode 0600); delete it once startsvc up works without it.", displayPath(d, res.Backup))
	}
	if len(res.Conflicts) > 0 {
		g.ui.Warn("%s %s in %s: Infisical holds a different value (--overwrite replaces it)",
			strings.Join(res.Conflicts, ", "), agreeVerb(len(res.Conflicts), "stays", "stay"), name)
	}
	return nil
}

// migrateInfisicalError gives an Infisical failure before any write its exit
// code: for migrate there is no falling back to .env, so every kind is exit 4.
func migrateInfisicalError(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil {
		return fmt.Errorf("%w (%w)", cause, err)
	}
	return exitcode.With(exitcode.Infisical, fmt.Errorf("%w\nnothing was written: migrate needs Infisical to answer", err))
}

func migrateApplyError(ctx context.Context, err error) error {
	var refused *migrate.RefusedError
	var failed *migrate.ApplyError
	switch {
	case errors.As(err, &refused):
		return exitcode.With(exitcode.Usage, err)
	case context.Cause(ctx) != nil:
		return fmt.Errorf("%w: %w", context.Cause(ctx), err)
	case errors.As(err, &failed) && (infisical.KindOf(err) != 0 || len(failed.Mismatched) > 0):
		return exitcode.With(exitcode.Infisical, err)
	}
	return exitcode.With(exitcode.Failure, err)
}

// displayPath shows path relative to the working directory when it is below it.
func displayPath(d *deps, path string) string {
	if rel, err := filepath.Rel(d.env.Dir, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func agreeVerb(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
