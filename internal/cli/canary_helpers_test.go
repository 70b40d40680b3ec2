package cli_test

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/testenv"
)

// canaryRun is one invocation of startsvc in the canary check. code < 0
// means any exit code will do (a command whose outcome here is not the point).
type canaryRun struct {
	args []string
	code int
	// stopAfter, for a command that runs until stopped (watch), is when it
	// gets SIGTERM.
	stopAfter time.Duration
}

// canaryCommands says how the canary check runs each command startsvc lists
// in its help. A command missing here fails the check: every command must be
// shown not to print a secret.
func canaryCommands(stack, leaky, escaped, exportFile string) map[string][]canaryRun {
	return map[string][]canaryRun{
		"up": {
			// A service that logs a secret and exits: startsvc shows its last log lines.
			{args: []string{"up", "-v", "-f", leaky, "--wait-timeout", "30s"}, code: 1},
			// A service whose entrypoint holds a secret with a tab, quotes and a
			// backslash: the Engine's error quotes it the Go way (%q), and
			// compose passes that error on.
			{args: []string{"up", "-v", "-f", escaped, "--wait-timeout", "30s"}, code: 1},
			{args: []string{"up", "-v"}, code: 0},
			{args: []string{"up", "-v", "--secrets-via", "env"}, code: 0},
			{args: []string{"up", "-v", "--dry-run"}, code: 0},
		},
		"status": {{args: []string{"status", "-v"}, code: 0}, {args: []string{"status", "-v", "--json"}, code: 0}},
		"plan":   {{args: []string{"plan", "-v"}, code: -1}, {args: []string{"plan", "-v", "--json"}, code: -1}},
		"watch": {{args: []string{"watch", "-v", "--interval", "5s"}, code: 0, stopAfter: 12 * time.Second},
			{args: []string{"watch", "-v", "--json", "--interval", "5s"}, code: 0, stopAfter: 12 * time.Second}},
		"audit":   {{args: []string{"audit", "-v"}, code: 1}, {args: []string{"audit", "-v", "--json"}, code: 1}}, // finds the canaries by name
		"run":     {{args: []string{"run", "-v", "--", "true"}, code: 0}},
		"export":  {{args: []string{"export", "-v", "-o", exportFile}, code: 0}},
		"version": {{args: []string{"version", "-v"}, code: 0}},
		"config":  {{args: []string{"config", "-v"}, code: -1}},
		"doctor":  {{args: []string{"doctor", "-v"}, code: -1}, {args: []string{"doctor", "-v", "--json"}, code: -1}},
		"migrate": {{args: []string{"migrate", "-v"}, code: -1}}, // a dry run unless told otherwise
		"init":    {{args: []string{"init", "-v"}, code: -1}},
		"prepare": {{args: []string{"prepare", "-v"}, code: 0}},
		"down":    {{args: []string{"down", "-v"}, code: 0}},
		// After up: the snapshot of its fetch is there to list.
		"snapshot": {{args: []string{"snapshot", "-v"}, code: 0}, {args: []string{"snapshot", "-v", "--json"}, code: 0}},
		// Set up already: it checks the credentials and creates nothing.
		"infisical": {{args: []string{"infisical", "setup", "-v"}, code: 0}},
		// On the single-node swarm, once compose's project is down: deploy
		// refuses to run beside it.
		"deploy": {
			{args: []string{"deploy", "-v", "--dry-run"}, code: 0},
			{args: []string{"deploy", "-v", "--wait-timeout", "5m"}, code: 0},
			{args: []string{"deploy", "-v", "--dry-run", "--json"}, code: 0},
			{args: []string{"status", "-v", "--json"}, code: 0},
			{args: []string{"deploy", "-v", "--rm"}, code: 0},
		},
	}
}

// canaryOrder runs commands that need the project up before down, and
// deploy after down.
var canaryOrder = []string{"prepare", "up", "plan", "audit", "watch", "status", "run", "export", "snapshot", "version", "config", "doctor", "migrate", "infisical", "init", "down", "deploy"}

// listedCommands are the commands startsvc's help lists.
func listedCommands(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(testenv.StartsvcBinary(t), "--help").Output()
	if err != nil {
		t.Fatalf("startsvc --help: %v", err)
	}
	var cmds []string
	in := false
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(line) == "":
			return cmds
		case in:
			if f := strings.Fields(line); len(f) > 0 && f[0] != "help" && f[0] != "completion" {
				cmds = append(cmds, f[0])
			}
		}
	}
	return cmds
}

// leakedLines returns the lines of out that hold marker, with the marker
// hidden so that the failure message does not repeat the leak.
func leakedLines(out, marker string) []string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, marker) {
			lines = append(lines, "  "+hideMarker(line, marker))
		}
	}
	return lines
}

func hideMarker(s, marker string) string { return strings.ReplaceAll(s, marker, "<canary>") }
