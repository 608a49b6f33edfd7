package consume

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// interleaving records the order in which output and warnings arrive, as
// a terminal shows them.
type interleaving struct {
	mu     sync.Mutex
	events []string
}

func (l *interleaving) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			l.events = append(l.events, "out "+strings.TrimSuffix(line, "\n"))
		}
	}
	return len(p), nil
}

func (l *interleaving) warn(msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, "err "+msg)
}

// TestWarningFollowsEarlierOutput: a skipped message's warning goes to
// stderr after the messages before it reached stdout, not ahead of them
// (stdout is buffered, stderr is not).
func TestWarningFollowsEarlierOutput(t *testing.T) {
	_, addr := seedCluster(t, 1, 1, 0)
	kafkatest.Produce(t, addr, "t",
		kafkatest.Message{Value: []byte(`{"a":1}`)},
		kafkatest.Message{Value: []byte(`{"a":2}`)},
		kafkatest.Message{Value: []byte(`not json`)},
		kafkatest.Message{Value: []byte(`{"a":3}`)},
	)
	json, err := codec.Parse("json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l := &interleaving{}
	_, err = Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Exit: true, ValueCodec: json, SkipInvalid: true, Warn: l.warn}, l)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got []string
	for _, e := range l.events {
		kind, _, _ := strings.Cut(e, " ")
		got = append(got, kind)
	}
	if want := "out out err out"; strings.Join(got, " ") != want {
		t.Fatalf("events %q: kinds %s, want %s", l.events, got, want)
	}
	if !strings.Contains(l.events[2], "offset 2") {
		t.Errorf("warning %q does not name offset 2", l.events[2])
	}
}
