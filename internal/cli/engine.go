package cli

import (
	"io"
	"path/filepath"

	"github.com/startsvc/startsvc/internal/launch"
	"github.com/startsvc/startsvc/internal/ui"
)

// launcher is the engine for one command, with the global flags as its
// options, the process's surroundings and startsvc's UI as its reporter.
// Compose's own output is silenced with --quiet.
func launcher(d *deps, g *globalOptions) *launch.Launcher {
	o := g.Options
	o.ProfileSet = g.profileSet
	env := launch.Env{
		Environ: d.env.Environ, Dir: d.env.Dir, Stdout: d.env.Stdout, Stderr: d.env.Stderr,
		LookPath: d.lookPath, Output: d.output, Command: d.command, Now: d.now,
	}
	if g.Quiet {
		env.Stdout, env.Stderr = io.Discard, io.Discard
	}
	return &launch.Launcher{Env: env, Options: o, Report: reporter{g.ui, isTerminal(d.env.Stderr)}, Redactor: g.redactor}
}

// reporter renders the engine's events with startsvc's UI.
type reporter struct {
	*ui.UI
	live bool // the UI writes to a terminal: progress lines are redrawn in place
}

var _ launch.Reporter = reporter{}

// Waiting shows a progress line per service, unless --quiet.
func (r reporter) Waiting(services []string) launch.Tracker {
	if r.Quiet() {
		return nil
	}
	p := ui.NewProgress(r.UI, r.live)
	p.Start(services...)
	return p
}

// absDir is the stack directory: -C, relative to the working directory.
func absDir(d *deps, g *globalOptions) string {
	if filepath.IsAbs(g.Dir) {
		return g.Dir
	}
	return filepath.Join(d.env.Dir, g.Dir)
}

// plural says "1 container" or "3 containers".
func plural(n int, word string) string { return launch.Plural(n, word) }

// printResult writes a command's result to standard output through the
// masker, as JSON with --json and as text otherwise. The result holds names
// only; the masker is a second guard.
func printResult(d *deps, g *globalOptions, asJSON bool, json, text func(io.Writer) error) error {
	out := g.redactor.Writer(d.env.Stdout)
	var err error
	if asJSON {
		err = json(out)
	} else {
		err = text(out)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
