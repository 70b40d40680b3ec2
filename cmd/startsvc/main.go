// Command startsvc brings up a Docker Compose stack with its secrets taken from Infisical.
package main

import (
	"context"
	"os"

	"github.com/startsvc/startsvc/internal/cli"
)

func main() {
	ctx, stop := cli.NotifyContext(context.Background())
	wd, _ := os.Getwd()
	code := cli.Main(ctx, cli.Env{
		Args:    os.Args[1:],
		Environ: os.Environ(),
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Dir:     wd,
	})
	stop()
	os.Exit(code)
}
