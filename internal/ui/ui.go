// Package ui is how startsvc talks to people: status lines, warnings and errors
// on standard error, coloured only on a terminal and never when NO_COLOR or
// --no-color says so.
package ui

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/fatih/color"
)

// UI writes messages for people. It is safe for concurrent use.
type UI struct {
	mu      sync.Mutex
	w       io.Writer
	quiet   bool
	verbose bool
	color   bool
	// Redact masks secret values in every message; nil masks nothing.
	Redact func(string) string
}

// New returns a UI writing to w (standard error).
func New(w io.Writer, colored, quiet, verbose bool) *UI {
	return &UI{w: w, color: colored, quiet: quiet, verbose: verbose}
}

// Colored reports whether the UI uses colour.
func (u *UI) Colored() bool { return u.color }

// Quiet reports whether only warnings and errors are shown.
func (u *UI) Quiet() bool { return u.quiet }

// Verbose reports whether detail lines are shown.
func (u *UI) Verbose() bool { return u.verbose }

// Writer is where the UI writes, for tables and live progress.
func (u *UI) Writer() io.Writer { return u.w }

func (u *UI) paint(attr color.Attribute, s string) string {
	if !u.color {
		return s
	}
	c := color.New(attr)
	c.EnableColor()
	return c.Sprint(s)
}

// Paint colours s for the UI's writer: "green", "yellow", "red", "bold", "faint".
func (u *UI) Paint(name, s string) string {
	switch name {
	case "green":
		return u.paint(color.FgGreen, s)
	case "yellow":
		return u.paint(color.FgYellow, s)
	case "red":
		return u.paint(color.FgRed, s)
	case "bold":
		return u.paint(color.Bold, s)
	case "faint":
		return u.paint(color.Faint, s)
	}
	return s
}

func (u *UI) line(prefix, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	if u.Redact != nil {
		msg = u.Redact(msg)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, l := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		if i == 0 {
			fmt.Fprintf(u.w, "%s%s\n", prefix, l)
		} else {
			fmt.Fprintf(u.w, "%s%s\n", strings.Repeat(" ", visibleLen(prefix)), l)
		}
	}
}

func visibleLen(s string) int {
	n, esc := 0, false
	for _, r := range s {
		switch {
		case r == '\x1b':
			esc = true
		case esc && r == 'm':
			esc = false
		case !esc:
			n++
		}
	}
	return n
}

// Step announces what startsvc does next.
func (u *UI) Step(format string, a ...any) {
	if !u.quiet {
		u.line(u.paint(color.FgCyan, "==> "), format, a...)
	}
}

// Info is a plain informational line.
func (u *UI) Info(format string, a ...any) {
	if !u.quiet {
		u.line("", format, a...)
	}
}

// Success reports something done.
func (u *UI) Success(format string, a ...any) {
	if !u.quiet {
		u.line(u.paint(color.FgGreen, "✔ "), format, a...)
	}
}

// Detail is shown only with --verbose.
func (u *UI) Detail(format string, a ...any) {
	if u.verbose && !u.quiet {
		u.line(u.paint(color.Faint, "    "), format, a...)
	}
}

// Warn is shown even with --quiet.
func (u *UI) Warn(format string, a ...any) {
	u.line(u.paint(color.FgYellow, "WARNING: "), format, a...)
}

// Error is shown even with --quiet.
func (u *UI) Error(format string, a ...any) {
	u.line(u.paint(color.FgRed, "error: "), format, a...)
}
