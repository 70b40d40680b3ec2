package health

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/moby/moby/api/types/container"
)

// WriteTable writes statuses as a table for people — service, state, health,
// URL — one row per container, in the order given. paint colours a cell by
// name ("green", "yellow", "red", "faint"; ui.UI's Paint); nil paints nothing.
// Ready rows are green, failing ones red, the rest yellow.
func WriteTable(w io.Writer, st []ServiceStatus, paint func(name, s string) string) error {
	if paint == nil {
		paint = func(_, s string) string { return s }
	}
	rows := [][]string{{"SERVICE", "STATE", "HEALTH", "URL"}}
	colors := []string{""}
	for _, s := range st {
		rows = append(rows, []string{s.Service, stateCell(s), healthCell(s), urlCell(s)})
		colors = append(colors, rowColor(s))
	}
	widths := make([]int, 4)
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	var b strings.Builder
	for n, r := range rows {
		for i, cell := range r {
			last := i == len(r)-1
			pad := ""
			if !last {
				pad = strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)+2)
			}
			switch {
			case n == 0:
			case i == 1 || i == 2:
				cell = paint(colors[n], cell)
			case i == 3 && cell == "-":
				cell = paint("faint", cell)
			}
			b.WriteString(cell + pad)
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func stateCell(s ServiceStatus) string {
	if s.ExitCode != nil {
		return fmt.Sprintf("%s (%d)", s.State, *s.ExitCode)
	}
	return s.State
}

func healthCell(s ServiceStatus) string {
	if s.OneShot && s.State == string(container.StateExited) {
		if s.Ready {
			return "done"
		}
		return "failed"
	}
	if s.Health == HealthNone || s.Health == "" {
		return "-"
	}
	return s.Health
}

func urlCell(s ServiceStatus) string {
	if s.URL == "" {
		return "-"
	}
	if name := App(s.Service); name != "" && !strings.EqualFold(name, s.Service) {
		return s.URL + " (" + name + ")"
	}
	return s.URL
}

func rowColor(s ServiceStatus) string {
	switch {
	case s.Ready:
		return "green"
	case s.Health == string(container.Unhealthy), s.State == StateMissing,
		s.State == string(container.StateExited), s.State == string(container.StateDead),
		s.State == string(container.StateRestarting):
		return "red"
	}
	return "yellow"
}
