package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/launch"
)

type planOptions struct {
	global *globalOptions
	json   bool
}

func newPlanCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &planOptions{global: g}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what up would change: per service keep, create, recreate, start or remove, and why",
		Long: `Show, changing nothing, what 'startsvc up' with the same flags would do to the
running project: for each service one line — keep, create, recreate, start or
remove — and why: no container yet, the image changed, the configuration
changed, or which variables changed and where they come from (Infisical, the
env file, the shell). Names only: no value is ever shown.

Exit status: 0 when the project is in step (up would change nothing), 5 when
changes are pending, and the usual codes on failure (2 configuration, 3 Docker
or compose unavailable, 4 Infisical).

--json prints {"project": NAME, "profile": NAME, "environment": NAME,
"pending": BOOL, "summary": TEXT, "services": [{"service", "action",
"reasons": [TEXT], "variables": [{"name", "source"}], "stage",
"containers": [ID]}]}.`,
		Example: `  startsvc plan
  startsvc plan --profile none --json`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPlan(cmd.Context(), d, o)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the plan as JSON (shape above)")
	return cmd
}

func runPlan(ctx context.Context, d *deps, o *planOptions) error {
	g := o.global
	s, err := launcher(d, g).Preflight(ctx, launch.Checks{Requirements: true})
	if err != nil {
		return err
	}
	defer s.Close()
	plan, err := s.Plan(ctx)
	if err != nil {
		return err
	}
	err = printResult(d, g, o.json,
		func(w io.Writer) error { return writePlanJSON(w, g, s.Profile.Name, plan) },
		func(w io.Writer) error { return writePlan(w, plan) })
	if err != nil {
		return err
	}
	if plan.Pending() {
		return exitcode.With(exitcode.Pending, errSilent)
	}
	return nil
}

// writePlan is the plan for people: a line per service, then the counts.
func writePlan(w io.Writer, p launch.Plan) error {
	width := 0
	for _, ch := range p.Changes {
		width = max(width, len(ch.Service))
	}
	var b strings.Builder
	for _, ch := range p.Changes {
		fmt.Fprintf(&b, "%-8s  %-*s  %s\n", ch.Action, width, ch.Service, strings.Join(ch.Reasons, "; "))
	}
	fmt.Fprintf(&b, "\n%s\n", p.Summary())
	_, err := io.WriteString(w, b.String())
	return err
}

func writePlanJSON(w io.Writer, g *globalOptions, profile string, p launch.Plan) error {
	changes := p.Changes
	if changes == nil {
		changes = []launch.Change{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Project     string          `json:"project"`
		Profile     string          `json:"profile"`
		Environment string          `json:"environment"`
		Pending     bool            `json:"pending"`
		Summary     string          `json:"summary"`
		Services    []launch.Change `json:"services"`
	}{g.Project, profile, g.Environment, p.Pending(), p.Summary(), changes})
}
