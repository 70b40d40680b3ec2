package migrate

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the plan for a person: a line per key with what happens
// to it, the rule that decided, and how Infisical's folder holds it. It
// writes no value.
func (p *Plan) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tKEY\tRULE\tIN INFISICAL")
	for _, e := range p.Entries {
		action := e.Decision.Action.String()
		if e.Conflict() {
			action = "conflict"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", action, e.Key, e.Decision.Rule, p.describe(e))
	}
	return tw.Flush()
}

func (p *Plan) describe(e Entry) string {
	var s string
	move := e.Decision.Action == Move
	switch {
	case e.State == Absent && move:
		s = "absent: will be created"
	case e.State == Absent:
		s = "absent"
	case e.State == Same && move:
		s = "same value: nothing to write"
	case e.State == Same:
		s = "same value"
	case e.Conflict():
		s = "DIFFERENT value: stays in the file (--overwrite replaces it)"
	case e.Op == Update:
		s = "different value: will be replaced (--overwrite)"
	case e.Op == Create:
		s = "different value: will be set in the folder (--overwrite)"
	default:
		s = "different value (Infisical's wins)"
	}
	if e.ImportedFrom != "" {
		s += " [imported from " + e.ImportedFrom + "]"
	}
	return s
}

// Summary is one line that counts what the plan does.
func (p *Plan) Summary() string {
	var create, update, same, conflicts, keep int
	for _, e := range p.Entries {
		switch {
		case e.Conflict():
			conflicts++
		case e.Decision.Action == Keep:
			keep++
		case e.Op == Create:
			create++
		case e.Op == Update:
			update++
		default:
			same++
		}
	}
	var parts []string
	if create > 0 {
		parts = append(parts, fmt.Sprintf("%d to create", create))
	}
	if update > 0 {
		parts = append(parts, fmt.Sprintf("%d to replace", update))
	}
	if same > 0 {
		parts = append(parts, fmt.Sprintf("%d already there", same))
	}
	n := create + update + same
	moving := count(n, "key") + agree(n, " leaves", " leave") + " the file"
	if len(parts) > 0 {
		moving += " (" + strings.Join(parts, ", ") + ")"
	}
	out := moving + "; " + count(keep, "key") + agree(keep, " stays", " stay")
	if conflicts > 0 {
		out += "; " + count(conflicts, "key") + " with a different value in Infisical" + agree(conflicts, " stays", " stay")
	}
	return out
}

func agree(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func count(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
