package main

import (
	"fmt"
	"slices"
	"time"
)

// series is the timed runs of one measurement.
type series []sample

func (s series) walls() []float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = float64(x.wall)
	}
	return v
}

func (s series) rsss() []float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = float64(x.rss)
	}
	return v
}

func (s series) medianWall() time.Duration { return time.Duration(median(s.walls())) }

// medianCPU is the median CPU time, -1 when it is unknown.
func (s series) medianCPU() time.Duration {
	var c []float64
	for _, x := range s {
		if x.cpu < 0 {
			return -1
		}
		c = append(c, float64(x.cpu))
	}
	if len(c) == 0 {
		return -1
	}
	return time.Duration(median(c))
}
func (s series) minWall() time.Duration { return time.Duration(slices.Min(s.walls())) }
func (s series) maxWall() time.Duration { return time.Duration(slices.Max(s.walls())) }
func (s series) medianRSS() int64       { return int64(median(s.rsss())) }
func (s series) maxRSS() int64          { return int64(slices.Max(s.rsss())) }

// median is the middle value, or the mean of the two middle values of an even
// count; 0 for none. It does not reorder v.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(v))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ms formats a duration for a table: seconds above one, else milliseconds.
func ms(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// mib formats a byte count in MiB; "n/a" when unknown.
func mib(n int64) string {
	if n < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// spread is "min – max" of a series' wall times.
func spread(s series) string { return ms(s.minWall()) + " – " + ms(s.maxWall()) }

// ratio formats a/b with two decimals and a trailing ×.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", a/b)
}
