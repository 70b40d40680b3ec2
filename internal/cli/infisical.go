package cli

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/infisical"
)

// setupOptions are the flags of infisical setup.
type setupOptions struct {
	global       *globalOptions
	adminEmail   string
	organization string
	projectSlug  string
	identityName string
	migrate      bool
}

func newInfisicalCmd(d *deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "infisical",
		Short: "Work with the Infisical that runs inside the stack",
		Args:  g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(setupCommand(d, &setupOptions{global: g}))
	return cmd
}

// setupCommand builds the command around o, so that a test can read what the
// flags filled in.
func setupCommand(d *deps, o *setupOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Set a fresh Infisical up for this stack: admin, project, machine identity, credentials in .env",
		Long: `Set the stack's Infisical up over its API, with no clicks in its web page, and
record in the env file what startsvc needs to read secrets from it.

It waits until Infisical answers (GET /api/status, at most --wait-timeout). On a
fresh instance it creates the first admin and organisation: the admin's e-mail
comes from --admin-email or INFISICAL_ADMIN_EMAIL, the password is generated,
never printed, and kept in the env file as INFISICAL_ADMIN_PASSWORD. Then it
creates the project (with Infisical's default environments), a machine identity
with universal auth, a client secret, and the identity's membership of the
project, and writes INFISICAL_API_URL, INFISICAL_PROJECT_ID,
INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET to
the env file: in place, other lines untouched, mode 0600, the file as it was
kept as <name>.<time>.bak.

Run it again at any time: it finds what exists (the ids in the env file, the
project by its slug) and creates nothing twice. When a step fails, the env file
holds what was done before it, and the next run continues from there. An
instance that has an admin already needs INFISICAL_ADMIN_EMAIL and
INFISICAL_ADMIN_PASSWORD; without them setup says what to create in the web
page instead, and which keys to fill in. So does a server too old to be set up
over its API.

With --migrate it then moves the secrets of the env file into Infisical
(migrate --apply) and brings the stack up on them.`,
		Example: `  startsvc infisical setup --admin-email admin@example.com
  startsvc infisical setup --admin-email admin@example.com --migrate
  startsvc infisical setup --infisical-url http://localhost:8010 --project-slug my-stack`,
		Args: o.global.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInfisicalSetup(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.adminEmail, "admin-email", "", "e-mail of the first admin of a fresh Infisical (or INFISICAL_ADMIN_EMAIL in the env file)")
	f.StringVar(&o.organization, "organization", "", "name of the organisation a fresh Infisical gets (default: the compose project name)")
	f.StringVar(&o.projectSlug, "project-slug", "", "slug of the Infisical project (default: from the compose project name)")
	f.StringVar(&o.identityName, "identity-name", "", "name of the machine identity (default: startsvc-<project slug>)")
	f.BoolVar(&o.migrate, "migrate", false, "then move the secrets of the env file into Infisical and bring the stack up")
	return cmd
}

var (
	slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	notSlug     = regexp.MustCompile(`[^a-z0-9]+`)
)

func (o *setupOptions) validate() error {
	g := o.global
	switch {
	case g.DryRun:
		return exitcode.Usagef("infisical setup has no dry run: it changes Infisical and the env file step by step, and a run again changes nothing more")
	case g.SkipInfisical:
		return exitcode.Usagef("infisical setup talks to Infisical: --skip-infisical does not go with it")
	case o.projectSlug != "" && (len(o.projectSlug) < 5 || len(o.projectSlug) > 36 || !slugPattern.MatchString(o.projectSlug)):
		return exitcode.Usagef("--project-slug %q: Infisical wants 5 to 36 lower case letters, digits and single hyphens", o.projectSlug)
	case o.adminEmail != "" && !strings.Contains(o.adminEmail, "@"):
		return exitcode.Usagef("--admin-email %q is not an e-mail address", o.adminEmail)
	}
	if o.projectSlug == "" {
		o.projectSlug = projectSlug(g.Project)
	}
	if o.organization == "" {
		o.organization = g.Project
	}
	if o.identityName == "" {
		o.identityName = "startsvc-" + o.projectSlug
	}
	return nil
}

// projectSlug makes a valid Infisical project slug of a compose project name.
func projectSlug(name string) string {
	s := strings.Trim(notSlug.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(s) > 36 {
		s = strings.Trim(s[:36], "-")
	}
	if len(s) < 5 {
		s = strings.Trim(s+"-stack", "-")
	}
	return s
}

// runInfisicalSetup sets the instance up, step by step (setup.go), and with
// --migrate then runs migrate --apply and up as their own commands do.
func runInfisicalSetup(ctx context.Context, d *deps, o *setupOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	s, err := newSetupRun(d, o)
	if err != nil {
		return err
	}
	if err := s.run(ctx); err != nil {
		return s.failed(ctx, err)
	}
	if b := s.backupNote(); b != "" {
		s.g.ui.Info("%s", b)
	}
	if !o.migrate {
		s.g.ui.Info("next: 'startsvc migrate' shows which secrets of %s would move into Infisical; --apply moves them (or run setup with --migrate)", s.envName)
		return nil
	}
	// The two commands exactly as 'migrate --apply' and 'up' run them: up
	// converges, so a service whose values did not change keeps running.
	s.g.ui.Step("moving the secrets of %s into Infisical (migrate --apply)", s.envName)
	if err := runMigrate(ctx, d, &migrateOptions{global: o.global, apply: true, batchSize: infisical.DefaultBatchSize}); err != nil {
		return fmt.Errorf("infisical setup is done, but migrate --apply failed: %w", err)
	}
	s.g.ui.Step("bringing the stack up on the secrets in Infisical")
	return runUp(ctx, d, newUpOptions(o.global))
}
