package health

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// maxLogBytes bounds what is read of a container's last lines: one runaway
// line must not fill memory.
const maxLogBytes = 1 << 20

// tail returns the last n lines a container wrote to stdout and stderr, in the
// order written, each passed through mask. tty says whether the container has
// a terminal, whose logs are a single unframed stream.
func tail(ctx context.Context, l Logger, id string, tty bool, n int, mask func(string) string) ([]string, error) {
	rc, err := l.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	src := io.LimitReader(rc, maxLogBytes)
	if tty {
		_, err = io.Copy(&buf, src)
	} else {
		_, err = stdcopy.StdCopy(&buf, &buf, src)
	}
	if err != nil {
		return nil, fmt.Errorf("read logs: %w", err)
	}
	// Mask the whole text first: a secret may span lines.
	text := mask(strings.ReplaceAll(buf.String(), "\r\n", "\n"))
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil, nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
