package health

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/startsvc/startsvc/internal/exitcode"
)

func TestWaitURLAnswersAfterAFewTries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"message":"Ok"}`))
	}))
	defer srv.Close()
	if err := WaitURL(ctxFor(t), srv.Client(), srv.URL+"/api/status", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

// TestWaitURLTimesOutNamingTheLastAnswer ends the wait as its deadline
// would, after the server answered twice, whatever the machine's speed.
func TestWaitURLTimesOutNamingTheLastAnswer(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 2 {
			cancel(context.DeadlineExceeded)
		}
		http.Error(w, "no", http.StatusBadGateway)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://admin:hunter2@", 1) + "/api/status"
	err := WaitURL(ctx, srv.Client(), u, 5*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "/api/status: no answer after") || !strings.Contains(err.Error(), "answered 502 Bad Gateway") {
		t.Errorf("error %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestWaitURLInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(exitcode.ErrInterrupted)
	err := WaitURL(ctx, nil, "http://127.0.0.1:1/", time.Millisecond)
	if !errors.Is(err, exitcode.ErrInterrupted) {
		t.Errorf("error %v, want the interruption", err)
	}
}
