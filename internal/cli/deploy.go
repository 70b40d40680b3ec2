package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/launch"
	"github.com/startsvc/startsvc/internal/swarm"
)

type deployOptions struct {
	global *globalOptions
	rm     bool
	json   bool
}

func newDeployCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &deployOptions{global: g}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Run the stack on Docker Swarm: file-delivered keys as Swarm secrets, rolling updates on change",
		Long: `Run the stack on Docker Swarm, as a stack named after the project. The stack is
resolved exactly as up resolves it (files, profile, environment, Infisical and
.env, fallback policy), then deployed through the Engine API of a swarm manager.

Keys the stack data (file-secrets.yml) delivers as files become Swarm secrets
named <project>_<KEY>_<hash of the value>, mounted at /run/secrets/<KEY>, with
<KEY>_FILE naming that path; their values never enter a service's
specification. Every other variable is in the service's environment, as Swarm
has it. A changed value is a new secret, and only the services that mount it
get a rolling update; unchanged services are left alone. Secrets no service
mounts any more are removed once the update converged.

Swarm ignores depends_on conditions, container_name and profiles: startsvc
selects the profile's services itself and deploys them stage by stage
(stages.yml), each stage's services converged — tasks running, and healthy
where there is a healthcheck — before the next stage is deployed. Images are
used as given, never resolved at a registry.

--rm removes the stack: its services, networks and secrets (volumes stay).
--dry-run shows what deploy would change and changes nothing; --json prints
that plan as {"project", "pending", "services": [{"service", "action",
"reasons", "stage"}], "secrets": [NAME]}.

The Engine must be a swarm manager: 'docker swarm init' makes a single machine
one (exit 3 otherwise). docs/SCALE.md covers several machines.`,
		Example: `  startsvc deploy --environment public
  startsvc deploy --dry-run
  startsvc deploy --rm`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeploy(cmd.Context(), d, o)
		},
	}
	cmd.Flags().BoolVar(&o.rm, "rm", false, "remove the stack: its services, networks and secrets (volumes stay)")
	cmd.Flags().BoolVar(&o.json, "json", false, "with --dry-run, print the plan as JSON (shape above)")
	return cmd
}

func runDeploy(ctx context.Context, d *deps, o *deployOptions) error {
	g := o.global
	l := launcher(d, g)
	if o.rm {
		return runUndeploy(ctx, d, l, g)
	}
	dep, err := l.Deploy(ctx)
	if err != nil {
		return err
	}
	if g.DryRun {
		return printResult(d, g, o.json,
			func(w io.Writer) error { return writeDeployJSON(w, g.Project, dep) },
			func(w io.Writer) error { return writeDeployPlan(w, dep) })
	}
	if !g.Quiet {
		if st, err := l.Status(ctx); err == nil && len(st) > 0 {
			fmt.Fprintln(d.env.Stdout)
			_ = health.WriteTable(d.env.Stdout, st, g.ui.Paint)
		}
	}
	g.ui.Success("stack %s is deployed", g.Project)
	return nil
}

func runUndeploy(ctx context.Context, d *deps, l *launch.Launcher, g *globalOptions) error {
	removed, err := l.Undeploy(ctx)
	if g.DryRun && err == nil {
		return printLines(d, removalLines(removed, "# would remove"))
	}
	for _, line := range removalLines(removed, "removed") {
		g.ui.Detail("%s", line)
	}
	if err != nil {
		return err
	}
	if removed.Empty() {
		g.ui.Success("stack %s is not deployed", g.Project)
		return nil
	}
	g.ui.Success("stack %s is removed: %s, %s, %s (volumes stay)", g.Project, plural(len(removed.Services), "service"),
		plural(len(removed.Networks), "network"), plural(len(removed.Secrets), "secret"))
	return nil
}

// removalLines name what is or would be removed, a line per kind.
func removalLines(r swarm.Removed, verb string) []string {
	var out []string
	for _, kind := range []struct {
		word  string
		names []string
	}{{"services", r.Services}, {"networks", r.Networks}, {"secrets", r.Secrets}} {
		if len(kind.names) > 0 {
			out = append(out, fmt.Sprintf("%s %s: %s", verb, kind.word, strings.Join(kind.names, ", ")))
		}
	}
	return out
}

// writeDeployPlan is deploy's plan for people: a line per service, then the secrets.
func writeDeployPlan(w io.Writer, dep *launch.Deployment) error {
	width := 0
	for _, c := range dep.Changes {
		width = max(width, len(c.Service))
	}
	var b strings.Builder
	for _, c := range dep.Changes {
		fmt.Fprintf(&b, "%-7s  %-*s  %s\n", c.Action, width, c.Service, strings.Join(c.Reasons, "; "))
	}
	if len(dep.Secrets) > 0 {
		fmt.Fprintf(&b, "\nsecrets: %s\n", strings.Join(dep.Secrets, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDeployJSON(w io.Writer, project string, dep *launch.Deployment) error {
	changes, secrets := dep.Changes, dep.Secrets
	if changes == nil {
		changes = []swarm.Change{}
	}
	if secrets == nil {
		secrets = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Project  string         `json:"project"`
		Pending  bool           `json:"pending"`
		Services []swarm.Change `json:"services"`
		Secrets  []string       `json:"secrets"`
	}{project, dep.Pending(), changes, secrets})
}
