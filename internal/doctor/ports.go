package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// hostPort is one host port the selected configuration publishes.
type hostPort struct {
	service string
	ip      string // empty: every interface
	port    int
	proto   string
}

func (p hostPort) String() string {
	ip := p.ip
	if ip == "" {
		ip = "0.0.0.0"
	}
	return fmt.Sprintf("%s:%d/%s (%s)", ip, p.port, p.proto, p.service)
}

// checkPorts tries to take every host port the selected services publish,
// and releases it at once. Ports that a container of this project holds are
// skipped (up removes those containers first); one that another container
// publishes is reported with that container's name.
func (r *run) checkPorts(ctx context.Context) {
	if r.selected == nil {
		r.skip(CheckPorts, "the services of the profile are not known")
		return
	}
	var ports []hostPort
	for _, name := range r.selected.Active() {
		for _, p := range r.selected.Services[name].Ports {
			ports = append(ports, expandPorts(name, p.HostIP, p.Published, p.Protocol)...)
		}
	}
	if len(ports) == 0 {
		r.ok(CheckPorts, "the services of the profile publish no host port", "")
		return
	}
	var held []Published
	note := ""
	if r.engine != nil {
		var err error
		if held, err = r.engine.Published(ctx); err != nil {
			note = "; ports of this project's own containers could not be told apart: " + err.Error()
		}
	} else {
		note = "; without the Engine, ports of this project's own containers could not be told apart"
	}
	bind := r.o.Bind
	if bind == nil {
		bind = bindAndRelease
	}
	var taken, unknown []string
	skippedOwn, tested := 0, 0
	for i, p := range ports {
		if other, ok := clash(ports[:i], p); ok {
			taken = append(taken, fmt.Sprintf("%s is also published by %s", p, other.service))
			continue
		}
		if owner, ok := holder(held, p); ok {
			if owner.Project == r.o.Project && r.o.Project != "" {
				skippedOwn++
				continue
			}
			who := "container " + owner.Container
			if owner.Project != "" {
				who += " of project " + owner.Project
			}
			taken = append(taken, fmt.Sprintf("%s is published by %s", p, who))
			continue
		}
		tested++
		network := p.proto
		err := bind(network, net.JoinHostPort(p.ip, strconv.Itoa(p.port)))
		switch {
		case err == nil:
		case errors.Is(err, syscall.EADDRINUSE):
			taken = append(taken, fmt.Sprintf("%s is in use by another program", p))
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			taken = append(taken, fmt.Sprintf("%s: this machine has no address %s", p, p.ip))
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			unknown = append(unknown, fmt.Sprintf("%d/%s", p.port, p.proto))
		default:
			unknown = append(unknown, fmt.Sprintf("%d/%s (%v)", p.port, p.proto, err))
		}
	}
	if len(taken) > 0 {
		r.fail(CheckPorts, exitcode.Failure, "host ports the stack publishes are taken: "+strings.Join(taken, "; ")+note,
			"stop what holds them, or change the port in the compose override of your environment")
		return
	}
	msg := fmt.Sprintf("%d host %s free", tested, plural(tested, "port is", "ports are"))
	if skippedOwn > 0 {
		msg += fmt.Sprintf("; %d held by this project's own containers, which up replaces", skippedOwn)
	}
	if len(unknown) > 0 {
		msg += "; could not test " + strings.Join(unknown, ", ") + " (privileged ports: Docker binds them as root)"
	}
	r.ok(CheckPorts, msg+note, "")
}

// expandPorts turns a published port spec ("8080", "8000-8002", "" for none,
// "0" for an ephemeral one) into the host ports it takes.
func expandPorts(service, ip, published, proto string) []hostPort {
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return nil
	}
	if ip == "0.0.0.0" || ip == "::" {
		ip = ""
	}
	lo, hi, ok := strings.Cut(published, "-")
	if !ok {
		hi = lo
	}
	from, err1 := strconv.Atoi(lo)
	to, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || from <= 0 || to < from || to > 65535 {
		return nil
	}
	var out []hostPort
	for p := from; p <= to; p++ {
		out = append(out, hostPort{service: service, ip: ip, port: p, proto: proto})
	}
	return out
}

// holder finds a running container that publishes p's port, on p's address
// or on every interface.
func holder(held []Published, p hostPort) (Published, bool) {
	sort.SliceStable(held, func(i, j int) bool { return held[i].Container < held[j].Container })
	for _, h := range held {
		if int(h.Port) != p.port || h.Proto != p.proto {
			continue
		}
		hip := h.IP
		if hip == "0.0.0.0" || hip == "::" {
			hip = ""
		}
		if hip == "" || p.ip == "" || hip == p.ip {
			return h, true
		}
	}
	return Published{}, false
}

// clash finds a port among earlier ones of another service that p collides with.
func clash(earlier []hostPort, p hostPort) (hostPort, bool) {
	for _, e := range earlier {
		if e.service != p.service && e.port == p.port && e.proto == p.proto && (e.ip == "" || p.ip == "" || e.ip == p.ip) {
			return e, true
		}
	}
	return hostPort{}, false
}

// bindAndRelease takes address on network and lets it go at once.
func bindAndRelease(network, address string) error {
	if network == "udp" {
		c, err := net.ListenPacket(network, address)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return err
	}
	return l.Close()
}
