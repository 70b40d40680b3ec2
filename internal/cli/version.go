package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/docker"
)

func newVersionCmd(d *deps, g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the versions of startsvc, compose and the Docker Engine",
		Args:  g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(cmd.Context(), d, g)
		},
	}
}

// runVersion prints what it can find; a missing compose or Engine is shown, not an error.
func runVersion(ctx context.Context, d *deps, g *globalOptions) error {
	w := d.env.Stdout
	fmt.Fprintf(w, "startsvc %s\n", Version)
	finder := launcher(d, g).Finder(false)
	if cli, err := finder.Find(ctx); err != nil {
		fmt.Fprintf(w, "compose  not available: %s\n", err)
	} else {
		fmt.Fprintf(w, "compose  %s (%s)\n", cli.Version, cli.Name())
	}
	engine, err := docker.Open(ctx, d.env.Getenv)
	if err == nil {
		defer engine.Close()
		var f docker.Facts
		if f, err = engine.Facts(ctx); err == nil {
			fmt.Fprintf(w, "engine   %s (API %s)\n", f.Version, f.APIVersion)
			return nil
		}
	}
	fmt.Fprintf(w, "engine   not available: %s\n", firstLine(err.Error()))
	return nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
