package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/launch"
)

type auditOptions struct {
	global *globalOptions
	json   bool
}

func newAuditCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &auditOptions{global: g}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show where secret values can be read in the project's containers: names and places, never values",
		Long: `Show where the values of secrets can be read without entering a container:
in every container of the project (Config.Env, Config.Labels, Config.Cmd,
Config.Entrypoint, Config.Healthcheck.Test, as docker inspect shows them) and
in the resolved configuration of the selected profile ('config', place
"config"). The secrets are the values startsvc masks: every Infisical value,
the .env values whose name or shape says they are secrets or that init
generates, such shell variables, and the values file-secrets.yml delivers as
files. Values shorter than 4 bytes are not looked for. Only names and places
are shown.

A finding is "exposed" when a value is outside the channel the stack
declares for it:
  - a key that file-secrets.yml delivers as a file is in the environment;
  - a secret value is in any other variable of the environment, unless
    file-secrets.yml lists that variable under env_only for the service
    (then it is shown as "accepted");
  - a secret value is in a label, the command, the entrypoint or the
    healthcheck, where no channel may carry one.

Exit status: 0 when nothing is exposed, 1 when something is, and the usual
codes on failure (2 configuration, 3 Docker or compose unavailable, 4 Infisical).

--json prints {"project": NAME, "profile": NAME, "exposed": N, "containers":
N, "values": N, "findings": [{"service", "container", "place", "field",
"secrets": [NAME], "exposed": BOOL, "reason"}]}.`,
		Example: `  startsvc audit
  startsvc audit --json`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), d, o)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the findings as JSON (shape above)")
	return cmd
}

func runAudit(ctx context.Context, d *deps, o *auditOptions) error {
	g := o.global
	s, err := launcher(d, g).Preflight(ctx, launch.Checks{})
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Audit(ctx)
	if err != nil {
		return err
	}
	err = printResult(d, g, o.json,
		func(w io.Writer) error { return writeAuditJSON(w, g, s.Profile.Name, rep) },
		func(w io.Writer) error { return writeAudit(w, rep) })
	if err != nil {
		return err
	}
	if rep.Exposed() > 0 {
		return exitcode.With(exitcode.Failure, errSilent)
	}
	return nil
}

// writeAudit is the findings for people: a line each, then the counts.
func writeAudit(w io.Writer, r *launch.AuditReport) error {
	var b strings.Builder
	if len(r.Findings) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERDICT\tSERVICE\tCONTAINER\tPLACE\tFIELD\tSECRETS\tWHY")
		for _, f := range r.Findings {
			verdict, ctr, names := "accepted", f.Container, strings.Join(f.Secrets, ",")
			if f.Exposed {
				verdict = "EXPOSED"
			}
			if ctr == "" {
				ctr = "-"
			}
			if names == "" {
				names = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", verdict, f.Service, ctr, f.Place, f.Field, names, f.Reason)
		}
		tw.Flush()
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d exposed, %d accepted; %s and the resolved configuration searched for %s\n",
		r.Exposed(), len(r.Findings)-r.Exposed(), plural(r.Containers, "container"), plural(r.Values, "secret value"))
	_, err := io.WriteString(w, b.String())
	return err
}

func writeAuditJSON(w io.Writer, g *globalOptions, profile string, r *launch.AuditReport) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Project    string            `json:"project"`
		Profile    string            `json:"profile"`
		Exposed    int               `json:"exposed"`
		Containers int               `json:"containers"`
		Values     int               `json:"values"`
		Findings   []launch.Exposure `json:"findings"`
	}{g.Project, profile, r.Exposed(), r.Containers, r.Values, r.Findings})
}
