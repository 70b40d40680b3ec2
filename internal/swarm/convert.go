package swarm

import (
	"fmt"
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
	"github.com/startsvc/startsvc/internal/stack"
)

// converter turns one compose service into a Swarm service.
type converter struct {
	in      Input
	def     *Definition
	svc     types.ServiceConfig
	ignored []string // what the service asks for that Swarm does not do
}

func (c *converter) usagef(format string, a ...any) error {
	return exitcode.Usagef("service %s: %s", c.svc.Name, fmt.Sprintf(format, a...))
}

func (c *converter) service() (*Service, error) {
	svc := c.svc
	full := c.in.Stack + "_" + svc.Name
	if len(full) > 63 || !swarmName.MatchString(full) {
		return nil, c.usagef("the Swarm service name %s is not valid (at most 63 letters, digits, '-', '_' or '.')", full)
	}
	if svc.Image == "" {
		return nil, c.usagef("no image: Swarm runs images and builds none; build it, push it to a registry the nodes reach, and name it with image: (docs/SCALE.md)")
	}
	c.checkIgnored()
	s := &Service{Name: svc.Name}
	env, refs, err := c.environmentAndSecrets(s)
	if err != nil {
		return nil, err
	}
	mounts, err := c.mounts()
	if err != nil {
		return nil, err
	}
	endpoint, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	nets, err := c.networks()
	if err != nil {
		return nil, err
	}
	hc := c.healthcheck()
	s.Health = hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
	mode, job, err := c.mode()
	if err != nil {
		return nil, err
	}
	s.Job = job
	restart := c.restartPolicy(job)
	s.NoRestart = restart != nil && restart.Condition == swarm.RestartPolicyConditionNone
	dns, err := c.dns()
	if err != nil {
		return nil, err
	}

	labels := map[string]string{}
	for k, v := range svc.Labels {
		if !slices.Contains(c.in.DropLabels, k) {
			labels[k] = v
		}
	}
	labels[LabelNamespace] = c.in.Stack
	spec := swarm.ServiceSpec{
		Annotations: swarm.Annotations{Name: full, Labels: c.serviceLabels()},
		TaskTemplate: swarm.TaskSpec{
			ContainerSpec: &swarm.ContainerSpec{
				Image:           svc.Image,
				Labels:          labels,
				Command:         []string(svc.Entrypoint),
				Args:            []string(svc.Command),
				Hostname:        svc.Hostname,
				Env:             env,
				Dir:             svc.WorkingDir,
				User:            svc.User,
				Groups:          svc.GroupAdd,
				Init:            svc.Init,
				StopSignal:      svc.StopSignal,
				TTY:             svc.Tty,
				OpenStdin:       svc.StdinOpen,
				ReadOnly:        svc.ReadOnly,
				Mounts:          mounts,
				StopGracePeriod: (*time.Duration)(svc.StopGracePeriod),
				Healthcheck:     hc,
				Hosts:           c.hosts(),
				DNSConfig:       dns,
				Secrets:         refs,
				Isolation:       container.Isolation(svc.Isolation),
				Sysctls:         map[string]string(svc.Sysctls),
				CapabilityAdd:   svc.CapAdd,
				CapabilityDrop:  svc.CapDrop,
				Ulimits:         c.ulimits(),
			},
			Resources:     c.resources(),
			RestartPolicy: restart,
			Placement:     c.placement(),
			Networks:      nets,
			LogDriver:     c.logDriver(),
		},
		Mode:         mode,
		EndpointSpec: endpoint,
	}
	if !job && svc.Deploy != nil {
		spec.UpdateConfig = updateConfig(svc.Deploy.UpdateConfig)
		spec.RollbackConfig = updateConfig(svc.Deploy.RollbackConfig)
	}
	if s.Hash, err = specHash(spec); err != nil {
		return nil, err
	}
	spec.Labels[LabelSpecHash] = s.Hash
	spec.TaskTemplate.ContainerSpec.Labels[LabelSpecHash] = s.Hash
	s.Spec = spec
	return s, nil
}

// serviceLabels are the service's own labels: deploy.labels and the namespace.
func (c *converter) serviceLabels() map[string]string {
	out := map[string]string{}
	if c.svc.Deploy != nil {
		maps.Copy(out, c.svc.Deploy.Labels)
	}
	out[LabelNamespace] = c.in.Stack
	return out
}

// checkIgnored notes what the service sets that a Swarm service does not have.
func (c *converter) checkIgnored() {
	svc := c.svc
	for _, f := range []struct {
		what string
		set  bool
	}{
		{"container_name", svc.ContainerName != ""},
		{"build (the image is used as given)", svc.Build != nil},
		{"links", len(svc.Links) > 0},
		{"external_links", len(svc.ExternalLinks) > 0},
		{"network_mode", svc.NetworkMode != "" && svc.NetworkMode != "host"},
		{"privileged", svc.Privileged},
		{"devices", len(svc.Devices) > 0},
		{"device_cgroup_rules", len(svc.DeviceCgroupRules) > 0},
		{"gpus", len(svc.Gpus) > 0},
		{"runtime", svc.Runtime != ""},
		{"pid", svc.Pid != ""},
		{"ipc", svc.Ipc != ""},
		{"uts", svc.Uts != ""},
		{"userns_mode", svc.UserNSMode != ""},
		{"security_opt", len(svc.SecurityOpt) > 0},
		{"cgroup_parent", svc.CgroupParent != ""},
		{"cgroup", svc.Cgroup != ""},
		{"shm_size", svc.ShmSize != 0},
		{"mac_address", svc.MacAddress != ""},
		{"domainname", svc.DomainName != ""},
		{"cpus, cpu_* (deploy.resources sets CPU limits)", svc.CPUS != 0 || svc.CPUShares != 0 || svc.CPUQuota != 0 ||
			svc.CPUPeriod != 0 || svc.CPUSet != "" || svc.CPUCount != 0 || svc.CPUPercent != 0 || svc.CPURTPeriod != 0 || svc.CPURTRuntime != 0},
		{"mem_limit, mem_reservation, memswap_limit (deploy.resources sets memory limits)", svc.MemLimit != 0 || svc.MemReservation != 0 || svc.MemSwapLimit != 0},
		{"pids_limit (deploy.resources.limits.pids sets it)", svc.PidsLimit != 0},
		{"oom_kill_disable", svc.OomKillDisable},
		{"oom_score_adj", svc.OomScoreAdj != 0},
		{"storage_opt", len(svc.StorageOpt) > 0},
		{"blkio_config", svc.BlkioConfig != nil},
		{"volumes_from", len(svc.VolumesFrom) > 0},
		{"pre_start, post_start, pre_stop hooks", len(svc.PreStart) > 0 || len(svc.PostStart) > 0 || len(svc.PreStop) > 0},
		{"platform", svc.Platform != ""},
		{"annotations", len(svc.Annotations) > 0},
		{"umask", svc.Umask != nil},
		{"use_api_socket", svc.UseAPISocket},
		{"models", len(svc.Models) > 0},
		{"provider", svc.Provider != nil},
		{"healthcheck start_interval", svc.HealthCheck != nil && svc.HealthCheck.StartInterval != nil},
	} {
		if f.set {
			c.ignored = append(c.ignored, f.what)
		}
	}
	if d := svc.Deploy; d != nil {
		for _, r := range []*types.Resource{d.Resources.Limits, d.Resources.Reservations} {
			if r != nil && len(r.Devices) > 0 {
				c.ignored = append(c.ignored, "device reservations such as GPUs (declare generic resources instead: docs/SCALE.md)")
				break
			}
		}
	}
}

// environmentAndSecrets is the service's environment without its
// file-delivered keys, each of which becomes a secret reference, and the
// references of the compose secrets it mounts.
func (c *converter) environmentAndSecrets(s *Service) ([]string, []*swarm.SecretReference, error) {
	svc := c.svc
	env := map[string]string{}
	for k, v := range svc.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	var refs []*swarm.SecretReference
	targets := map[string]bool{}
	composeTargets := map[string]bool{}
	for _, sc := range svc.Secrets {
		composeTargets[secretTarget(sc)] = true
	}
	for _, fs := range c.in.FileSecrets.For(svc.Name) {
		v, ok := svc.Environment[fs.Key]
		if !ok || v == nil {
			if composeTargets[fs.Key] {
				continue // the compose model mounts it already, as a compose secret
			}
			return nil, nil, c.usagef("%s delivers %s as a file, but the service's environment does not set %s", stack.FileSecretsFile, fs.Key, fs.Key)
		}
		name, err := c.def.addSecret(svc.Name, fs.Key, []byte(*v))
		if err != nil {
			return nil, nil, err
		}
		delete(env, fs.Key)
		env[fs.FileEnv] = fs.Path()
		mode := os.FileMode(0o444)
		if fs.Mode != nil {
			mode = os.FileMode(*fs.Mode)
		}
		refs = append(refs, &swarm.SecretReference{SecretName: name, File: &swarm.SecretReferenceFileTarget{
			Name: fs.Key, UID: orDefault(fs.UID, "0"), GID: orDefault(fs.GID, "0"), Mode: mode,
		}})
		targets[fs.Key] = true
	}
	for _, sc := range svc.Secrets {
		target := secretTarget(sc)
		if targets[target] {
			continue
		}
		ref, err := c.composeSecret(sc, target)
		if err != nil {
			return nil, nil, err
		}
		refs = append(refs, ref)
		targets[target] = true
	}
	slices.SortFunc(refs, func(a, b *swarm.SecretReference) int { return strings.Compare(a.File.Name, b.File.Name) })
	for _, r := range refs {
		s.Secrets = append(s.Secrets, r.SecretName)
	}
	slices.Sort(s.Secrets)
	s.Secrets = slices.Compact(s.Secrets)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out, refs, nil
}

// secretTarget is the file name under /run/secrets a compose secret mounts as.
func secretTarget(sc types.ServiceSecretConfig) string {
	t := sc.Target
	if t == "" {
		t = sc.Source
	}
	return strings.TrimPrefix(t, stack.SecretsDir+"/")
}

// composeSecret is the reference for a secret of the compose files: an
// external one by its name, any other as a secret named by its content.
func (c *converter) composeSecret(sc types.ServiceSecretConfig, target string) (*swarm.SecretReference, error) {
	if strings.Contains(target, "/") {
		return nil, c.usagef("secret %s: target %s: Swarm mounts secrets as files in %s", sc.Source, sc.Target, stack.SecretsDir)
	}
	def, ok := c.in.Project.Secrets[sc.Source]
	if !ok {
		return nil, c.usagef("secret %s is not defined in the compose files", sc.Source)
	}
	var name string
	switch {
	case bool(def.External):
		name = orDefault(def.Name, sc.Source)
	default:
		var value []byte
		switch {
		case def.Environment != "":
			v, ok := c.in.Project.Environment[def.Environment]
			if !ok {
				return nil, c.usagef("secret %s comes from variable %s, which has no value", sc.Source, def.Environment)
			}
			value = []byte(v)
		case def.File != "":
			var err error
			if value, err = readSecretFile(c.svc.Name, sc.Source, def.File); err != nil {
				return nil, err
			}
		default:
			value = []byte(def.Content)
		}
		var err error
		if name, err = c.def.addSecret(c.svc.Name, sc.Source, value); err != nil {
			return nil, err
		}
	}
	mode := os.FileMode(0o444)
	if sc.Mode != nil {
		mode = os.FileMode(*sc.Mode)
	}
	return &swarm.SecretReference{SecretName: name, File: &swarm.SecretReferenceFileTarget{
		Name: target, UID: orDefault(sc.UID, "0"), GID: orDefault(sc.GID, "0"), Mode: mode,
	}}, nil
}

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
