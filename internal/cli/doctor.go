package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/doctor"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/ui"
)

// doctorOptions are doctor's flags.
type doctorOptions struct {
	global *globalOptions
	json   bool
}

func newDoctorCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &doctorOptions{global: g}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check, changing nothing, everything up needs and what would break the stack",
		Long: `Check, changing nothing, whether up would work and the stack would run: every
check of up's preflight (stack directory, Docker Engine, compose, Infisical,
env file, compose files, required variables, profile and its machine
requirements), and also: host ports the stack publishes that are taken,
variables the compose files reference that no source provides, drift between
.env and .env.example in both directions, and settings known to break
Supabase (POOLER_DB_POOL_SIZE, an all-digit DASHBOARD_PASSWORD, an @ in
POSTGRES_PASSWORD, API keys not signed with JWT_SECRET; and DOCKER_SOCKET_LOCATION
and LOGFLARE_* with a Supabase checkout that still runs Logflare and Vector). Every check runs, whatever failed before it. Infisical is asked
for its status, and for one login and one listing; no value is ever printed.

With --json the report is one object:
  {"checks": [{"name": "...", "status": "ok|warning|error|skipped",
               "message": "...", "hint": "..."}, ...],
   "ok": true|false}
Names are stable; "ok" is false when any check has status "error".

doctor exits with the code up would end with: that of the first error in the
list, which is in the order up checks. 2: the stack directory, env file,
compose files, a required variable or the profile (and its requirements);
3: the Docker Engine or compose is unavailable or too old; 4: an Infisical
error that is not a fallback case (or any, with --require-infisical); 1:
something up's preflight lets through but that breaks the running stack
(a port taken, a known Supabase breakage). Warnings alone exit 0.`,
		Example: `  startsvc doctor
  startsvc doctor --profile gpu-nvidia --json`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDoctor(cmd.Context(), d, o)
		},
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print the report as JSON")
	return cmd
}

func runDoctor(ctx context.Context, d *deps, o *doctorOptions) error {
	g := o.global
	rep := launcher(d, g).Doctor(ctx)
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	var out string
	if o.json {
		var buf strings.Builder
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("doctor: %w", err)
		}
		out = buf.String()
	} else {
		colored := !g.NoColor && d.env.Getenv("NO_COLOR") == "" && d.env.Getenv("TERM") != "dumb" && isTerminal(d.env.Stdout)
		out = renderDoctor(rep, ui.New(d.env.Stdout, colored, false, false))
	}
	if _, err := fmt.Fprint(d.env.Stdout, g.redactor.String(out)); err != nil {
		return err
	}
	if code := rep.ExitCode(); code != exitcode.OK {
		return exitcode.With(code, errSilent)
	}
	return nil
}

// renderDoctor is the report for people: one line per check with its status,
// the hint indented below it, and a closing verdict.
func renderDoctor(rep *doctor.Report, u *ui.UI) string {
	width := 0
	for _, c := range rep.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	counts := map[doctor.Status]int{}
	for _, c := range rep.Checks {
		counts[c.Status]++
		status := fmt.Sprintf("%-8s", c.Status)
		switch c.Status {
		case doctor.OK:
			status = u.Paint("green", status)
		case doctor.Warning:
			status = u.Paint("yellow", status)
		case doctor.Error:
			status = u.Paint("red", status)
		case doctor.Skipped:
			status = u.Paint("faint", status)
		}
		indent := strings.Repeat(" ", 8+1+width+2)
		fmt.Fprintf(&b, "%s %-*s  %s\n", status, width, c.Name, strings.ReplaceAll(c.Message, "\n", "\n"+indent))
		if c.Hint != "" {
			fmt.Fprintf(&b, "%s %-*s  %s %s\n", strings.Repeat(" ", 8), width, "", u.Paint("faint", "hint:"), c.Hint)
		}
	}
	b.WriteString("\n")
	errs, warns := counts[doctor.Error], counts[doctor.Warning]
	switch {
	case errs > 0:
		fmt.Fprintf(&b, "%s, %s: up would fail (exit %d)\n", plural(errs, "error"), plural(warns, "warning"), rep.ExitCode())
	case warns > 0:
		fmt.Fprintf(&b, "%s, no error: up should work\n", plural(warns, "warning"))
	default:
		b.WriteString("no problem found: up should work\n")
	}
	return b.String()
}
