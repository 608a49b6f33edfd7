package consume

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/goleak"
)

// ownGoroutines returns the stacks of goroutines, other than the caller's,
// that run code of this package (its test files aside) and wait for
// something: the fetcher, the group's loop, a handler sarama calls. One
// that is runnable or running has done its last signal (a WaitGroup's
// Done, closing a channel) and is on its way out.
func ownGoroutines() []string {
	var out []string
	for _, g := range goroutineStacks() {
		if strings.Contains(g, " [runnable]:") || strings.Contains(g, " [running]:") {
			continue
		}
		for _, line := range strings.Split(g, "\n") {
			if strings.HasPrefix(line, "\t") && strings.Contains(line, "/consume/") && !strings.Contains(line, "_test.go") {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// goroutineStacks returns the stacks of every goroutine but the caller's.
func goroutineStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return strings.Split(string(buf), "\n\n")[1:] // the first is the caller's own
}

// TestRunLeavesNoGoroutine: every goroutine Run starts, its own and the
// ones it asks sarama for, has ended when Run returns, so that the caller
// may close the client at once (a fetch in flight once outlived Run and
// was cut off by the close).
func TestRunLeavesNoGoroutine(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"direct-exit", Options{Exit: true}},
		{"direct-num", Options{Num: 1}},
		{"direct-idle", Options{IdleTimeout: 300 * time.Millisecond}},
		{"group-exit", Options{Group: "g", Exit: true}},
		{"group-num", Options{Group: "g2", Num: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := seedCluster(t, 3, 3, 50)
			ignore := goleak.IgnoreCurrent()
			client, err := sarama.NewClient([]string{addr}, groupConfig())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			o := tc.o
			o.Topics = []string{"t"}
			var out bytes.Buffer
			_, err = Run(ctx, client, o, &out)
			var te *TimeoutError
			if err != nil && !(tc.o.IdleTimeout > 0 && errors.As(err, &te)) {
				t.Fatalf("Run: %v", err)
			}
			if left := ownGoroutines(); len(left) > 0 {
				t.Errorf("%d goroutines outlived Run:\n%s", len(left), strings.Join(left, "\n\n"))
			}
			client.Close()
			goleak.VerifyNone(t, ignore, goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"))
		})
	}
}
