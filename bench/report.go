package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// report is every figure of one run of the bench, printed at the end.
type report struct {
	machine  machine
	date     time.Time
	floor    int64 // the launcher's largest own peak RSS, 0 when none was read
	sections []section
}

// floorNote says how far the peak RSS figures can be trusted.
func (r *report) floorNote() string {
	if r.floor <= 0 {
		return ""
	}
	return fmt.Sprintf("Peak RSS is measured through a small launcher (see bench/README.md); its own peak, %s, "+
		"is the floor below which no RSS figure can go.", mib(r.floor))
}

// section is one measurement: what was run, its tables, and a reading of the
// figures against the goal.
type section struct {
	title   string
	intro   string
	tables  []table
	verdict []string
	pre     string // preformatted output (the Go benchmarks)
}

type table struct {
	head []string
	rows [][]string
}

func (r *report) add(s section) { r.sections = append(r.sections, s) }

func (r *report) text(w io.Writer) {
	fmt.Fprintf(w, "startsvc benchmarks, %s\n\n", r.date.Format("2006-01-02 15:04 MST"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, kv := range r.machine.rows() {
		fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
	if n := r.floorNote(); n != "" {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	for _, s := range r.sections {
		fmt.Fprintf(w, "\n%s\n%s\n", s.title, strings.Repeat("-", len([]rune(s.title))))
		if s.intro != "" {
			fmt.Fprintf(w, "%s\n", s.intro)
		}
		for _, t := range s.tables {
			fmt.Fprintln(w)
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "  %s\n", strings.Join(t.head, "\t"))
			for _, row := range t.rows {
				fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t"))
			}
			tw.Flush()
		}
		if s.pre != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimRight(s.pre, "\n"))
		}
		if len(s.verdict) > 0 {
			fmt.Fprintln(w)
			for _, v := range s.verdict {
				fmt.Fprintf(w, "  * %s\n", v)
			}
		}
	}
}

func (r *report) markdown(w io.Writer) {
	fmt.Fprintf(w, "Measured %s.\n\n", r.date.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "| machine | |\n| --- | --- |\n")
	for _, kv := range r.machine.rows() {
		fmt.Fprintf(w, "| %s | %s |\n", kv[0], mdCell(kv[1]))
	}
	if n := r.floorNote(); n != "" {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	for _, s := range r.sections {
		fmt.Fprintf(w, "\n### %s\n\n", s.title)
		if s.intro != "" {
			fmt.Fprintf(w, "%s\n\n", s.intro)
		}
		for _, t := range s.tables {
			fmt.Fprintf(w, "| %s |\n|", strings.Join(t.head, " | "))
			for range t.head {
				fmt.Fprint(w, " --- |")
			}
			fmt.Fprintln(w)
			for _, row := range t.rows {
				cells := make([]string, len(row))
				for i, c := range row {
					cells[i] = mdCell(c)
				}
				fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
			}
			fmt.Fprintln(w)
		}
		if s.pre != "" {
			fmt.Fprintf(w, "```text\n%s\n```\n\n", strings.TrimRight(s.pre, "\n"))
		}
		for _, v := range s.verdict {
			fmt.Fprintf(w, "- %s\n", v)
		}
	}
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// verdict says whether got meets a goal: at most limit, or with under
// strictly below it.
func verdict(what string, got, limit float64, under bool, format func(float64) string) string {
	op, met := "≤", got <= limit
	if under {
		op, met = "<", got < limit
	}
	word := "met"
	if !met {
		word = "MISSED"
	}
	return fmt.Sprintf("%s: %s, goal %s %s: %s", what, format(got), op, format(limit), word)
}
