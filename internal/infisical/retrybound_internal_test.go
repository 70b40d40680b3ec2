package infisical

import (
	"net/http"
	"testing"
	"time"
)

// TestRetryWaitIsBounded pins the decision behind every wait between two
// attempts: a wait a server asks for is honoured only up to the client's
// bound, which never exceeds DefaultMaxRetryWait however long the caller's
// own time bound is (startsvc passes half of --infisical-timeout).
func TestRetryWaitIsBounded(t *testing.T) {
	retryAfter := func(s string) http.Header { return http.Header{"Retry-After": []string{s}} }
	for _, tc := range []struct {
		name      string
		opts      Options
		status    int
		header    http.Header
		msg       string
		attempt   int
		wantWait  time.Duration
		wantRetry bool
	}{
		{name: "429: 5 minutes, with a long --infisical-timeout", opts: Options{MaxRetryWait: 30 * time.Minute},
			status: 429, msg: "Rate limit exceeded. Please try again in 5 minutes", wantWait: 5 * time.Minute, wantRetry: false},
		{name: "429: 5 minutes, default bound", status: 429, msg: "Rate limit exceeded. Please try again in 5 minutes",
			wantWait: 5 * time.Minute, wantRetry: false},
		{name: "429: 1 hour", opts: Options{MaxRetryWait: 24 * time.Hour}, status: 429, msg: "Please try again in 1 hour",
			wantWait: time.Hour, wantRetry: false},
		{name: "429: Retry-After 300, with a long --infisical-timeout", opts: Options{MaxRetryWait: 30 * time.Minute},
			status: 429, header: retryAfter("300"), msg: "Rate limit exceeded", wantWait: 5 * time.Minute, wantRetry: false},
		{name: "429: exactly the bound", status: 429, msg: "Please try again in 1 minute", wantWait: time.Minute, wantRetry: true},
		{name: "429: just over the bound", status: 429, msg: "Please try again in 61 seconds", wantWait: 61 * time.Second, wantRetry: false},
		{name: "429: a smaller bound of the caller's", opts: Options{MaxRetryWait: 4 * time.Second},
			status: 429, msg: "Please try again in 5 seconds", wantWait: 5 * time.Second, wantRetry: false},
		{name: "429: within the caller's bound", opts: Options{MaxRetryWait: 4 * time.Second},
			status: 429, msg: "Please try again in 4 seconds", wantWait: 4 * time.Second, wantRetry: true},
		{name: "429: 0 seconds still waits a little", status: 429, msg: "Please try again in 0 seconds",
			wantWait: time.Millisecond, wantRetry: true},
		{name: "429 naming no wait: twice the backoff", opts: Options{RetryBackoff: 100 * time.Millisecond},
			status: 429, msg: "Rate limit exceeded", attempt: 1, wantWait: 400 * time.Millisecond, wantRetry: true},
		{name: "503: a Retry-After over the bound is not honoured; the backoff is",
			opts:   Options{MaxRetryWait: 30 * time.Minute, RetryBackoff: 100 * time.Millisecond},
			status: 503, header: retryAfter("3600"), wantWait: 100 * time.Millisecond, wantRetry: true},
		{name: "503: a Retry-After within the bound", status: 503, header: retryAfter("2"), wantWait: 2 * time.Second, wantRetry: true},
		{name: "500 after the last attempt", status: 500, attempt: DefaultMaxRetries, wantRetry: false},
		{name: "429 after the last attempt", status: 429, msg: "Please try again in 1 seconds", attempt: DefaultMaxRetries, wantRetry: false},
		{name: "403 is never retried", status: 403, msg: "Please try again in 1 seconds", wantRetry: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(Settings{SiteURL: "https://infisical.example", Token: "an-access-token"}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			header := tc.header
			if header == nil {
				header = http.Header{}
			}
			wait, retry := c.retryWait(tc.status, header, tc.msg, tc.attempt)
			if retry != tc.wantRetry || (tc.wantWait != 0 && wait != tc.wantWait) {
				t.Errorf("retryWait = %s, %v; want %s, %v", wait, retry, tc.wantWait, tc.wantRetry)
			}
		})
	}
}
