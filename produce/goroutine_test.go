package produce

import (
	"context"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ours lists the goroutines of this package still running: the reader,
// the Batcher's loop and its helpers.
func ours() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "streamctl/produce.(*Producer).") || strings.Contains(g, "streamctl/produce.(*Batcher).") {
			if !strings.Contains(g, "produce.Test") || strings.Contains(g, "created by github.com/streamctl/streamctl/produce.(*") {
				out = append(out, g)
			}
		}
	}
	return out
}

// noneOfOurs waits (a little: a goroutine that has closed its channel may
// not have returned yet) until ours is empty.
func noneOfOurs(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		left := ours()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Run returned:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunEndsItsGoroutines: Run interrupted while the reader is blocked on
// an input that can be interrupted (an os.Pipe, as stdin often is) returns
// with none of its goroutines left.
func TestRunEndsItsGoroutines(t *testing.T) {
	_, client := fakeCluster(t, 2)
	b, err := NewBatcher(context.Background(), client, batcherConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	p := New(&Format{}, Options{Topic: "t", Partition: -1})
	done := make(chan Stats, 1)
	go func() {
		st, _ := p.Run(ctx, []Input{{R: pr}}, b)
		done <- st
	}()
	if _, err := io.WriteString(pw, "a\nb\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Progress().Acked < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("lines not acknowledged: %+v", p.Progress())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if st := <-done; st.Acked != 2 || !st.Interrupted {
		t.Errorf("stats %+v, want 2 acknowledged, interrupted", st)
	}
	noneOfOurs(t)
}

// TestRunCallsNothingAfter: an input that cannot be interrupted (an
// io.Pipe) keeps its read blocked after Run returns; what that read
// returns then is neither reported nor counted.
func TestRunCallsNothingAfter(t *testing.T) {
	_, client := fakeCluster(t, 2)
	b, err := NewBatcher(context.Background(), client, batcherConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var returned, late atomic.Bool
	p := New(&Format{ValueEncoder: upper{}}, Options{Topic: "t", Partition: -1, SkipInvalid: true,
		Invalid: func(error) {
			if returned.Load() {
				late.Store(true)
			}
		}})
	done := make(chan struct{})
	go func() {
		p.Run(ctx, []Input{{R: pr}}, b)
		returned.Store(true)
		close(done)
	}()
	if _, err := io.WriteString(pw, "a\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Progress().Acked < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("line not acknowledged: %+v", p.Progress())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	// The blocked read now returns an invalid line, then the end.
	io.WriteString(pw, "bad\n")
	pw.Close()
	noneOfOurs(t)
	if late.Load() || p.Progress().Skipped != 0 {
		t.Errorf("after Run returned: Invalid called %v, %d skipped; want neither", late.Load(), p.Progress().Skipped)
	}
}
