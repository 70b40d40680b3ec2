package launch

import (
	"context"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/health"
	"github.com/startsvc/startsvc/internal/lock"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
	"github.com/startsvc/startsvc/internal/swarm"
)

// Down stops and removes every container and network of the project whatever
// profile started it, and its volumes too when volumes is set. It needs
// neither the env file nor Infisical: compose finds the project's resources
// by their labels, so a broken .env cannot keep a stack from stopping. With
// Options.DryRun it changes nothing and returns the compose command it would
// run.
func (l *Launcher) Down(ctx context.Context, volumes bool) (dryRun []string, err error) {
	o := &l.Options
	var lk *lock.Lock
	defer func() { lk.Release() }()
	if !o.DryRun {
		if lk, err = l.acquireLock(ctx); err != nil {
			return nil, err
		}
	}
	dir := ""
	if layout, err := stack.Open(l.StackDir(), o.Files, o.Environment); err == nil {
		dir = layout.Dir
		if err := l.removeStale((&Stack{Layout: layout}).handoverPath(), lk != nil); err != nil {
			l.Report.Warn("%s", err)
		}
	}
	engine, err := docker.Open(ctx, l.Env.Getenv)
	if err != nil {
		return nil, err
	}
	defer engine.Close()
	finder := l.Finder(true)
	cli, err := finder.Find(ctx)
	if err != nil {
		return nil, err
	}
	args := compose.DownAll(o.Project, volumes)
	if o.DryRun {
		return []string{compose.Quote(cli.Command(args...))}, nil
	}
	existing, err := engine.ProjectContainers(ctx, o.Project)
	if err != nil {
		return nil, exitcode.With(exitcode.Unavailable, err)
	}
	if len(existing) == 0 && !volumes {
		l.Report.Success("project %s has no containers", o.Project)
		return nil, nil
	}
	env, _ := secrets.ComposeEnv(l.Env.Environ, nil, secrets.ViaFile)
	runner, flush := l.runner(cli, env, dir)
	defer flush()
	what := " and its networks"
	if volumes {
		what = ", its networks and its volumes"
	}
	l.Report.Step("removing project %s: %s%s", o.Project, Plural(len(existing), "container"), what)
	if err := runner.Run(ctx, args...); err != nil {
		return nil, err
	}
	flush()
	l.Report.Success("project %s is down", o.Project)
	return nil, nil
}

// Status is the state of every container of the project, then, when the
// Engine is a swarm manager, of every task of the stack deploy made of it.
// It reads the Engine only: no .env, compose file or Infisical is needed.
func (l *Launcher) Status(ctx context.Context) ([]health.ServiceStatus, error) {
	engine, err := docker.Open(ctx, l.Env.Getenv)
	if err != nil {
		return nil, err
	}
	defer engine.Close()
	st, err := health.Collect(ctx, engine.Client(), health.Scope{Project: l.Options.Project})
	if err != nil {
		return nil, exitcode.With(exitcode.Unavailable, err)
	}
	// A stack deployed on Docker Swarm (startsvc deploy) under the project's name.
	if swarm.IsManager(ctx, engine.Client()) {
		deployed, err := swarm.Collect(ctx, engine.Client(), l.Options.Project)
		if err != nil {
			return nil, exitcode.With(exitcode.Unavailable, err)
		}
		st = append(st, deployed...)
	}
	return st, nil
}
