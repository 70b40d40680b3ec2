package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/launch"
)

// watchOptions are the flags of watch, which up --watch shares.
type watchOptions struct {
	interval      time.Duration
	exitOnFailure bool
	json          bool
}

const watchHelp = `Keep the running stack in step with Infisical and the env file. Every
--interval startsvc asks Infisical for the secrets (a conditional request where
the server supports one) and reads the env file; values are compared in
memory, never written anywhere. On a change it prints one line naming the
changed keys and the services they touch, then recreates exactly those
services, stage by stage, and waits until they are ready. A recreated service
that is not ready within --wait-timeout is put back on the previous values
(held in memory only), reported with its last log lines (masked), and the
watch goes on; --exit-on-failure makes it exit 1 instead.

Infisical unreachable: one warning, the stack is left as it is, polls back off
up to 5 minutes, and recovery is reported; a change made meanwhile is applied
after. An expired access token is renewed by logging in again; a refused
identity ends the watch with exit 4.

Output: one line per event, "TIME EVENT MESSAGE"; with --json one JSON object
per line: {"time", "event", "message", "keys": [{"name", "source"}],
"services": [NAME]}. Events: watching, change, applied, failed, rolled-back,
unreachable, recovered, warning, error, stopped.

SIGINT or SIGTERM ends the watch with exit 0 (130 when it arrives while a
change is being applied); the stack keeps running and no hand-over file is
left. Run it as a service: see docs/WATCH.md.`

func addWatchFlags(cmd *cobra.Command, o *watchOptions) {
	cmd.Flags().DurationVar(&o.interval, "interval", 30*time.Second, "time between two polls (at least 5s)")
	cmd.Flags().BoolVar(&o.exitOnFailure, "exit-on-failure", false, "exit 1 when a change does not become ready (after rolling it back)")
	cmd.Flags().BoolVar(&o.json, "json", false, "print one JSON object per event")
}

func (o *watchOptions) validate() error {
	if o.interval < 5*time.Second {
		return exitcode.Usagef("--interval %s: at least 5s", o.interval)
	}
	return nil
}

func newWatchCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &watchOptions{}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Keep the running stack in step with Infisical and .env: recreate only what a change touches",
		Long:  watchHelp,
		Example: `  startsvc watch --interval 1m
  startsvc up --watch --json`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return runWatch(cmd.Context(), d, g, o)
		},
	}
	addWatchFlags(cmd, o)
	return cmd
}

// runWatch runs the watch with its events on standard output; the engine's
// own messages become warning events, or are dropped.
func runWatch(ctx context.Context, d *deps, g *globalOptions, o *watchOptions) error {
	l := launcher(d, g)
	// One line per event: compose's own progress is not one.
	l.Env.Stdout, l.Env.Stderr = io.Discard, io.Discard
	out := &eventWriter{w: d.env.Stdout, json: o.json, mask: g.redactor.String}
	l.Report = watchReporter{emit: out.write}
	err := l.Watch(ctx, launch.WatchOptions{Interval: o.interval, ExitOnFailure: o.exitOnFailure}, out.write)
	if out.err != nil && err == nil {
		err = out.err
	}
	return err
}

// eventWriter prints events, one line each.
type eventWriter struct {
	mu   sync.Mutex
	w    io.Writer
	json bool
	mask func(string) string
	err  error
}

func (e *eventWriter) write(ev launch.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ev.Message = e.mask(ev.Message)
	var line string
	if e.json {
		data, err := json.Marshal(ev)
		if err != nil {
			e.err = err
			return
		}
		line = string(data)
	} else {
		line = fmt.Sprintf("%s %-11s %s", ev.Time.Format(time.RFC3339), ev.Kind, strings.ReplaceAll(ev.Message, "\n", "\n    "))
	}
	if _, err := fmt.Fprintln(e.w, line); err != nil && e.err == nil {
		e.err = err
	}
}

// watchReporter turns what the engine says during a watch into events:
// warnings become warning events; progress and detail are not events.
type watchReporter struct{ emit func(launch.Event) }

func (r watchReporter) Step(string, ...any)    {}
func (r watchReporter) Info(string, ...any)    {}
func (r watchReporter) Detail(string, ...any)  {}
func (r watchReporter) Success(string, ...any) {}
func (r watchReporter) Warn(format string, a ...any) {
	r.emit(launch.Event{Time: time.Now().UTC(), Kind: launch.EventWarning, Message: fmt.Sprintf(format, a...)})
}
func (r watchReporter) Waiting([]string) launch.Tracker { return nil }
