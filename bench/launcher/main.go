//go:build linux

// Command launcher runs one command for the bench and reports, on file
// descriptor 3, its wall time, its peak RSS, the launcher's own peak and the
// CPU time (user and system) of the command and the children it waited for,
// as four decimal numbers: nanoseconds, bytes, bytes, nanoseconds.
//
// Why it exists: Go starts a child with vfork, so the child shares its
// parent's memory until it execs, and Linux then folds the parent's peak RSS
// into the child's ru_maxrss. Measured straight from the bench, which holds a
// fake server with 10,000 secrets, every command would report the bench's
// 50 MiB. This launcher is kept small (standard library only) so that what it
// folds in, its own peak, is a low floor; the bench prints it.
//
// It passes SIGTERM on to the command and ignores SIGINT: Ctrl-C on a
// terminal already reaches the command through the process group, and
// passing it on would deliver it twice. It exits with the command's code.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	os.Exit(launch(os.Args[1:]))
}

func launch(args []string) int {
	report := os.NewFile(3, "report")
	if len(args) == 0 || report == nil {
		fmt.Fprintln(os.Stderr, "launcher: usage: launcher COMMAND [ARG...] 3>REPORT")
		return 2
	}
	// The command must not inherit the report descriptor: a child of it that
	// outlived it would hold the bench's read open.
	syscall.CloseOnExec(3)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	// Pdeathsig follows the thread that starts the child: keep that thread.
	runtime.LockOSThread()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		return 127
	}
	go func() {
		for s := range sigs {
			if s == syscall.SIGTERM {
				_ = cmd.Process.Signal(s)
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		fmt.Fprintln(os.Stderr, "launcher:", err)
		return 127
	}
	rss, cpu := int64(-1), int64(-1)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024 // KiB on Linux
		cpu = ru.Utime.Nano() + ru.Stime.Nano()
	}
	fmt.Fprintf(report, "%d %d %d %d\n", wall.Nanoseconds(), rss, ownPeak(), cpu)
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// ownPeak is this process's high-water mark of resident memory (VmHWM) in
// bytes, or -1 when it cannot be read.
func ownPeak() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kib * 1024
		}
	}
	return -1
}
