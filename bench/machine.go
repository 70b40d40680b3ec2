package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"
)

// machine is where the figures come from, read rather than assumed.
type machine struct {
	cpus    int
	cpu     string // model name, "" when unknown
	memory  int64  // bytes, 0 when unknown
	kernel  string
	goVer   string
	engine  string
	compose string
	dockCLI string
	loads   [2]float64 // one-minute load average when the bench started and ended
	source  string     // the commit startsvc was built from
}

func describeMachine(ctx context.Context, b *bench) machine {
	m := machine{cpus: runtime.NumCPU(), goVer: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	m.cpu, m.memory, m.kernel = hostFacts()
	m.loads = [2]float64{loadAverage(), -1}
	ask := func(name string, args ...string) string {
		s, err := b.exec(ctx, 30*time.Second, b.work, nil, name, args...)
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(string(s.out))
	}
	m.engine = ask("docker", "version", "--format", "{{.Server.Version}}")
	m.dockCLI = ask("docker", "version", "--format", "{{.Client.Version}}")
	m.compose = ask("docker", "compose", "version", "--short")
	m.source = "commit " + ask("git", "-C", b.root, "rev-parse", "--short", "HEAD")
	// The bench's own files do not change what is measured.
	if ask("git", "-C", b.root, "status", "--porcelain", "--", ".", ":(exclude)bench", ":(exclude)docs/BENCHMARKS.md") != "" {
		m.source += " with uncommitted changes"
	}
	return m
}

func (m machine) rows() [][2]string {
	unknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	mem := "unknown"
	if m.memory > 0 {
		mem = fmt.Sprintf("%.1f GiB", float64(m.memory)/(1<<30))
	}
	load := "unknown"
	if m.loads[0] >= 0 && m.loads[1] >= 0 {
		load = fmt.Sprintf("%.2f at the start, %.2f at the end (other work on the machine shows here)", m.loads[0], m.loads[1])
	}
	return [][2]string{
		{"startsvc built from", m.source},
		{"CPU", fmt.Sprintf("%d logical cores (%s)", m.cpus, unknown(m.cpu))},
		{"memory", mem},
		{"kernel", unknown(m.kernel)},
		{"Docker Engine", m.engine},
		{"Docker CLI", m.dockCLI},
		{"Docker Compose", m.compose},
		{"Go", m.goVer},
		{"load average (1 min)", load},
	}
}
