package health

import (
	"fmt"
	"net/netip"
)

// app is what a person opens in a service of the shipped stack: the port its
// web interface or API listens on inside the container, tried in order.
type app struct {
	name  string
	entry []entry
}

type entry struct {
	port   int
	scheme string
	path   string
}

func web(name string, port int) app { return app{name, []entry{{port, "http", ""}}} }

// apps are the services of the shipped stack, by compose service name, keyed
// on container ports so that whatever host port a user publishes them on, the
// URL follows.
var apps = map[string]app{
	"n8n":            web("n8n", 5678),
	"open-webui":     web("Open WebUI", 8080),
	"flowise":        web("Flowise", 3001),
	"kong":           web("Supabase Studio", 8000),
	"langfuse-web":   web("Langfuse", 3000),
	"searxng":        web("SearXNG", 8080),
	"infisical":      web("Infisical", 8080),
	"neo4j":          web("Neo4j Browser", 7474),
	"qdrant":         {"Qdrant dashboard", []entry{{6333, "http", "/dashboard"}}},
	"ollama":         web("Ollama API", 11434),
	"ollama-cpu":     web("Ollama API", 11434),
	"ollama-gpu":     web("Ollama API", 11434),
	"ollama-gpu-amd": web("Ollama API", 11434),
	"minio":          web("MinIO console", 9001),
	"caddy":          {"Caddy", []entry{{443, "https", ""}, {80, "http", ""}}},
}

// notWeb are container ports of well-known protocols a browser does not speak,
// passed over when guessing the URL of a service the table does not know.
var notWeb = map[int]bool{
	22: true, 25: true, 53: true, 1433: true, 1521: true, 3306: true, 4222: true, 5432: true,
	5672: true, 6334: true, 6379: true, 6543: true, 7687: true, 9042: true, 9092: true,
	11211: true, 27017: true,
}

// App is the name people know a service of the shipped stack by ("Supabase
// Studio" for kong), or "" for another service.
func App(service string) string { return apps[service].name }

// URL is where a person opens service, given its published ports: for a
// service of the shipped stack, its known web port; for another, its lowest
// published TCP port that is not a well-known non-web protocol. The host is
// localhost when the port is published on every address or on loopback, and
// the address itself when it is bound to a specific one. "" when nothing fits.
func URL(service string, ports []Port) string {
	if a, ok := apps[service]; ok {
		for _, e := range a.entry {
			if p, ok := published(ports, e.port); ok {
				return format(e.scheme, p, e.path)
			}
		}
		return ""
	}
	for _, p := range ports { // sorted by container port
		if p.Protocol != "tcp" || notWeb[p.ContainerPort] {
			continue
		}
		scheme := "http"
		if p.ContainerPort == 443 || p.ContainerPort == 8443 {
			scheme = "https"
		}
		best, _ := published(ports, p.ContainerPort)
		return format(scheme, best, "")
	}
	return ""
}

// published finds the binding of a TCP container port, preferring one on
// every address or loopback (the same URL from this machine) over a specific
// address, and IPv4 over IPv6.
func published(ports []Port, containerPort int) (Port, bool) {
	var best Port
	found := false
	for _, p := range ports {
		if p.Protocol != "tcp" || p.ContainerPort != containerPort {
			continue
		}
		if !found || rank(p.HostIP) < rank(best.HostIP) {
			best, found = p, true
		}
	}
	return best, found
}

func rank(hostIP string) int {
	a, err := netip.ParseAddr(hostIP)
	switch {
	case hostIP == "" || (err == nil && (a.IsUnspecified() || a.IsLoopback()) && a.Is4()):
		return 0
	case err == nil && (a.IsUnspecified() || a.IsLoopback()):
		return 1
	case err == nil && a.Is4():
		return 2
	}
	return 3
}

func format(scheme string, p Port, path string) string {
	host := "localhost"
	if a, err := netip.ParseAddr(p.HostIP); err == nil && !a.IsUnspecified() && !a.IsLoopback() {
		host = a.String()
		if a.Is6() {
			host = "[" + host + "]"
		}
	}
	if (scheme == "http" && p.HostPort == 80) || (scheme == "https" && p.HostPort == 443) {
		return fmt.Sprintf("%s://%s%s", scheme, host, path)
	}
	return fmt.Sprintf("%s://%s:%d%s", scheme, host, p.HostPort, path)
}
