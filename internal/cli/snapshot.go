package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/snapshot"
)

// snapshotPolicy is the snapshot policy the global flags ask for, on the
// store in the user's state directory.
func snapshotPolicy(d *deps, g *globalOptions) snapshot.Policy {
	return snapshot.Policy{Store: snapshot.NewStore(d.env.Getenv, d.now), MaxStale: g.MaxStale,
		Require: g.RequireInfisical, Offline: g.Offline}
}

type snapshotOptions struct {
	global *globalOptions
	json   bool
	all    bool
}

func newSnapshotCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &snapshotOptions{global: g}
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "List or delete the encrypted last-known-good snapshots of Infisical's secrets",
		Long: `After each successful fetch from Infisical, startsvc keeps the secrets in an
encrypted snapshot (AES-256-GCM, a key derived from the identity's credential
and the scope; mode 0600) in $XDG_STATE_HOME/startsvc/snapshots, or
~/.local/state/startsvc/snapshots. When Infisical is unreachable, a snapshot
younger than --max-stale is used instead of .env, with a warning; --offline uses
it without asking Infisical; 401 and 403 delete it.

'startsvc snapshot' lists them: server, project, environment, folder, age and
number of secrets, never a value. What a file says of itself is shown; it is
checked when it is opened. --json prints {"directory", "max_stale",
"snapshots": [{"id", "server", "project", "environment", "path", "recursive",
"auth", "fetched_at", "age_seconds", "keys", "state", "error"}]}; state is
usable, expired or unreadable.`,
		Example: `  startsvc snapshot
  startsvc snapshot list --json
  startsvc snapshot delete 3fa9c2d1e0b4
  startsvc snapshot delete --all`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSnapshotList(d, o) },
	}
	cmd.Flags().BoolVar(&o.json, "json", false, "print a JSON document (shape above) instead of a table")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the snapshots (the same as 'startsvc snapshot')",
		Args:  g.noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runSnapshotList(d, o) },
	}
	list.Flags().BoolVar(&o.json, "json", false, "print a JSON document instead of a table")
	del := &cobra.Command{
		Use:   "delete [ID…] [--all]",
		Short: "Delete snapshots by ID (as listed; a prefix of 4 characters or more will do), or all of them",
		RunE:  func(cmd *cobra.Command, args []string) error { return runSnapshotDelete(d, o, args) },
	}
	del.Flags().BoolVar(&o.all, "all", false, "delete every snapshot")
	cmd.AddCommand(list, del)
	return cmd
}

// snapshotJSON is one snapshot in `snapshot --json`.
type snapshotJSON struct {
	ID          string     `json:"id"`
	Server      string     `json:"server,omitempty"`
	Project     string     `json:"project,omitempty"`
	Environment string     `json:"environment,omitempty"`
	Path        string     `json:"path,omitempty"`
	Recursive   bool       `json:"recursive,omitempty"`
	Auth        string     `json:"auth,omitempty"`
	FetchedAt   *time.Time `json:"fetched_at,omitempty"`
	AgeSeconds  int64      `json:"age_seconds"`
	Keys        int        `json:"keys"`
	State       string     `json:"state"`
	Error       string     `json:"error,omitempty"`
}

func runSnapshotList(d *deps, o *snapshotOptions) error {
	g := o.global
	st := snapshot.NewStore(d.env.Getenv, d.now)
	list, err := st.List()
	if err != nil {
		return exitcode.With(exitcode.Usage, err)
	}
	now := d.now()
	rows := make([]snapshotJSON, 0, len(list))
	for _, i := range list {
		r := snapshotJSON{ID: i.ID, State: "unreadable"}
		if i.Err != nil {
			r.Error = i.Err.Error()
		} else {
			fetched := i.FetchedAt
			r.Server, r.Project, r.Environment, r.Path, r.Recursive = i.Scope.Server, i.Scope.Project, i.Scope.Environment, i.Scope.Path, i.Scope.Recursive
			r.Auth, r.FetchedAt, r.Keys = i.Auth, &fetched, i.Keys
			r.AgeSeconds = int64(i.Age(now) / time.Second)
			r.State = "usable"
			if i.Age(now) > g.MaxStale {
				r.State = "expired"
			}
		}
		rows = append(rows, r)
	}
	w := d.env.Stdout
	if o.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Directory string         `json:"directory"`
			MaxStale  string         `json:"max_stale"`
			Snapshots []snapshotJSON `json:"snapshots"`
		}{st.Dir, g.MaxStale.String(), rows})
	}
	if len(rows) == 0 {
		g.ui.Info("no snapshots in %s", st.Dir)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVER\tPROJECT\tENVIRONMENT\tPATH\tAGE\tKEYS\tSTATE")
	for idx, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\tunreadable: %s\n", list[idx].ShortID(), r.Error)
			continue
		}
		path := r.Path
		if r.Recursive {
			path += " (recursive)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", list[idx].ShortID(), r.Server, orToken(r.Project), orToken(r.Environment),
			path, snapshot.FormatAge(list[idx].Age(now)), r.Keys, r.State)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	g.ui.Detail("snapshots in %s; older than --max-stale %s is expired", st.Dir, g.MaxStale)
	return nil
}

// orToken shows an empty project or environment: a service token's own.
func orToken(s string) string {
	if s == "" {
		return "(token's)"
	}
	return s
}

func runSnapshotDelete(d *deps, o *snapshotOptions, ids []string) error {
	g := o.global
	st := snapshot.NewStore(d.env.Getenv, d.now)
	switch {
	case o.all && len(ids) > 0:
		return exitcode.Usagef("snapshot delete: give IDs or --all, not both")
	case !o.all && len(ids) == 0:
		return exitcode.Usagef("snapshot delete: give the ID of a snapshot (see `startsvc snapshot`), or --all")
	case o.all:
		gone, err := st.RemoveAll()
		if err != nil {
			return exitcode.With(exitcode.Failure, err)
		}
		g.ui.Success("deleted %s from %s", plural(len(gone), "snapshot"), st.Dir)
		return nil
	}
	for _, id := range ids {
		gone, err := st.Remove(id)
		if err != nil {
			return exitcode.With(exitcode.Usage, err)
		}
		what := "an unreadable file"
		if gone.Err == nil {
			what = gone.Scope.String()
		}
		g.ui.Success("deleted snapshot %s (%s)", gone.ShortID(), what)
	}
	return nil
}
