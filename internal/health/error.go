package health

import (
	"fmt"
	"strings"
	"time"
)

// Problem is one service that a wait found not ready.
type Problem struct {
	Service string
	State   string // for people: "unhealthy (last check exited 1)", "exited (code 3)", "no container"
	// Logs are the service's last log lines, masked; nil when it has no
	// container or wrote nothing.
	Logs []string
	// LogErr says why Logs could not be read, if they could not.
	LogErr error
}

// Error is why a wait ended without every service ready: some failed, or the
// time ran out (TimedOut), in which case Problems are all those still not
// ready. It carries no exit code; a caller maps it to a runtime failure.
type Error struct {
	Problems []Problem
	TimedOut bool
	After    time.Duration // how long the wait lasted
}

// Error names each service and its state, then shows its last log lines.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("wait for services: ")
	parts := make([]string, len(e.Problems))
	if e.TimedOut {
		for i, p := range e.Problems {
			parts[i] = fmt.Sprintf("%s (%s)", p.Service, p.State)
		}
		fmt.Fprintf(&b, "not ready after %s: %s", e.After.Round(time.Second), strings.Join(parts, ", "))
	} else {
		for i, p := range e.Problems {
			parts[i] = fmt.Sprintf("%s failed: %s", p.Service, p.State)
		}
		b.WriteString(strings.Join(parts, "; "))
	}
	for _, p := range e.Problems {
		switch {
		case p.LogErr != nil:
			fmt.Fprintf(&b, "\nno log lines of %s: %v", p.Service, p.LogErr)
		case len(p.Logs) > 0:
			fmt.Fprintf(&b, "\nlast %d log lines of %s:", len(p.Logs), p.Service)
			for _, l := range p.Logs {
				b.WriteString("\n  | ")
				b.WriteString(l)
			}
		case p.State != stateNoContainer && p.State != stateNotInspected:
			fmt.Fprintf(&b, "\n%s wrote no log lines", p.Service)
		}
	}
	return b.String()
}

// Services lists the services of the problems, in order.
func (e *Error) Services() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Service
	}
	return out
}
