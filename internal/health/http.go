package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// attemptTimeout bounds one request of WaitURL, so that a server that accepts
// and never answers cannot use up the whole wait.
const attemptTimeout = 5 * time.Second

// WaitURL returns nil once a GET of rawURL answers with a 2xx status, asking
// again every poll (zero is DefaultPoll) until then. hc nil is
// http.DefaultClient. When ctx ends first, the error names the URL (without
// credentials) and the last answer or failure; an interrupt's cause is wrapped.
func WaitURL(ctx context.Context, hc *http.Client, rawURL string, poll time.Duration) error {
	if hc == nil {
		hc = http.DefaultClient
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	shown := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		shown = u.Redacted()
	}
	start := time.Now()
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	var last error
	for {
		err := get(ctx, hc, rawURL)
		switch {
		case err == nil:
			return nil
		case ctx.Err() == nil || last == nil:
			last = err // not the cut-off of the final try, which says nothing
		}
		select {
		case <-ctx.Done():
			cause := context.Cause(ctx)
			if errors.Is(cause, context.DeadlineExceeded) || errors.Is(cause, errTimedOut) {
				return fmt.Errorf("wait for %s: no answer after %s: %w", shown, time.Since(start).Round(time.Second), last)
			}
			return fmt.Errorf("wait for %s: %w", shown, cause)
		case <-ticker.C:
		}
	}
}

func get(ctx context.Context, hc *http.Client, rawURL string) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return uerr.Err // the URL is in the caller's message already
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
