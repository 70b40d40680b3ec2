package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/ui"
)

// globalOptions are the flags every command accepts.
type globalOptions struct {
	Dir         string
	Project     string
	Profile     string
	Environment string
	Files       []string
	EnvFile     string
	Compose     string

	SkipInfisical    bool
	RequireInfisical bool
	InfisicalURL     string
	InfisicalProject string
	InfisicalEnv     string
	SecretPath       string
	SecretsVia       string
	Recursive        bool
	InfisicalTimeout time.Duration

	DryRun      bool
	WaitTimeout time.Duration
	NoColor     bool
	Quiet       bool
	Verbose     bool

	profileSet bool
	ui         *ui.UI
	usageHint  bool
	cmdPath    string
	redactor   *secrets.Redactor
}

func addGlobalFlags(fs *pflag.FlagSet, g *globalOptions, env Env) {
	project := env.Getenv("COMPOSE_PROJECT_NAME")
	if project == "" {
		project = "localai"
	}
	fs.StringVarP(&g.Dir, "dir", "C", ".", "stack directory")
	fs.StringVarP(&g.Project, "project-name", "p", project, "compose project name (env COMPOSE_PROJECT_NAME)")
	fs.StringVar(&g.Profile, "profile", stackDefaultProfile, "cpu, gpu-nvidia, gpu-amd, none, auto, or a compose profile of the stack")
	fs.StringVar(&g.Environment, "environment", "private", "private (ports on 127.0.0.1) or public (only Caddy's 80/443)")
	fs.StringArrayVarP(&g.Files, "file", "f", nil, "compose file, repeatable; replaces the stack's default files")
	fs.StringVar(&g.EnvFile, "env-file", ".env", "the stack's env file, relative to the stack directory")
	fs.StringVar(&g.Compose, "compose", env.Getenv("STARTSVC_COMPOSE"), "compose binary to use (default: docker compose, then docker-compose; env STARTSVC_COMPOSE)")
	fs.BoolVar(&g.SkipInfisical, "skip-infisical", false, "do not fetch secrets from Infisical; use .env only")
	fs.BoolVar(&g.RequireInfisical, "require-infisical", false, "fail instead of falling back to .env")
	fs.StringVar(&g.InfisicalURL, "infisical-url", "", "Infisical site URL, with or without /api (env INFISICAL_API_URL, INFISICAL_DOMAIN)")
	fs.StringVar(&g.InfisicalProject, "infisical-project", "", "Infisical project id (env INFISICAL_PROJECT_ID, .infisical.json workspaceId)")
	fs.StringVar(&g.InfisicalEnv, "infisical-env", "", "Infisical environment slug (default dev, or .infisical.json defaultEnvironment)")
	fs.StringVar(&g.SecretPath, "secret-path", "", "Infisical folder to read secrets from (default /)")
	fs.BoolVar(&g.Recursive, "recursive", false, "also read the folders below --secret-path")
	fs.DurationVar(&g.InfisicalTimeout, "infisical-timeout", 8*time.Second, "bound on the whole Infisical phase (login, listing, retries)")
	fs.StringVar(&g.SecretsVia, "secrets-via", string(secrets.ViaFile), "how secrets reach compose: file (a 0600 env file removed after use) or env (process environment, nothing on disk)")
	fs.BoolVar(&g.DryRun, "dry-run", false, "print the compose commands that would run, and change nothing")
	fs.DurationVar(&g.WaitTimeout, "wait-timeout", 5*time.Minute, "how long to wait for services to be ready")
	fs.BoolVar(&g.NoColor, "no-color", false, "no colour in output (also NO_COLOR)")
	fs.BoolVarP(&g.Quiet, "quiet", "q", false, "only warnings and errors")
	fs.BoolVarP(&g.Verbose, "verbose", "v", false, "more detail")
}

// noArgs refuses positional arguments as a usage error (exit 2); on the root
// command that is an unknown command.
func (g *globalOptions) noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	g.usageHint, g.cmdPath = true, cmd.CommandPath()
	if !cmd.HasParent() {
		return exitcode.Usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return exitcode.Usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
}

// stackDefaultProfile is shown as the default; a stack without a cpu profile runs with none.
const stackDefaultProfile = "cpu"

func (g *globalOptions) validate() error {
	if g.Project == "" {
		return exitcode.Usagef("--project-name must not be empty")
	}
	if strings.ToLower(g.Project) != g.Project || strings.ContainsAny(g.Project, " /\\:") {
		return exitcode.Usagef("--project-name %q: compose project names are lower case letters, digits, '-' and '_'", g.Project)
	}
	if g.SecretsVia != string(secrets.ViaFile) && g.SecretsVia != string(secrets.ViaEnv) {
		return exitcode.Usagef("--secrets-via %q: want file or env", g.SecretsVia)
	}
	if g.SkipInfisical && g.RequireInfisical {
		return exitcode.Usagef("--skip-infisical and --require-infisical contradict each other")
	}
	if g.InfisicalTimeout <= 0 {
		return exitcode.Usagef("--infisical-timeout must be positive")
	}
	if g.WaitTimeout <= 0 {
		return exitcode.Usagef("--wait-timeout must be positive")
	}
	if g.Quiet && g.Verbose {
		return exitcode.Usagef("--quiet and --verbose contradict each other")
	}
	return nil
}
