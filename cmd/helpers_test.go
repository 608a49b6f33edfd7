package cmd

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamctl/streamctl/internal/goldenfile"
)

// result is what one streamctl run printed and how it exited.
type result struct {
	Stdout, Stderr string
	Code           int
}

// run runs streamctl in-process with args (without the program name) and
// the given stdin, bounded by 60 seconds.
func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runReader(t, strings.NewReader(stdin), args...)
}

func runReader(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return runCtx(ctx, stdin, args...)
}

func runCtx(ctx context.Context, stdin io.Reader, args ...string) result {
	var out, errb bytes.Buffer
	env := map[string]string{}
	code := Run(ctx, append([]string{"streamctl"}, args...), Streams{
		In: stdin, Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// mustRun is run that fails t unless the exit code is want.
func mustRun(t *testing.T, want int, stdin string, args ...string) result {
	t.Helper()
	r := run(t, stdin, args...)
	if r.Code != want {
		t.Fatalf("streamctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, want, r.Stdout, r.Stderr)
	}
	return r
}

// signalWriter is a stdout that says when something was first written.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first chan struct{}
	once  sync.Once
}

func newSignalWriter() *signalWriter { return &signalWriter{first: make(chan struct{})} }

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.once.Do(func() { close(w.first) })
	return w.buf.Write(p)
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// golden compares got with testdata/<area>/<test>/<name>.golden, or
// rewrites it under -update.
var golden = goldenfile.Check

// runInBackground runs streamctl with args (without the program name),
// writing stdout to out; the exit code arrives on the channel.
func runInBackground(ctx context.Context, out io.Writer, args ...string) <-chan int {
	done := make(chan int, 1)
	go func() {
		var errb strings.Builder
		done <- Run(ctx, append([]string{"streamctl"}, args...), Streams{In: strings.NewReader(""), Out: out, Err: &errb})
	}()
	return done
}

// waitForOutput fails t unless w is written to within 30 s.
func waitForOutput(t *testing.T, w *signalWriter, who string) {
	t.Helper()
	select {
	case <-w.first:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed nothing in 30s", who)
	}
}

// exitCode waits up to 60 s for a background run's exit code.
func exitCode(t *testing.T, done <-chan int, who string) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not stop in 60s", who)
		return -1
	}
}
