package stack

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/startsvc/startsvc/internal/exitcode"
)

// PortsExtension is the top-level compose extension in which an environment's
// override file states its rule for published ports, e.g.
//
//	x-startsvc-ports:        # environment "private"
//	  host_ip: 127.0.0.1     # every published port on the loopback interface only
//	  except: [caddy]        # these services keep the ports the files give them
//
//	x-startsvc-ports:        # environment "public"
//	  publish: none          # no service publishes a port ...
//	  except: [caddy]        # ... but these
//
// The rule is data, so it holds for services the stack does not list itself,
// such as the ones of Supabase's included compose file, whatever a Supabase
// release calls them.
const PortsExtension = "x-startsvc-ports"

// PortRule is an environment's rule for the host ports services publish.
// Exactly one of HostIP and None is set.
type PortRule struct {
	// HostIP is the address every published port is bound to.
	HostIP string
	// None means no service publishes anything.
	None bool
	// Except names the services whose ports stay as the compose files declare
	// them, sorted.
	Except []string
}

// PortRuleOf reads the rule the loaded project's files declare in
// PortsExtension. It returns nil, and no error, when they declare none. A rule
// that is malformed, or that excepts a service no file defines (in any
// profile), is a usage error naming the extension.
func PortRuleOf(p *types.Project) (*PortRule, error) {
	raw, ok := p.Extensions[PortsExtension]
	if !ok || raw == nil {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, exitcode.Usagef("%s: want a mapping with host_ip or publish, and except", PortsExtension)
	}
	r := &PortRule{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch k {
		case "host_ip":
			s, ok := v.(string)
			if !ok {
				return nil, exitcode.Usagef("%s: host_ip must be an IP address", PortsExtension)
			}
			addr, err := netip.ParseAddr(s)
			if err != nil {
				return nil, exitcode.Usagef("%s: host_ip %q is not an IP address", PortsExtension, s)
			}
			r.HostIP = addr.String()
		case "publish":
			if s, ok := v.(string); !ok || s != "none" {
				return nil, exitcode.Usagef("%s: publish may only be \"none\"", PortsExtension)
			}
			r.None = true
		case "except":
			list, ok := v.([]any)
			if !ok {
				return nil, exitcode.Usagef("%s: except must be a list of service names", PortsExtension)
			}
			for _, e := range list {
				name, ok := e.(string)
				if !ok || name == "" {
					return nil, exitcode.Usagef("%s: except must be a list of service names", PortsExtension)
				}
				if _, active := p.Services[name]; !active {
					if _, disabled := p.DisabledServices[name]; !disabled {
						return nil, exitcode.Usagef("%s: except names service %q, which no compose file defines", PortsExtension, name)
					}
				}
				if !slices.Contains(r.Except, name) {
					r.Except = append(r.Except, name)
				}
			}
		default:
			return nil, exitcode.Usagef("%s: unknown key %q (known: host_ip, publish, except)", PortsExtension, k)
		}
	}
	switch {
	case r.None && r.HostIP != "":
		return nil, exitcode.Usagef("%s: give host_ip or publish: none, not both", PortsExtension)
	case !r.None && r.HostIP == "":
		return nil, exitcode.Usagef("%s: give host_ip (bind published ports to it) or publish: none", PortsExtension)
	}
	sort.Strings(r.Except)
	return r, nil
}

// Apply works out what the rule changes in p: for each service whose published
// ports it changes, the service's complete new list of ports - empty when the
// service must publish nothing. Services the rule leaves as they are (those it
// excepts, those that publish nothing, those already compliant) are not in the
// result. Every service the files define is considered, whether its profile is
// active or not. Apply changes nothing in p. A nil rule changes nothing.
func (r *PortRule) Apply(p *types.Project) map[string][]types.ServicePortConfig {
	if r == nil {
		return nil
	}
	out := map[string][]types.ServicePortConfig{}
	visit := func(name string, s types.ServiceConfig) {
		if len(s.Ports) == 0 || slices.Contains(r.Except, name) {
			return
		}
		if r.None {
			out[name] = []types.ServicePortConfig{}
			return
		}
		changed := false
		ports := make([]types.ServicePortConfig, 0, len(s.Ports))
		for _, pc := range s.Ports {
			if pc.HostIP != r.HostIP {
				pc.HostIP = r.HostIP
				changed = true
			}
			// Rebinding can make two entries the same (one on 0.0.0.0 and one on
			// ::, say); compose would then publish one port twice.
			if slices.ContainsFunc(ports, func(q types.ServicePortConfig) bool { return samePort(q, pc) }) {
				changed = true
				continue
			}
			ports = append(ports, pc)
		}
		if changed {
			out[name] = ports
		}
	}
	for name, s := range p.Services {
		visit(name, s)
	}
	for name, s := range p.DisabledServices {
		visit(name, s)
	}
	return out
}

// String describes the rule for messages.
func (r *PortRule) String() string {
	if r == nil {
		return "no port rule"
	}
	var s string
	if r.None {
		s = "publish no port"
	} else {
		s = "publish every port on " + r.HostIP + " only"
	}
	if len(r.Except) > 0 {
		s += fmt.Sprintf(", except the ports of %s", strings.Join(r.Except, ", "))
	}
	return s
}

func samePort(a, b types.ServicePortConfig) bool {
	return a.Name == b.Name && a.Mode == b.Mode && a.HostIP == b.HostIP && a.Target == b.Target &&
		a.Published == b.Published && a.Protocol == b.Protocol && a.AppProtocol == b.AppProtocol
}
