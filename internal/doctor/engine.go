package doctor

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/docker"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
	"github.com/startsvc/startsvc/internal/stack"
)

// Engine is what doctor asks of the Docker Engine.
type Engine interface {
	Ping(ctx context.Context) error
	Facts(ctx context.Context) (docker.Facts, error)
	Host() string
	// Published lists the host ports that running containers publish.
	Published(ctx context.Context) ([]Published, error)
	Close() error
}

// Published is a host port a running container publishes.
type Published struct {
	Container string
	Project   string // its compose project; empty when compose did not start it
	IP        string // the host address; empty or 0.0.0.0 for every interface
	Port      uint16
	Proto     string // tcp or udp
}

// Connect returns the Engine that getenv's DOCKER_HOST (and TLS settings)
// point at, without contacting it. Close releases it.
func Connect(getenv func(string) string) (Engine, error) {
	e, err := docker.Connect(getenv)
	if err != nil {
		return nil, err
	}
	return dockerEngine{e}, nil
}

type dockerEngine struct{ *docker.Engine }

var _ Engine = dockerEngine{}

func (e dockerEngine) Published(ctx context.Context) ([]Published, error) {
	res, err := e.Client().ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list running containers: %w", err)
	}
	var out []Published
	for _, c := range res.Items {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		for _, p := range c.Ports {
			if p.PublicPort == 0 {
				continue
			}
			ip := ""
			if p.IP.IsValid() {
				ip = p.IP.String()
			}
			out = append(out, Published{Container: name, Project: c.Labels[docker.LabelProject], IP: ip, Port: p.PublicPort, Proto: p.Type})
		}
	}
	return out, nil
}

// engineFacts is what the engine check established.
type engineFacts struct {
	docker.Facts
}

func (r *run) checkEngine(ctx context.Context) {
	e, err := r.o.Connect()
	if err == nil {
		if err = e.Ping(ctx); err != nil {
			e.Close()
		}
	}
	if err != nil {
		r.failErr(CheckEngine, exitcode.Unavailable, err, "start Docker, or point DOCKER_HOST at a running Engine")
		return
	}
	r.engine = e
	f, err := e.Facts(ctx)
	if err != nil {
		r.failErr(CheckEngine, exitcode.Unavailable, err, "check that your user may use Docker (docker info)")
		return
	}
	r.facts = &engineFacts{f}
	r.ok(CheckEngine, fmt.Sprintf("Docker Engine %s (API %s) at %s; runtimes: %s", f.Version, f.APIVersion, e.Host(),
		strings.Join(f.Runtimes, ", ")), "")
}

func (r *run) checkCompose(ctx context.Context) {
	if r.o.FindCompose == nil {
		r.skip(CheckCompose, "no way to find compose was given")
		return
	}
	cli, err := r.o.FindCompose(ctx)
	if err != nil {
		r.failErr(CheckCompose, exitcode.Unavailable, err, "install the Docker Compose v2 plugin, or name a compose binary with --compose")
		return
	}
	r.cli = &cli
	r.ok(CheckCompose, fmt.Sprintf("%s %s", cli.Name(), cli.Version), "")
}

// machine describes this machine for profile requirements; ok is false when
// the Engine could not say which runtimes it has.
func (r *run) machine() (stack.Machine, bool) {
	if r.facts == nil {
		return stack.Machine{}, false
	}
	has := r.o.HasDevice
	if has == nil {
		has = fileExists
	}
	return stack.Machine{Runtimes: r.facts.Runtimes, HasDevice: has}, true
}

func (r *run) checkStack() {
	l, err := stackOpen(r.o)
	if err != nil {
		r.failErr(CheckStack, exitcode.Usage, err, "run startsvc in the stack directory, or name it with -C")
		return
	}
	r.layout = l
	files := make([]string, len(l.Files))
	for i, f := range l.Files {
		files[i] = rel(l.Dir, f)
	}
	msg := fmt.Sprintf("%s, environment %s: %s", l.Dir, r.o.Environment, strings.Join(files, ", "))
	if !l.Conventional {
		msg = fmt.Sprintf("%s: %s", l.Dir, strings.Join(files, ", "))
	}
	r.ok(CheckStack, msg, "")
}

func stackOpen(o Options) (*stack.Layout, error) {
	return stack.Open(o.Dir, o.Files, o.Environment)
}

func (r *run) checkHandover() {
	dir := r.o.Dir
	if r.layout != nil {
		dir = r.layout.Dir
	}
	path := filepath.Join(dir, secrets.FileName)
	first, exists, err := firstLine(path)
	switch {
	case err != nil:
		r.fail(CheckHandover, exitcode.Usage, fmt.Sprintf("cannot read %s: %v", path, err), "")
	case !exists:
		r.ok(CheckHandover, fmt.Sprintf("no %s left behind", secrets.FileName), "")
	case strings.Contains(first, secrets.Header()[0]):
		r.warn(CheckHandover, fmt.Sprintf("%s was left behind by a run that was killed; it holds secret values in plain text", path),
			"delete it now; the next up removes it too")
	default:
		r.fail(CheckHandover, exitcode.Usage, fmt.Sprintf("%s exists and was not written by startsvc, which needs that name for its hand-over file", path),
			"move it away")
	}
}
