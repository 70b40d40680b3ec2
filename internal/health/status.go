package health

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// StateMissing is the state of a service in scope that has no container.
const StateMissing = "missing"

// HealthNone is the health of a container without a healthcheck.
const HealthNone = "none"

// ServiceStatus is one container of a compose project as `startsvc status`
// and the summary after `up` show it. Its JSON form is part of startsvc's
// interface; see Report.
type ServiceStatus struct {
	Service   string `json:"service"`
	Container string `json:"container"` // "" when State is missing
	// State is the Engine's: created, running, paused, restarting, removing,
	// exited or dead; or missing.
	State string `json:"state"`
	// Health is healthy, unhealthy or starting; none without a healthcheck
	// (and for a missing service).
	Health   string `json:"health"`
	ExitCode *int   `json:"exit_code"` // set for exited and dead containers only
	OneShot  bool   `json:"one_shot"`
	// Ready is what a wait would decide: healthy; running without a
	// healthcheck; exited 0 for a one-shot service.
	Ready bool   `json:"ready"`
	Ports []Port `json:"ports"` // never nil
	URL   string `json:"url"`   // where a person opens it; "" when none
}

// Port is a published port: HostIP:HostPort on the host leads to
// ContainerPort/Protocol in the container.
type Port struct {
	HostIP        string `json:"host_ip"` // "0.0.0.0" or "::" for every address
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol"` // tcp, udp or sctp
}

// Report is the document `startsvc status --json` prints. The shape is stable:
// fields are only ever added, never renamed or removed.
//
//	{
//	  "project": "localai",
//	  "ready": false,                  // every service ready
//	  "services": [                    // sorted by service, then container
//	    {
//	      "service": "n8n",
//	      "container": "localai-n8n-1",
//	      "state": "running",          // created|running|paused|restarting|removing|exited|dead|missing
//	      "health": "healthy",         // healthy|unhealthy|starting|none
//	      "exit_code": null,           // a number for exited and dead containers
//	      "one_shot": false,
//	      "ready": true,
//	      "ports": [{"host_ip": "127.0.0.1", "host_port": 5678, "container_port": 5678, "protocol": "tcp"}],
//	      "url": "http://localhost:5678"   // "" when there is none
//	    }
//	  ]
//	}
type Report struct {
	Project  string          `json:"project"`
	Ready    bool            `json:"ready"`
	Services []ServiceStatus `json:"services"`
}

// NewReport returns the report of project's statuses.
func NewReport(project string, st []ServiceStatus) Report {
	if st == nil {
		st = []ServiceStatus{}
	}
	return Report{Project: project, Ready: len(Unready(st)) == 0, Services: st}
}

// WriteJSON writes the report of project's statuses to w, indented, with a
// final newline.
func WriteJSON(w io.Writer, project string, st []ServiceStatus) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NewReport(project, st))
}

// Unready lists, sorted and without repeats, the services with a container
// that is not ready, or with none: what makes `status` exit non-zero.
func Unready(st []ServiceStatus) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range st {
		if !s.Ready && !seen[s.Service] {
			seen[s.Service] = true
			out = append(out, s.Service)
		}
	}
	sort.Strings(out)
	return out
}

// Collect returns the status of every container of scope's project that
// belongs to one of scope.Services (all of them when nil), sorted by service
// and container name, plus a StateMissing entry for each named service without
// a container. Containers of `compose run` are left out.
func Collect(ctx context.Context, e Engine, scope Scope) ([]ServiceStatus, error) {
	list, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(scope.Project)})
	if err != nil {
		return nil, fmt.Errorf("list containers of project %s: %w", scope.Project, err)
	}
	var out []ServiceStatus
	found := map[string]bool{}
	for _, c := range list.Items {
		svc := c.Labels[labelService]
		if svc == "" || c.Labels[labelOneoff] == "True" || (scope.Services != nil && !scope.has(svc)) {
			continue
		}
		res, err := e.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue // removed since the list
		}
		if err != nil {
			return nil, fmt.Errorf("inspect container of service %s: %w", svc, err)
		}
		found[svc] = true
		out = append(out, status(svc, res.Container, scope))
	}
	for _, svc := range scope.Services {
		if !found[svc] {
			found[svc] = true
			out = append(out, ServiceStatus{Service: svc, State: StateMissing, Health: HealthNone, Ports: []Port{}})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Container < out[j].Container
	})
	return out, nil
}

func status(svc string, c container.InspectResponse, scope Scope) ServiceStatus {
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	s := ServiceStatus{
		Service:   svc,
		Container: strings.TrimPrefix(c.Name, "/"),
		Health:    HealthNone,
		OneShot:   scope.oneShot(svc, labels),
		Ports:     ports(c),
	}
	if st := c.State; st != nil {
		s.State = string(st.Status)
		if st.Health != nil && st.Health.Status != "" && st.Health.Status != container.NoHealthcheck {
			s.Health = string(st.Health.Status)
		}
		if st.Status == container.StateExited || st.Status == container.StateDead {
			code := st.ExitCode
			s.ExitCode = &code
		}
	}
	// A status is a snapshot: there is no wait for restarts to count against.
	s.Ready = classify(c, s.OneShot, 0, 0, func(string) string { return "" }).phase.Ready()
	if s.State == string(container.StateRunning) {
		s.URL = URL(svc, s.Ports)
	}
	return s
}

// ports lists a container's published ports, sorted by container port,
// protocol, host IP and host port. Exposed ports nobody published are left out.
func ports(c container.InspectResponse) []Port {
	out := []Port{}
	if c.NetworkSettings == nil {
		return out
	}
	for p, bindings := range c.NetworkSettings.Ports {
		for _, b := range bindings {
			hp, err := strconv.Atoi(b.HostPort)
			if err != nil {
				continue
			}
			ip := ""
			if b.HostIP.IsValid() {
				ip = b.HostIP.String()
			}
			out = append(out, Port{HostIP: ip, HostPort: hp, ContainerPort: int(p.Num()), Protocol: string(p.Proto())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.ContainerPort != b.ContainerPort:
			return a.ContainerPort < b.ContainerPort
		case a.Protocol != b.Protocol:
			return a.Protocol < b.Protocol
		case a.HostIP != b.HostIP:
			return a.HostIP < b.HostIP
		}
		return a.HostPort < b.HostPort
	})
	return out
}
