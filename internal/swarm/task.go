package swarm

import (
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// The parts of a service's specification other than its environment and
// secrets: mounts, ports, networks, health, mode, restarts, resources.

func (c *converter) mounts() ([]mount.Mount, error) {
	var out []mount.Mount
	for _, v := range c.svc.Volumes {
		m := mount.Mount{Target: v.Target, ReadOnly: v.ReadOnly}
		switch v.Type {
		case types.VolumeTypeVolume:
			m.Type = mount.TypeVolume
			if v.Volume != nil && v.Volume.Subpath != "" {
				return nil, c.usagef("volume %s: subpath needs a newer Engine API than deploy uses", v.Source)
			}
			if v.Source == "" {
				break // anonymous
			}
			vol, ok := c.in.Project.Volumes[v.Source]
			if !ok {
				m.Source = v.Source
				break
			}
			m.Source = orDefault(vol.Name, v.Source)
			if vol.External {
				break
			}
			opts := &mount.VolumeOptions{Labels: map[string]string{LabelNamespace: c.in.Stack}}
			maps.Copy(opts.Labels, vol.Labels)
			opts.Labels[LabelNamespace] = c.in.Stack
			if v.Volume != nil {
				opts.NoCopy = v.Volume.NoCopy
			}
			if vol.Driver != "" {
				opts.DriverConfig = &mount.Driver{Name: vol.Driver, Options: vol.DriverOpts}
			}
			m.VolumeOptions = opts
		case types.VolumeTypeBind:
			m.Type, m.Source = mount.TypeBind, v.Source
			if v.Bind != nil && v.Bind.Propagation != "" {
				m.BindOptions = &mount.BindOptions{Propagation: mount.Propagation(v.Bind.Propagation)}
			}
		case types.VolumeTypeTmpfs:
			m.Type = mount.TypeTmpfs
			if v.Tmpfs != nil {
				m.TmpfsOptions = &mount.TmpfsOptions{SizeBytes: int64(v.Tmpfs.Size), Mode: os.FileMode(v.Tmpfs.Mode)}
			}
		default:
			return nil, c.usagef("volume %s: type %s is not one Swarm mounts (volume, bind or tmpfs)", v.Target, v.Type)
		}
		out = append(out, m)
	}
	for _, t := range c.svc.Tmpfs {
		p, opts, _ := strings.Cut(t, ":")
		if opts != "" {
			c.ignored = append(c.ignored, "tmpfs options of "+p)
		}
		out = append(out, mount.Mount{Type: mount.TypeTmpfs, Target: p})
	}
	return out, nil
}

func (c *converter) endpoint() (*swarm.EndpointSpec, error) {
	e := &swarm.EndpointSpec{}
	if c.svc.Deploy != nil && c.svc.Deploy.EndpointMode != "" {
		e.Mode = swarm.ResolutionMode(c.svc.Deploy.EndpointMode)
	}
	for _, p := range c.svc.Ports {
		if ip := p.HostIP; ip != "" && ip != "0.0.0.0" && ip != "::" {
			return nil, c.usagef("port %d is published on %s only, and Swarm publishes a port on every address of every node: "+
				"deploy with --environment public (only Caddy publishes), or publish it without an address", p.Target, ip)
		}
		pc := swarm.PortConfig{Name: p.Name, Protocol: network.IPProtocol(orDefault(p.Protocol, "tcp")), TargetPort: p.Target,
			PublishMode: swarm.PortConfigPublishModeIngress}
		if p.Mode == "host" {
			pc.PublishMode = swarm.PortConfigPublishModeHost
		}
		if p.Published != "" {
			n, err := strconv.ParseUint(p.Published, 10, 16)
			if err != nil {
				return nil, c.usagef("published port %q: Swarm publishes single ports, not ranges", p.Published)
			}
			pc.PublishedPort = uint32(n)
		}
		e.Ports = append(e.Ports, pc)
	}
	if e.Mode == "" && len(e.Ports) == 0 {
		return nil, nil
	}
	return e, nil
}

func (c *converter) networks() ([]swarm.NetworkAttachmentConfig, error) {
	if c.svc.NetworkMode == "host" {
		return []swarm.NetworkAttachmentConfig{{Target: "host"}}, nil
	}
	var out []swarm.NetworkAttachmentConfig
	for _, key := range c.svc.NetworksByPriority() {
		cfg := c.svc.Networks[key]
		def, ok := c.in.Project.Networks[key]
		name := orDefault(def.Name, key)
		if !ok {
			return nil, c.usagef("network %s is not defined in the compose files", key)
		}
		if _, seen := c.def.Networks[name]; !seen {
			n, err := c.network(key, name, def)
			if err != nil {
				return nil, err
			}
			c.def.Networks[name] = n
		}
		att := swarm.NetworkAttachmentConfig{Target: name, Aliases: []string{c.svc.Name}}
		if cfg != nil {
			for _, a := range cfg.Aliases {
				if !slices.Contains(att.Aliases, a) {
					att.Aliases = append(att.Aliases, a)
				}
			}
			att.DriverOpts = cfg.DriverOpts
			if cfg.Ipv4Address != "" || cfg.Ipv6Address != "" {
				c.ignored = append(c.ignored, "fixed addresses on network "+key)
			}
		}
		out = append(out, att)
	}
	return out, nil
}

func (c *converter) network(key, name string, def types.NetworkConfig) (*Network, error) {
	n := &Network{Name: name, External: bool(def.External)}
	if n.External {
		return n, nil
	}
	driver := def.Driver
	switch driver {
	case "", "bridge":
		driver = "overlay"
	case "host", "none":
		return nil, exitcode.Usagef("network %s: driver %s cannot carry a Swarm service's traffic", key, driver)
	}
	labels := map[string]string{}
	maps.Copy(labels, def.Labels)
	labels[LabelNamespace] = c.in.Stack
	n.Options = client.NetworkCreateOptions{Driver: driver, Scope: "swarm", Attachable: def.Attachable, Internal: def.Internal,
		Labels: labels, Options: def.DriverOpts, EnableIPv6: def.EnableIPv6}
	if def.Ipam.Driver != "" || len(def.Ipam.Config) > 0 {
		ipam := &network.IPAM{Driver: def.Ipam.Driver, Options: def.Ipam.Options}
		for _, p := range def.Ipam.Config {
			var cfg network.IPAMConfig
			var err error
			if p.Subnet != "" {
				if cfg.Subnet, err = netip.ParsePrefix(p.Subnet); err != nil {
					return nil, exitcode.Usagef("network %s: subnet %q: %w", key, p.Subnet, err)
				}
			}
			if p.IPRange != "" {
				if cfg.IPRange, err = netip.ParsePrefix(p.IPRange); err != nil {
					return nil, exitcode.Usagef("network %s: ip_range %q: %w", key, p.IPRange, err)
				}
			}
			if p.Gateway != "" {
				if cfg.Gateway, err = netip.ParseAddr(p.Gateway); err != nil {
					return nil, exitcode.Usagef("network %s: gateway %q: %w", key, p.Gateway, err)
				}
			}
			ipam.Config = append(ipam.Config, cfg)
		}
		n.Options.IPAM = ipam
	}
	return n, nil
}

func (c *converter) healthcheck() *container.HealthConfig {
	hc := c.svc.HealthCheck
	if hc == nil {
		return nil
	}
	if hc.Disable {
		return &container.HealthConfig{Test: []string{"NONE"}}
	}
	h := &container.HealthConfig{Test: hc.Test}
	if hc.Interval != nil {
		h.Interval = time.Duration(*hc.Interval)
	}
	if hc.Timeout != nil {
		h.Timeout = time.Duration(*hc.Timeout)
	}
	if hc.StartPeriod != nil {
		h.StartPeriod = time.Duration(*hc.StartPeriod)
	}
	if hc.Retries != nil {
		h.Retries = int(*hc.Retries)
	}
	return h
}

// mode is the service's mode: replicated (deploy.replicas, else scale, else
// 1), global, or a job; a one-shot service of a replicated or global mode
// becomes a job that runs once.
func (c *converter) mode() (swarm.ServiceMode, bool, error) {
	d := c.svc.Deploy
	mode := "replicated"
	if d != nil && d.Mode != "" {
		mode = d.Mode
	}
	n := uint64(1)
	switch {
	case d != nil && d.Replicas != nil:
		n = uint64(max(*d.Replicas, 0))
	case c.svc.Scale != nil:
		n = uint64(max(*c.svc.Scale, 0))
	}
	oneShot := slices.Contains(c.in.OneShots, c.svc.Name)
	switch {
	case mode == "replicated" && oneShot:
		one := uint64(1)
		return swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: &one, TotalCompletions: &one}}, true, nil
	case mode == "replicated":
		return swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &n}}, false, nil
	case mode == "global" && oneShot, mode == "global-job":
		return swarm.ServiceMode{GlobalJob: &swarm.GlobalJob{}}, true, nil
	case mode == "global":
		return swarm.ServiceMode{Global: &swarm.GlobalService{}}, false, nil
	case mode == "replicated-job":
		return swarm.ServiceMode{ReplicatedJob: &swarm.ReplicatedJob{MaxConcurrent: &n, TotalCompletions: &n}}, true, nil
	}
	return swarm.ServiceMode{}, false, c.usagef("deploy.mode %q: want replicated, global, replicated-job or global-job", mode)
}

// restartPolicy is deploy.restart_policy, else the one restart: means, else
// Swarm's default. A job is never restarted once it succeeded.
func (c *converter) restartPolicy(job bool) *swarm.RestartPolicy {
	var p *swarm.RestartPolicy
	if d := c.svc.Deploy; d != nil && d.RestartPolicy != nil {
		rp := d.RestartPolicy
		p = &swarm.RestartPolicy{Condition: swarm.RestartPolicyCondition(rp.Condition), MaxAttempts: rp.MaxAttempts,
			Delay: (*time.Duration)(rp.Delay), Window: (*time.Duration)(rp.Window)}
	} else {
		switch r := c.svc.Restart; {
		case r == types.RestartPolicyNo:
			p = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone}
		case r == types.RestartPolicyAlways || r == types.RestartPolicyUnlessStopped:
			p = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionAny}
		case strings.HasPrefix(r, types.RestartPolicyOnFailure):
			p = &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionOnFailure}
			if _, n, ok := strings.Cut(r, ":"); ok {
				if attempts, err := strconv.ParseUint(n, 10, 64); err == nil {
					p.MaxAttempts = &attempts
				}
			}
		}
	}
	if job && (p == nil || p.Condition == swarm.RestartPolicyConditionAny || p.Condition == "") {
		if p == nil {
			p = &swarm.RestartPolicy{}
		}
		p.Condition = swarm.RestartPolicyConditionOnFailure
	}
	return p
}

func updateConfig(u *types.UpdateConfig) *swarm.UpdateConfig {
	if u == nil {
		return nil
	}
	par := uint64(1)
	if u.Parallelism != nil {
		par = *u.Parallelism
	}
	return &swarm.UpdateConfig{Parallelism: par, Delay: time.Duration(u.Delay), FailureAction: swarm.FailureAction(u.FailureAction),
		Monitor: time.Duration(u.Monitor), MaxFailureRatio: u.MaxFailureRatio, Order: swarm.UpdateOrder(u.Order)}
}

func (c *converter) resources() *swarm.ResourceRequirements {
	d := c.svc.Deploy
	if d == nil || (d.Resources.Limits == nil && d.Resources.Reservations == nil) {
		return nil
	}
	r := &swarm.ResourceRequirements{}
	if l := d.Resources.Limits; l != nil {
		r.Limits = &swarm.Limit{NanoCPUs: nanoCPUs(l.NanoCPUs), MemoryBytes: int64(l.MemoryBytes), Pids: l.Pids}
	}
	if v := d.Resources.Reservations; v != nil {
		res := &swarm.Resources{NanoCPUs: nanoCPUs(v.NanoCPUs), MemoryBytes: int64(v.MemoryBytes)}
		for _, g := range v.GenericResources {
			if g.DiscreteResourceSpec != nil {
				res.GenericResources = append(res.GenericResources, swarm.GenericResource{
					DiscreteResourceSpec: &swarm.DiscreteGenericResource{Kind: g.DiscreteResourceSpec.Kind, Value: g.DiscreteResourceSpec.Value}})
			}
		}
		r.Reservations = res
	}
	return r
}

func nanoCPUs(n types.NanoCPUs) int64 { return int64(float64(n) * 1e9) }

func (c *converter) placement() *swarm.Placement {
	d := c.svc.Deploy
	if d == nil || (len(d.Placement.Constraints) == 0 && len(d.Placement.Preferences) == 0 && d.Placement.MaxReplicas == 0) {
		return nil
	}
	p := &swarm.Placement{Constraints: d.Placement.Constraints, MaxReplicas: d.Placement.MaxReplicas}
	for _, pref := range d.Placement.Preferences {
		p.Preferences = append(p.Preferences, swarm.PlacementPreference{Spread: &swarm.SpreadOver{SpreadDescriptor: pref.Spread}})
	}
	return p
}

func (c *converter) logDriver() *swarm.Driver {
	if l := c.svc.Logging; l != nil && l.Driver != "" {
		return &swarm.Driver{Name: l.Driver, Options: l.Options}
	}
	return nil
}

// hosts are extra_hosts as Swarm writes them to /etc/hosts: "IP name".
func (c *converter) hosts() []string {
	var out []string
	for _, host := range slices.Sorted(maps.Keys(c.svc.ExtraHosts)) {
		for _, ip := range c.svc.ExtraHosts[host] {
			out = append(out, ip+" "+host)
		}
	}
	return out
}

func (c *converter) dns() (*swarm.DNSConfig, error) {
	svc := c.svc
	if len(svc.DNS) == 0 && len(svc.DNSSearch) == 0 && len(svc.DNSOpts) == 0 {
		return nil, nil
	}
	d := &swarm.DNSConfig{Search: svc.DNSSearch, Options: svc.DNSOpts}
	for _, s := range svc.DNS {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, c.usagef("dns %q is not an IP address", s)
		}
		d.Nameservers = append(d.Nameservers, a)
	}
	return d, nil
}

func (c *converter) ulimits() []*container.Ulimit {
	var out []*container.Ulimit
	for _, name := range slices.Sorted(maps.Keys(c.svc.Ulimits)) {
		u := c.svc.Ulimits[name]
		soft, hard := int64(u.Soft), int64(u.Hard)
		if u.Single != 0 {
			soft, hard = int64(u.Single), int64(u.Single)
		}
		out = append(out, &container.Ulimit{Name: name, Soft: soft, Hard: hard})
	}
	return out
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
