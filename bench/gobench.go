package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

func countNote(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf(" with -count %d (each line is one run; compare them to see the noise)", n)
}

// goBench is (d): the Go benchmarks of the env-file writer and the redactor,
// run as they would be by hand, their output kept as it is.
func (b *bench) goBench(ctx context.Context) (section, error) {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchmem", "./internal/compose", "./internal/secrets"}
	if b.opts.goCount > 1 {
		args = append(args[:len(args)-2], "-count", strconv.Itoa(b.opts.goCount), "./internal/compose", "./internal/secrets")
	}
	b.logf("(d) go %v", args)
	s, err := b.exec(ctx, 20*time.Minute, b.root, nil, "go", args...)
	if err != nil {
		return section{}, err
	}
	return section{
		title: "(d) Go benchmarks: env-file writer and redactor",
		intro: "`go test -run '^$' -bench . -benchmem ./internal/compose ./internal/secrets`" + countNote(b.opts.goCount) + ": " +
			"FormatEnv writes an env file of n hostile values; FormatAndVerifyEnv also re-reads it with compose-go's " +
			"parser and compares, as startsvc does before compose runs; RedactorWriter masks 64 KiB of compose output " +
			"against 10, 100 and 1,000 known values.",
		pre: string(s.out),
	}, nil
}
