package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/cli"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/infisical/infisicaltest"
)

const (
	benchClientID     = "bench-client"
	benchClientSecret = "bench-client-secret-0123456789"
	benchSettings     = 20 // plain settings in the .env that export merges
)

// dotenv is the .env export merges: the plain settings, and a value for every
// key startsvc init generates, as the shipped stack's .env has them (startsvc
// always masks those).
func dotenv() string {
	var b strings.Builder
	for i := range benchSettings {
		fmt.Fprintf(&b, "BENCH_SETTING_%02d=plain-setting-%d\n", i, i)
	}
	for i, k := range envgen.Keys() {
		fmt.Fprintf(&b, "%s=%x\n", k, sha256.Sum256([]byte(k+strconv.Itoa(i))))
	}
	return b.String()
}

// secretValue is the deterministic value of secret i: 24 to 64 characters,
// every fifth one with the characters env files must escape and every tenth
// spanning two lines, so that the writer's slow paths are measured too.
func secretValue(i int) string {
	r := rand.New(rand.NewPCG(uint64(i), 7919))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 24+r.IntN(41))
	for j := range b {
		b[j] = alphabet[r.IntN(len(alphabet))]
	}
	v := string(b)
	if i%5 == 0 {
		v = `p$a'ss"w\o#rd ` + v
	}
	if i%10 == 0 {
		v += "\nsecond line"
	}
	return v
}

func secretKey(i int) string { return fmt.Sprintf("BENCH_SECRET_%05d", i) }

// exportCase is one secret count of (c).
type exportCase struct {
	n       int
	project string
	runs    series
	answer  []float64 // the fake server's answer times, in nanoseconds
	size    int       // bytes of the listing
	calls   int       // requests one export makes
}

// benchExport is (c): startsvc export -o FILE against a fake Infisical server
// in this process, for each size and for an empty project as the baseline.
func (b *bench) benchExport(ctx context.Context) (section, error) {
	o := b.opts
	srv := infisicaltest.New()
	defer srv.Close()
	srv.AddIdentity(benchClientID, benchClientSecret)
	cases := []*exportCase{{n: 0}}
	for _, n := range o.sizes {
		cases = append(cases, &exportCase{n: n})
	}
	for _, c := range cases {
		c.project = "bench-" + strconv.Itoa(c.n)
		srv.AddProject(c.project, "dev")
		for i := range c.n {
			srv.SetSecret(c.project, "dev", "/", secretKey(i), secretValue(i))
		}
	}
	dir := filepath.Join(b.work, "export")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return section{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv()), 0o600); err != nil {
		return section{}, err
	}
	out := filepath.Join(dir, "exported.env")

	b.logf("(c) %d warm-up and %d timed exports per size: %v", o.warmup, o.runs, o.sizes)
	verified := map[int]bool{}
	err := rounds(o.warmup, o.runs, len(cases), func(i int, timed bool) error {
		c := cases[i]
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			return err
		}
		srv.ResetCalls()
		s, err := b.exec(ctx, time.Minute, dir, b.infisicalEnv(srv, c.project),
			b.bin, "export", "-C", dir, "-o", out, "--require-infisical")
		if err != nil {
			return err
		}
		c.calls = srv.TotalCalls()
		if !verified[c.n] {
			if err := verifyExport(out, c.n); err != nil {
				return fmt.Errorf("%d secrets: %w", c.n, err)
			}
			verified[c.n] = true
		}
		if !timed {
			return nil
		}
		c.runs = append(c.runs, s)
		took, size, err := replayListing(ctx, srv)
		if err != nil {
			return err
		}
		c.answer, c.size = append(c.answer, float64(took)), size
		return nil
	})
	if err != nil {
		return section{}, err
	}
	if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
		return section{}, err
	}
	if o.cpuProfile != "" {
		if err := b.profileExport(ctx, srv, cases[len(cases)-1], dir, out); err != nil {
			return section{}, err
		}
	}
	return exportSection(o, cases), nil
}

func (b *bench) infisicalEnv(srv *infisicaltest.Server, project string) []string {
	return []string{
		"INFISICAL_API_URL=" + srv.URL,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=" + benchClientID,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + benchClientSecret,
		"INFISICAL_PROJECT_ID=" + project,
	}
}

// verifyExport checks that the file is private and holds every secret and
// every setting, so that a fast failure cannot pass for a fast export.
func verifyExport(path string, n int) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Mode().Perm() != 0o600 {
		return fmt.Errorf("%s has mode %v, want 0600", filepath.Base(path), st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	generated := map[string]bool{}
	for _, k := range envgen.Keys() {
		generated[k] = true
	}
	var secrets, settings int
	for _, line := range strings.Split(string(data), "\n") {
		k, _, _ := strings.Cut(line, "=")
		switch {
		case strings.HasPrefix(k, "BENCH_SECRET_"):
			secrets++
		case strings.HasPrefix(k, "BENCH_SETTING_") || generated[k]:
			settings++
		}
	}
	if want := benchSettings + len(generated); secrets != n || settings != want {
		return fmt.Errorf("the export holds %d secrets and %d settings, want %d and %d", secrets, settings, n, want)
	}
	return nil
}

// replayListing asks the fake server for the listing startsvc just fetched,
// with the same query, and times the answer: the server's share of an
// export's wall time, since it runs in this process on the same cores.
func replayListing(ctx context.Context, srv *infisicaltest.Server) (time.Duration, int, error) {
	path, q := "/api/v4/secrets", srv.LastQuery(infisicaltest.RouteListV4)
	if srv.Calls(infisicaltest.RouteListV4) == 0 {
		path, q = "/api/v3/secrets/raw", srv.LastQuery(infisicaltest.RouteListV3)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path+"?"+q.Encode(), nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+srv.IssueToken())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("replay the listing: %w", err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	took := time.Since(start)
	if err != nil {
		return 0, 0, fmt.Errorf("replay the listing: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("replay the listing: %s", resp.Status)
	}
	return took, int(n), nil
}

func exportSection(o options, cases []*exportCase) section {
	base := cases[0]
	t := table{head: []string{"secrets", "median", "min – max", "median above the baseline", "peak RSS (median)",
		"peak RSS (max)", "fake server's answer (median)", "answer size", "requests"}}
	for _, c := range cases {
		label, above := strconv.Itoa(c.n), ms(c.runs.medianWall()-base.runs.medianWall())
		if c.n == 0 {
			label, above = "0 (baseline)", "–"
		}
		t.rows = append(t.rows, []string{label, ms(c.runs.medianWall()), spread(c.runs), above, mib(c.runs.medianRSS()),
			mib(c.runs.maxRSS()), ms(time.Duration(median(c.answer))), fmt.Sprintf("%.0f KiB", float64(c.size)/1024),
			strconv.Itoa(c.calls)})
	}
	growth := table{head: []string{"step", "time", "time above the baseline", "peak RSS", "peak RSS above the baseline"}}
	wall := func(c *exportCase) float64 { return float64(c.runs.medianWall()) }
	rss := func(c *exportCase) float64 { return float64(c.runs.medianRSS()) }
	for i := 2; i < len(cases); i++ {
		lo, hi := cases[i-1], cases[i]
		growth.rows = append(growth.rows, []string{fmt.Sprintf("%d → %d (%s more secrets)", lo.n, hi.n, ratio(float64(hi.n), float64(lo.n))),
			ratio(wall(hi), wall(lo)), ratio(wall(hi)-wall(base), wall(lo)-wall(base)),
			ratio(rss(hi), rss(lo)), ratio(rss(hi)-rss(base), rss(lo)-rss(base))})
	}
	var v []string
	for _, c := range cases {
		if c.n != 10000 {
			continue
		}
		msf := func(f float64) string { return ms(time.Duration(f)) }
		mibf := func(f float64) string { return mib(int64(f)) }
		v = append(v,
			verdict("10,000 secrets, median time", wall(c), float64(300*time.Millisecond), true, msf),
			verdict("10,000 secrets, largest peak RSS", float64(c.runs.maxRSS()), 60<<20, true, mibf),
			fmt.Sprintf("above the baseline, each secret costs %.1f µs and %.2f KiB of peak RSS; "+
				"the fake server's answer is %s of the median",
				(wall(c)-wall(base))/float64(c.n)/1e3, (rss(c)-rss(base))/float64(c.n)/1024,
				ms(time.Duration(median(c.answer)))))
	}
	return section{
		title: "(c) export -o of 100, 1,000 and 10,000 secrets",
		intro: fmt.Sprintf("`startsvc export -o FILE --require-infisical` in a folder whose .env holds %d plain settings "+
			"and the %d keys startsvc init generates: "+
			"universal-auth login, one listing from the fake Infisical server (started by the bench, in its own process, "+
			"so on the same cores), merge with .env, env-file writing, a new 0600 file. Values are 24–64 characters; "+
			"every fifth needs escaping and every tenth spans two lines. The sizes alternate, the order rotating every round; "+
			"each run's file is checked once per size. The empty project is the baseline: process start, login, an empty listing. "+
			"The server's answer is timed separately by the bench with the same query.", benchSettings, len(envgen.Keys())),
		tables:  []table{t, growth},
		verdict: v,
	}
}

// profileExport runs the export of c inside this process under the CPU
// profiler, labelling startsvc's goroutines code=startsvc so that the fake
// server's share can be told apart.
func (b *bench) profileExport(ctx context.Context, srv *infisicaltest.Server, c *exportCase, dir, out string) error {
	f, err := os.Create(b.opts.cpuProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	n := max(b.opts.runs, 20)
	b.logf("profiling %d in-process exports of %d secrets into %s", n, c.n, b.opts.cpuProfile)
	env := append(append([]string(nil), b.env...), b.infisicalEnv(srv, c.project)...)
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for range n {
		if err := os.Remove(out); err != nil && !os.IsNotExist(err) {
			return err
		}
		var stderr bytes.Buffer
		code := 0
		pprof.Do(ctx, pprof.Labels("code", "startsvc"), func(ctx context.Context) {
			code = cli.Main(ctx, cli.Env{
				Args:    []string{"export", "-C", dir, "-o", out, "--require-infisical"},
				Environ: env,
				Stdin:   strings.NewReader(""),
				Stdout:  io.Discard,
				Stderr:  &stderr,
				Dir:     dir,
			})
		})
		if code != 0 {
			return fmt.Errorf("in-process export exited %d:%s", code, tail(stderr.Bytes(), 20))
		}
	}
	pprof.StopCPUProfile()
	b.logf("look at it with: go tool pprof -top -cum -tagfocus=code=startsvc %s", b.opts.cpuProfile)
	return os.Remove(out)
}
