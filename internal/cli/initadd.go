package cli

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"

	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
)

// initAddMissing is init --add-missing on an existing env file at target:
// the keys of .env.example it lacks are appended (secrets generated, the rest
// with .env.example's values), every present line stays as it is, and the old
// file is kept as a 0600 backup. When nothing is missing it changes nothing.
func initAddMissing(o *initOptions, dir, target string, existing, example []byte, now time.Time) error {
	g := o.global
	name := rel(dir, target)
	data, added, err := envgen.AddMissing(existing, example, rand.Reader, now)
	if err != nil {
		return exitcode.With(exitcode.Usage, fmt.Errorf("init --add-missing: %s: %w", name, err))
	}
	if len(added.Keys) == 0 {
		g.ui.Success("%s has every key of %s; nothing changed", name, exampleFile)
		return nil
	}
	if vals, err := secretsOf(data, added.Generated); err == nil {
		g.redactor.Add(vals...)
	}
	backup, err := backupFile(target, now)
	if err != nil {
		return exitcode.With(exitcode.Failure, fmt.Errorf("init --add-missing: %w", err))
	}
	if err := replaceFile(target, data); err != nil {
		return exitcode.With(exitcode.Failure, fmt.Errorf("init --add-missing: %w", err))
	}
	g.ui.Info("kept the old %s as %s (mode 0600)", name, rel(dir, backup))
	g.ui.Success("added %s of %s to %s (mode 0600): %s", plural(len(added.Keys), "key"), exampleFile, name, strings.Join(added.Keys, ", "))
	if len(added.Generated) > 0 {
		g.ui.Info("new secrets among them: %s; every line that was in %s is unchanged", strings.Join(added.Generated, ", "), name)
	} else {
		g.ui.Info("every line that was in %s is unchanged", name)
	}
	return nil
}
