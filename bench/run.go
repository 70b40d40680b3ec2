package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/cli"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

// runSecrets is the size (e) measures: the size issue 15 named.
const runSecrets = 10000

// benchRun is (e): `startsvc run -- true` against `startsvc export -o FILE`
// with 10,000 secrets from the fake Infisical server, alternating, and the
// Infisical CLI's own `infisical run -- true` against the same server when
// the CLI is on the PATH. run does what export does (login, one listing,
// merge with .env) and then starts a child with every value in its
// environment instead of writing a file: the two should cost about the same.
func (b *bench) benchRun(ctx context.Context) (section, error) {
	o := b.opts
	srv := infisicaltest.New()
	defer srv.Close()
	srv.AddIdentity(benchClientID, benchClientSecret)
	const project = "bench-run"
	srv.AddProject(project, "dev")
	for i := range runSecrets {
		srv.SetSecret(project, "dev", "/", secretKey(i), secretValue(i))
	}
	dir := filepath.Join(b.work, "run")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return section{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv()), 0o600); err != nil {
		return section{}, err
	}
	out := filepath.Join(dir, "exported.env")
	env := b.infisicalEnv(srv, project)
	type tool struct {
		name string
		argv []string
		env  []string
		runs series
	}
	tools := []*tool{
		{name: "startsvc run -- true", argv: []string{b.bin, "run", "-C", dir, "--require-infisical", "--", "true"}, env: env},
		{name: "startsvc export -o FILE", argv: []string{b.bin, "export", "-C", dir, "-o", out, "--require-infisical"}, env: env},
	}
	cliPath, cliErr := exec.LookPath("infisical")
	if cliErr == nil {
		tok := srv.IssueToken()
		tools = append(tools, &tool{name: "infisical run -- true", argv: []string{cliPath, "run", "--domain", srv.URL + "/api",
			"--projectId", project, "--env", "dev", "--token", tok, "--", "true"},
			env: []string{"INFISICAL_DISABLE_UPDATE_CHECK=1"}})
	}
	b.logf("(e) %d warm-up and %d timed runs of each of %d commands, %d secrets", o.warmup, o.runs, len(tools), runSecrets)
	err := rounds(o.warmup, o.runs, len(tools), func(i int, timed bool) error {
		t := tools[i]
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			return err
		}
		s, err := b.exec(ctx, time.Minute, dir, t.env, t.argv[0], t.argv[1:]...)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if timed {
			t.runs = append(t.runs, s)
		}
		return nil
	})
	if err != nil {
		return section{}, err
	}
	if o.cpuProfile != "" {
		if err := b.profileRun(ctx, srv, project, dir); err != nil {
			return section{}, err
		}
	}
	tbl := table{head: []string{"command", "median", "min – max", "CPU (median)", "peak RSS (median)", "peak RSS (max)"}}
	cpu := func(s series) string {
		if c := s.medianCPU(); c >= 0 {
			return ms(c)
		}
		return "–"
	}
	for _, t := range tools {
		tbl.rows = append(tbl.rows, []string{t.name, ms(t.runs.medianWall()), spread(t.runs), cpu(t.runs), mib(t.runs.medianRSS()), mib(t.runs.maxRSS())})
	}
	run, export := tools[0], tools[1]
	v := []string{fmt.Sprintf("run / export, ratio of medians: %s in wall time (run %s, export %s), %s in CPU time (run %s, export %s)",
		ratio(float64(run.runs.medianWall()), float64(export.runs.medianWall())), ms(run.runs.medianWall()), ms(export.runs.medianWall()),
		ratio(float64(run.runs.medianCPU()), float64(export.runs.medianCPU())), cpu(run.runs), cpu(export.runs))}
	if cliErr == nil {
		c := tools[2]
		v = append(v, fmt.Sprintf("startsvc run / infisical run: %s; startsvc export / infisical run: %s",
			ratio(float64(run.runs.medianWall()), float64(c.runs.medianWall())),
			ratio(float64(export.runs.medianWall()), float64(c.runs.medianWall()))))
	} else {
		v = append(v, "the Infisical CLI is not on the PATH: run is compared with export only")
	}
	return section{
		title: "(e) run -- true and export -o with 10,000 secrets",
		intro: fmt.Sprintf("`startsvc run -C DIR --require-infisical -- true` and `startsvc export -C DIR -o FILE --require-infisical` "+
			"with the %d secrets and the .env of (c), alternating, the order swapped every round; `infisical run -- true` "+
			"against the same server too when the Infisical CLI is on the PATH. run does what export does and then starts "+
			"a child with every value in its environment, where export writes a file.", runSecrets),
		tables:  []table{tbl},
		verdict: v,
	}, nil
}

// profileRun runs `run -- true` inside this process under the CPU profiler,
// as profileExport does for export, into the profile's name with "run-" in
// front.
func (b *bench) profileRun(ctx context.Context, srv *infisicaltest.Server, project, dir string) error {
	path := filepath.Join(filepath.Dir(b.opts.cpuProfile), "run-"+filepath.Base(b.opts.cpuProfile))
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n := max(b.opts.runs, 20)
	b.logf("profiling %d in-process runs of %d secrets into %s", n, runSecrets, path)
	env := append(append([]string(nil), b.env...), b.infisicalEnv(srv, project)...)
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for range n {
		var stderr bytes.Buffer
		code := 0
		pprof.Do(ctx, pprof.Labels("code", "startsvc"), func(ctx context.Context) {
			code = cli.Main(ctx, cli.Env{
				Args:    []string{"run", "-C", dir, "--require-infisical", "--", "true"},
				Environ: env,
				Stdin:   strings.NewReader(""),
				Stdout:  io.Discard,
				Stderr:  &stderr,
				Dir:     dir,
			})
		})
		if code != 0 {
			return fmt.Errorf("in-process run exited %d:%s", code, tail(stderr.Bytes(), 20))
		}
	}
	pprof.StopCPUProfile()
	b.logf("look at it with: go tool pprof -top -cum -tagfocus=code=startsvc %s", path)
	return nil
}
