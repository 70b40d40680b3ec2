package stack

import (
	"fmt"
	"slices"
)

// Machine is what a profile's requirements are checked against.
type Machine struct {
	Runtimes  []string               // the Engine's container runtimes
	HasDevice func(path string) bool // whether a device file exists
}

// Missing lists, in words a person can act on, what req needs and m lacks.
func Missing(req Requires, m Machine) []string {
	var out []string
	if req.Runtime != "" && !slices.Contains(m.Runtimes, req.Runtime) {
		out = append(out, fmt.Sprintf("the Docker Engine has no %q runtime (docker info lists %v); install the %s container toolkit and restart Docker",
			req.Runtime, m.Runtimes, req.Runtime))
	}
	for _, dev := range req.Devices {
		if m.HasDevice == nil || !m.HasDevice(dev) {
			out = append(out, fmt.Sprintf("device %s does not exist", dev))
		}
	}
	return out
}

// Auto picks the profile for this machine: gpu-nvidia when the Engine has the
// nvidia runtime, gpu-amd when /dev/kfd and /dev/dri exist, else cpu — each only
// when the stack defines it and its requirements hold.
func (l *Layout) Auto(m Machine, defined []string) string {
	for _, name := range []string{"gpu-nvidia", "gpu-amd"} {
		p, err := l.Resolve(name, defined)
		if err != nil {
			continue
		}
		if (p.Requires.Runtime != "" || len(p.Requires.Devices) > 0) && len(Missing(p.Requires, m)) == 0 {
			return name
		}
	}
	return l.DefaultProfile(defined)
}
