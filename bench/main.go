// Command bench measures startsvc against the performance goals of issues 4
// and 7 and prints the figures as a table, or as Markdown for
// docs/BENCHMARKS.md:
//
//	(a) startsvc up against docker compose up -d --wait on one fixture stack,
//	    alternating, ratio of medians
//	(b) startsvc's own overhead: up --dry-run wall time and peak RSS
//	(c) export -o of 100, 1,000 and 10,000 secrets from a fake Infisical
//	    server started in this process: time, peak RSS, growth
//	(d) optionally, the Go benchmarks of the env-file writer and the redactor
//	(r) a second up of a running six-service project with nothing changed,
//	    against compose's idempotent up -d --wait, ratio of medians
//
// Run it from anywhere inside the module: go run ./bench [flags]. It builds
// startsvc and the fixture image first. Every command runs under a timeout,
// and the compose project and the temporary folder are removed on every way
// out, Ctrl-C included. bench/README.md explains each figure.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the flags. The standard flag package is used on purpose: its
// single-dash long flags (-runs 7) match go test's, which is how developers
// already call benchmarks.
type options struct {
	runs       int
	warmup     int
	parts      string
	sizes      []int
	readyAfter time.Duration
	upTimeout  time.Duration
	markdown   bool
	goBench    bool
	goCount    int
	cpuProfile string
	verbose    bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [flags]\n\nMeasures startsvc; bench/README.md explains each figure.\n\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&o.runs, "runs", 7, "timed runs per measurement (per tool in a)")
	fs.IntVar(&o.warmup, "warmup", 1, "untimed runs per measurement before the timed ones")
	fs.StringVar(&o.parts, "parts", "abcer", "which measurements to run: any of a, b, c, e, r (d is -go-bench)")
	sizes := fs.String("sizes", "100,1000,10000", "secret counts for (c), comma separated, ascending")
	fs.DurationVar(&o.readyAfter, "ready-after", 4*time.Second, "how long the fixture service takes to turn healthy in (a)")
	fs.DurationVar(&o.upTimeout, "up-timeout", 3*time.Minute, "bound on each bring-up in (a)")
	fs.BoolVar(&o.markdown, "markdown", false, "print the tables in Markdown (for docs/BENCHMARKS.md)")
	fs.BoolVar(&o.goBench, "go-bench", false, "also run the Go benchmarks of internal/compose and internal/secrets (d)")
	fs.IntVar(&o.goCount, "go-bench-count", 1, "with -go-bench, run each Go benchmark this many times (go test -count)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of export with the largest size, run in this process, to this file (and one of run to run-FILE)")
	fs.BoolVar(&o.verbose, "v", false, "print each command and its duration as it runs")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.runs < 1 {
		return o, errors.New("-runs must be at least 1")
	}
	if o.goCount < 1 {
		return o, errors.New("-go-bench-count must be at least 1")
	}
	if o.warmup < 0 {
		return o, errors.New("-warmup must not be negative")
	}
	for _, p := range o.parts {
		if !strings.ContainsRune("abcer", p) {
			return o, fmt.Errorf("-parts %q: want letters among a, b, c, e and r", o.parts)
		}
	}
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return o, fmt.Errorf("-sizes: %q is not a positive count", s)
		}
		if len(o.sizes) > 0 && n <= o.sizes[len(o.sizes)-1] {
			return o, fmt.Errorf("-sizes: %d does not come after %d; list them ascending", n, o.sizes[len(o.sizes)-1])
		}
		o.sizes = append(o.sizes, n)
	}
	if o.readyAfter <= 0 || o.upTimeout <= o.readyAfter {
		return o, errors.New("-ready-after must be positive and -up-timeout longer than it")
	}
	return o, nil
}

func (o options) part(p rune) bool { return strings.ContainsRune(o.parts, p) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	rep, err := measureAll(ctx, o, stderr)
	// Print what was measured even when a later part failed.
	if rep != nil && len(rep.sections) > 0 {
		if o.markdown {
			rep.markdown(stdout)
		} else {
			rep.text(stdout)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench: interrupted; everything it created is removed")
			return 130
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

// bench is what the measurements share.
type bench struct {
	opts     options
	root     string   // the module root
	work     string   // temporary folder, removed at the end
	bin      string   // the startsvc binary under test
	launcher string   // runs each measured command (bench/launcher); "" when RSS is not measured
	env      []string // the environment of every command
	goBuild  []string // added to env for go build: the caller's build cache
	log      io.Writer
	project  string // the compose project of (a) and (b)
	stack    string // the fixture stack of (a) and (b)
	floor    int64  // the largest launcher peak seen: no RSS figure is below it
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "bench: "+format+"\n", args...)
}

func measureAll(ctx context.Context, o options, log io.Writer) (_ *report, err error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "startsvc-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	b := &bench{opts: o, root: root, work: work, log: log}
	b.env = benchEnv(os.Environ(), filepath.Join(work, "cache"))
	// The commands' XDG_CACHE_HOME is a new folder: go build must keep the
	// caller's build cache, or it rebuilds every dependency (minutes on a
	// busy 2-core machine).
	if out, err := exec.CommandContext(ctx, "go", "env", "GOCACHE").Output(); err == nil && len(bytes.TrimSpace(out)) > 0 {
		b.goBuild = []string{"GOCACHE=" + string(bytes.TrimSpace(out))}
	}
	b.bin = filepath.Join(work, "startsvc")
	b.logf("building startsvc")
	if _, err := b.exec(ctx, 5*time.Minute, root, b.goBuild, "go", "build", "-o", b.bin, "./cmd/startsvc"); err != nil {
		return nil, fmt.Errorf("build startsvc: %w", err)
	}
	if runtime.GOOS == "linux" {
		launcher := filepath.Join(work, "launcher")
		if _, err := b.exec(ctx, 5*time.Minute, root, b.goBuild, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", launcher, "./bench/launcher"); err != nil {
			return nil, fmt.Errorf("build the launcher: %w", err)
		}
		b.launcher = launcher
	}

	rep := &report{machine: describeMachine(ctx, b), date: time.Now().UTC()}
	defer func() { rep.floor, rep.machine.loads[1] = b.floor, loadAverage() }()
	if o.part('a') || o.part('b') || o.part('r') {
		if err := b.prepareStack(ctx); err != nil {
			return rep, err
		}
		defer b.removeProject()
	}
	if o.part('a') {
		s, err := b.benchUp(ctx)
		if err != nil {
			return rep, fmt.Errorf("(a) up: %w", err)
		}
		rep.add(s)
	}
	if o.part('b') {
		s, err := b.benchDryRun(ctx)
		if err != nil {
			return rep, fmt.Errorf("(b) dry-run: %w", err)
		}
		rep.add(s)
	}
	if o.part('r') {
		s, err := b.benchReconcile(ctx)
		if err != nil {
			return rep, fmt.Errorf("(r) reconcile: %w", err)
		}
		rep.add(s)
	}
	if o.part('c') {
		s, err := b.benchExport(ctx)
		if err != nil {
			return rep, fmt.Errorf("(c) export: %w", err)
		}
		rep.add(s)
	}
	if o.part('e') {
		s, err := b.benchRun(ctx)
		if err != nil {
			return rep, fmt.Errorf("(e) run: %w", err)
		}
		rep.add(s)
	}
	if o.goBench {
		s, err := b.goBench(ctx)
		if err != nil {
			return rep, fmt.Errorf("(d) go benchmarks: %w", err)
		}
		rep.add(s)
	}
	return rep, nil
}

const modulePath = "github.com/startsvc/startsvc"

// moduleRoot finds the folder of startsvc's go.mod at or above dir.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == modulePath {
					return d, nil
				}
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of %s at or above %s: run the bench from inside the module", modulePath, dir)
		}
	}
}

// benchEnv is the environment of every command: the caller's, without the
// settings that would change what is measured (Infisical credentials, compose
// project and file selection, startsvc's compose override), with colour off
// and startsvc's cache in the temporary folder.
func benchEnv(environ []string, cache string) []string {
	drop := func(k string) bool {
		switch k {
		case "COMPOSE_PROJECT_NAME", "COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_ENV_FILES",
			"STARTSVC_COMPOSE", "XDG_CACHE_HOME", "NO_COLOR":
			return true
		}
		return strings.HasPrefix(k, "INFISICAL_")
	}
	var env []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !drop(k) {
			env = append(env, kv)
		}
	}
	return append(env, "XDG_CACHE_HOME="+cache, "NO_COLOR=1")
}
