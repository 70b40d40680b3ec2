package exitcode

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// interruptedCtx is the context main hands down after Ctrl-C or SIGTERM.
func interruptedCtx() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(ErrInterrupted)
	return ctx
}

func TestOf(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel() // cancelled, but not by a signal: the cause is context.Canceled
	otherCause, cancelOther := context.WithCancelCause(context.Background())
	cancelOther(errors.New("lock lost"))
	expired, cancelExpired := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelExpired()

	// What a Docker or Infisical call returns when its context is cancelled
	// under it: it neither wraps ErrInterrupted nor carries a code.
	plain := fmt.Errorf("list containers: %w", context.Canceled)

	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"no error", context.Background(), nil, OK},
		{"no error after an interrupt", interruptedCtx(), nil, OK},
		{"plain error", context.Background(), plain, Failure},
		{"plain error, no context", nil, plain, Failure},
		{"plain error after an interrupt", interruptedCtx(), plain, Interrupted},
		{"plain error after an interrupt, wrapped again", interruptedCtx(), fmt.Errorf("up: %w", plain), Interrupted},
		{"an error that wraps the interrupt, no context", nil, fmt.Errorf("wait: %w", ErrInterrupted), Interrupted},
		{"an error that wraps the interrupt, fresh context", context.Background(), fmt.Errorf("wait: %w", ErrInterrupted), Interrupted},
		{"a carried code", context.Background(), With(Unavailable, errors.New("docker is not running")), Unavailable},
		{"a carried code, wrapped", context.Background(), fmt.Errorf("up: %w", Usagef("bad flag")), Usage},
		// A child killed by the same signal exits with its own code, and
		// startsvc run passes it through exactly.
		{"a child's code after an interrupt", interruptedCtx(), With(143, errors.New("child exited")), 143},
		{"a carried 130", context.Background(), With(Interrupted, errors.New("stopped")), Interrupted},
		{"plain error, context cancelled without a signal", canceled, plain, Failure},
		{"plain error, context cancelled for another reason", otherCause, plain, Failure},
		{"plain error, deadline passed", expired, fmt.Errorf("wait: %w", context.DeadlineExceeded), Failure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.ctx, tc.err); got != tc.want {
				t.Errorf("Of = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestWith(t *testing.T) {
	if err := With(Failure, nil); err != nil {
		t.Errorf("With(code, nil) = %v, want nil", err)
	}
	cause := errors.New("compose up failed")
	err := With(Unavailable, cause)
	if !errors.Is(err, cause) {
		t.Error("With hides its cause from errors.Is")
	}
	if err.Error() != cause.Error() {
		t.Errorf("text %q, want the cause's %q", err, cause)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != Unavailable {
		t.Errorf("With does not carry its code: %#v", err)
	}
	if got := (&Error{Code: 7}).Error(); got != "exit status 7" {
		t.Errorf("an Error without a cause says %q", got)
	}
}

func TestUsagef(t *testing.T) {
	inner := errors.New("no such file")
	err := Usagef("stack directory %s: %w", "x", inner)
	if Of(nil, err) != Usage {
		t.Errorf("Usagef gives exit code %d, want %d", Of(nil, err), Usage)
	}
	if !errors.Is(err, inner) || err.Error() != "stack directory x: no such file" {
		t.Errorf("Usagef = %q, does not wrap its %%w argument", err)
	}
}

// TestCodesAreTheDocumentedOnes pins the numbers runbooks test: changing one
// is a breaking change of the command's interface.
func TestCodesAreTheDocumentedOnes(t *testing.T) {
	for name, c := range map[string][2]int{
		"OK": {OK, 0}, "Failure": {Failure, 1}, "Usage": {Usage, 2}, "Unavailable": {Unavailable, 3},
		"Infisical": {Infisical, 4}, "Pending": {Pending, 5}, "Interrupted": {Interrupted, 130},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %d, documented as %d", name, c[0], c[1])
		}
	}
}
