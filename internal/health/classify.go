package health

import (
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"

	"github.com/startsvc/startsvc/internal/ui"
)

// observation is what one inspection of a container says about readiness.
type observation struct {
	phase ui.Phase
	state string // for people: "running, health: starting", "exited (code 3)"
}

// classify decides a container's phase from its inspection. restarts is how
// often it restarted since the wait first saw it; more than maxRestarts is a
// restart loop. Text the container produced (a failing probe's output, a start
// error) goes through mask.
func classify(c container.InspectResponse, oneShot bool, restarts, maxRestarts int, mask func(string) string) observation {
	st := c.State
	if st == nil {
		return observation{ui.PhaseWaiting, "unknown"}
	}
	if restarts > maxRestarts {
		return observation{ui.PhaseFailed, fmt.Sprintf("restarting in a loop (%d restarts)", restarts)}
	}
	switch st.Status {
	case container.StateCreated:
		return observation{ui.PhaseWaiting, "created"}
	case container.StateRestarting:
		return observation{ui.PhaseStarting, fmt.Sprintf("restarting (exit code %d)", st.ExitCode)}
	case container.StatePaused:
		return observation{ui.PhaseWaiting, "paused"}
	case container.StateRemoving:
		return observation{ui.PhaseWaiting, "being removed"}
	case container.StateDead:
		return observation{ui.PhaseFailed, "dead" + startError(st, mask)}
	case container.StateExited:
		switch {
		case st.ExitCode == 0 && oneShot:
			return observation{ui.PhaseDone, "exited (code 0)"}
		case st.ExitCode == 0:
			return observation{ui.PhaseFailed, "exited (code 0), and it is not a one-shot service"}
		case st.OOMKilled:
			return observation{ui.PhaseFailed, fmt.Sprintf("exited (code %d, out of memory)", st.ExitCode)}
		}
		return observation{ui.PhaseFailed, fmt.Sprintf("exited (code %d)", st.ExitCode) + startError(st, mask)}
	case container.StateRunning:
		switch {
		case oneShot:
			return observation{ui.PhaseStarting, "running (one-shot job)"}
		case st.Health == nil || st.Health.Status == container.NoHealthcheck:
			return observation{ui.PhaseRunning, "running"}
		case st.Health.Status == container.Healthy:
			return observation{ui.PhaseHealthy, "running, healthy"}
		case st.Health.Status == container.Unhealthy:
			return observation{ui.PhaseFailed, "unhealthy" + lastProbe(st.Health, mask)}
		}
		return observation{ui.PhaseStarting, "running, health: " + string(st.Health.Status)}
	}
	return observation{ui.PhaseWaiting, string(st.Status)}
}

// maxProbe bounds the probe output quoted in a state: the log lines follow.
const maxProbe = 200

// lastProbe quotes the output of the last failed healthcheck, on one line.
func lastProbe(h *container.Health, mask func(string) string) string {
	if len(h.Log) == 0 || h.Log[len(h.Log)-1] == nil {
		return ""
	}
	last := h.Log[len(h.Log)-1]
	out := oneLine(mask(last.Output))
	if out == "" {
		return fmt.Sprintf(" (last check exited %d)", last.ExitCode)
	}
	return fmt.Sprintf(" (last check exited %d: %s)", last.ExitCode, out)
}

// startError adds why the Engine could not start a container, when it says.
func startError(st *container.State, mask func(string) string) string {
	if e := oneLine(mask(st.Error)); e != "" {
		return ": " + e
	}
	return ""
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxProbe {
		s = string(r[:maxProbe-1]) + "…"
	}
	return s
}
