package swarm

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/swarm"

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
	composeTargets := map[string]types.ServiceSecretConfig{}
	for _, sc := range svc.Secrets {
		composeTargets[secretTarget(sc)] = sc
	}
	for _, fs := range c.in.FileSecrets.For(svc.Name) {
		var value []byte
		if v, ok := svc.Environment[fs.Key]; ok && v != nil {
			value = []byte(*v)
		} else if sc, ok := composeTargets[fs.Key]; ok {
			// The model delivers it already, through a compose secret sourced
			// from a variable of startsvc's own: the same value, named by the key.
			var err error
			if value, err = c.composeSecretValue(sc); err != nil {
				return nil, nil, err
			}
		} else {
			return nil, nil, c.usagef("%s delivers %s as a file, but the service's environment does not set %s", stack.FileSecretsFile, fs.Key, fs.Key)
		}
		name, err := c.def.addSecret(svc.Name, fs.Key, value)
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
	name := orDefault(def.Name, sc.Source)
	if !def.External {
		value, err := c.composeSecretValue(sc)
		if err != nil {
			return nil, err
		}
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

// composeSecretValue is the value of a compose secret that is not external:
// a project variable's, a file's, or its inline content.
func (c *converter) composeSecretValue(sc types.ServiceSecretConfig) ([]byte, error) {
	def, ok := c.in.Project.Secrets[sc.Source]
	switch {
	case !ok:
		return nil, c.usagef("secret %s is not defined in the compose files", sc.Source)
	case bool(def.External):
		return nil, c.usagef("secret %s is external: its value is the swarm's, not the stack's", sc.Source)
	case def.Environment != "":
		v, ok := c.in.Project.Environment[def.Environment]
		if !ok {
			return nil, c.usagef("secret %s comes from variable %s, which has no value", sc.Source, def.Environment)
		}
		return []byte(v), nil
	case def.File != "":
		return readSecretFile(c.svc.Name, sc.Source, def.File)
	}
	return []byte(def.Content), nil
}
