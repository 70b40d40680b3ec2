package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// sample is one timed run of a command.
type sample struct {
	wall time.Duration
	rss  int64 // peak resident set in bytes, -1 when the platform does not say
	// cpu is the user and system time of the command and the children it
	// waited for, -1 when unknown: less moved by other work on the machine
	// than the wall time.
	cpu time.Duration
	out []byte
}

// exec runs name with args in dir under a timeout, with the bench environment
// plus extra, and times it from start to exit. Once the launcher is built
// (bench/launcher, Linux only) the command runs through it, which times it and
// reads its peak RSS without the bench's own memory folded in; before, and
// elsewhere, the time is taken here and the peak RSS is unknown (-1). A
// command that fails returns an error that quotes the end of its output.
// Cancelling ctx (Ctrl-C) sends SIGTERM, then kills after a grace period.
func (b *bench) exec(ctx context.Context, timeout time.Duration, dir string, extra []string, name string, args ...string) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := append([]string{name}, args...)
	var report, reportW *os.File
	if b.launcher != "" {
		var err error
		if report, reportW, err = os.Pipe(); err != nil {
			return sample{}, err
		}
		defer report.Close()
		defer reportW.Close()
		argv = append([]string{b.launcher}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(b.env), extra...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if reportW != nil {
		cmd.ExtraFiles = []*os.File{reportW} // descriptor 3 in the launcher
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out

	start := time.Now()
	err := cmd.Start()
	if reportW != nil {
		reportW.Close() // the launcher holds its own copy; EOF comes when it exits
	}
	var wall, rss, floor, cpu int64
	got := make(chan bool, 1)
	if err == nil && report != nil {
		go func() {
			data, _ := io.ReadAll(report)
			n, _ := fmt.Sscan(string(data), &wall, &rss, &floor, &cpu)
			got <- n == 4
		}()
	} else {
		got <- false
	}
	if err == nil {
		err = cmd.Wait()
	}
	s := sample{wall: time.Since(start), rss: -1, cpu: -1, out: out.Bytes()}
	if <-got {
		s.wall, s.rss, s.cpu = time.Duration(wall), rss, time.Duration(cpu)
		b.floor = max(b.floor, floor)
	}
	if b.opts.verbose {
		b.logf("%s %s: %s", name, strings.Join(args, " "), s.wall.Round(time.Millisecond))
	}
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("timed out after %s", timeout)
		}
		return s, fmt.Errorf("%s %s: %w%s", name, strings.Join(args, " "), err, tail(s.out, 20))
	}
	return s, nil
}

// tail is the last n lines of out, indented, for an error message.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return "\n    " + strings.Join(lines, "\n    ")
}
