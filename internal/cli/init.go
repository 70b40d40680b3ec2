package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/startsvc/startsvc/internal/compose"
	"github.com/startsvc/startsvc/internal/envgen"
	"github.com/startsvc/startsvc/internal/exitcode"
	"github.com/startsvc/startsvc/internal/secrets"
)

// exampleFile is what init writes the env file from.
const exampleFile = ".env.example"

// initOptions are init's flags.
type initOptions struct {
	global *globalOptions
	force  bool
	// addMissing appends to an existing env file only the keys of
	// .env.example it lacks.
	addMissing bool
}

func newInitCmd(d *deps, g *globalOptions) *cobra.Command {
	o := &initOptions{global: g}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create .env from .env.example with new random secrets (mode 0600)",
		Long: `Create the stack's env file from .env.example: every line is kept, and each
secret the stack needs gets a new random value in the form its service expects
(Supabase's ANON_KEY and SERVICE_ROLE_KEY become JWTs signed with the new
JWT_SECRET). The file is created readable by you only (mode 0600).

An existing env file is never overwritten unless --force is given; then the
old one is kept next to it as <name>.<time>.bak, also mode 0600. Only the names
of the generated keys are printed, never a value.

--add-missing brings an existing env file (one from an older version of the
stack, or from the old start script's folder) up to date instead: it appends
the keys of .env.example the file lacks - secrets generated, settings with
.env.example's values, each with its comment - and touches no line that is
already there. The old file is kept as <name>.<time>.bak (mode 0600), the new
one is mode 0600. Without an env file it writes one as init does.`,
		Example: `  startsvc init
  startsvc init --force
  startsvc init --add-missing`,
		Args: g.noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.Context(), d, o)
		},
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "replace an existing env file, keeping the old one as a 0600 backup")
	cmd.Flags().BoolVar(&o.addMissing, "add-missing", false, "add only the keys of .env.example an existing env file lacks, keeping every line it has")
	return cmd
}

func runInit(_ context.Context, d *deps, o *initOptions) error {
	g := o.global
	if o.force && o.addMissing {
		return exitcode.Usagef("init: --force replaces the env file, --add-missing keeps it: give one of them")
	}
	dir := absDir(d, g)
	examplePath := filepath.Join(dir, exampleFile)
	example, err := os.ReadFile(examplePath)
	if errors.Is(err, fs.ErrNotExist) {
		return exitcode.Usagef("init: there is no %s in %s to create the env file from", exampleFile, dir)
	}
	if err != nil {
		return exitcode.Usagef("init: read %s: %w", examplePath, err)
	}
	target := g.EnvFile
	if !filepath.IsAbs(target) {
		target = filepath.Join(dir, target)
	}
	now := time.Now()
	if o.addMissing {
		existing, err := os.ReadFile(target)
		if err == nil {
			return initAddMissing(o, dir, target, existing, example, now)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return exitcode.With(exitcode.Failure, fmt.Errorf("init: %w", err))
		}
	}
	data, generated, err := envgen.Generate(example, rand.Reader, now)
	if err != nil {
		return exitcode.With(exitcode.Usage, fmt.Errorf("init: %w", err))
	}
	// Nothing below prints a value, but a wrapped error might quote one.
	if vals, err := secretsOf(data, generated); err == nil {
		g.redactor.Add(vals...)
	}

	backup := ""
	if _, err := os.Lstat(target); err == nil {
		if !o.force {
			return exitcode.Usagef("init: %s exists; startsvc init never overwrites it (--force replaces it and keeps the old one as a backup)", target)
		}
		if backup, err = backupFile(target, now); err != nil {
			return exitcode.With(exitcode.Failure, fmt.Errorf("init: %w", err))
		}
		if err := replaceFile(target, data); err != nil {
			return exitcode.With(exitcode.Failure, fmt.Errorf("init: %w", err))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return exitcode.With(exitcode.Failure, fmt.Errorf("init: %w", err))
	} else if _, err := secrets.CreateFile(target, data); err != nil {
		return exitcode.With(exitcode.Failure, fmt.Errorf("init: %w", err))
	}

	name := rel(dir, target)
	if backup != "" {
		g.ui.Info("kept the old %s as %s (mode 0600)", name, rel(dir, backup))
	}
	if len(generated) == 0 {
		g.ui.Success("wrote %s (mode 0600) from %s; it names no secret that init generates", name, exampleFile)
		return nil
	}
	g.ui.Success("wrote %s (mode 0600) with %s: %s", name, plural(len(generated), "new secret"), strings.Join(generated, ", "))
	g.ui.Info("review the other settings in %s (hostnames, LETSENCRYPT_EMAIL, …); keep a backup of it: the stack's data cannot be read without its keys", name)
	return nil
}

// secretsOf returns the generated values of an env file, for the redactor.
func secretsOf(data []byte, keys []string) ([]string, error) {
	vals, err := compose.ParseEnv("generated env file", data, nil)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, vals[k])
	}
	return out, nil
}

// backupFile copies path to <path>.<time>.bak, created new with mode 0600
// whatever the original's mode: it holds the old secrets.
func backupFile(path string, now time.Time) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("back up %s: %w", path, err)
	}
	stamp := now.Format("20060102-150405")
	for i := 0; ; i++ {
		backup := fmt.Sprintf("%s.%s.bak", path, stamp)
		if i > 0 {
			backup = fmt.Sprintf("%s.%s-%d.bak", path, stamp, i)
		}
		if _, err := os.Lstat(backup); err == nil {
			continue
		}
		if _, err := secrets.CreateFile(backup, data); err != nil {
			return "", fmt.Errorf("back up %s: %w", path, err)
		}
		return backup, nil
	}
}

// replaceFile puts data at path in one step: written to a new 0600 file next
// to it, then renamed over it, so that path always holds a whole file.
func replaceFile(path string, data []byte) error {
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	tmp := fmt.Sprintf("%s.tmp-%x", path, suffix)
	remove, err := secrets.CreateFile(tmp, data)
	if err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("replace %s: %w", path, err), remove())
	}
	return nil
}

// rel shows path relative to dir when it lies below it.
func rel(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
