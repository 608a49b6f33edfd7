package agent

import (
	"context"
	"io"
	"strconv"
	"sync"
	"testing"

	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/envelope"
)

// recordingOutput keeps what Emit was given, in the order it was called.
type recordingOutput struct {
	mu   sync.Mutex
	got  []string
	seen []int64
}

func (o *recordingOutput) Emit(_ context.Context, in Source, lines [][]byte, done func(error)) {
	o.mu.Lock()
	for _, l := range lines {
		o.got = append(o.got, string(l))
	}
	o.seen = append(o.seen, in.Offset)
	o.mu.Unlock()
	done(nil)
}

var _ Output = (*recordingOutput)(nil)

// TestOutputInOffsetOrderUnderKeyConcurrency: with --order key the first
// key's command is slowest, yet Output sees every record's lines in
// offset order.
func TestOutputInOffsetOrderUnderKeyConcurrency(t *testing.T) {
	out := &recordingOutput{}
	r, err := New(context.Background(), Options{
		Command:     `if [ "$STREAMCTL_OFFSET" = 0 ]; then sleep 0.2; fi; echo "$STREAMCTL_KEY $STREAMCTL_OFFSET"`,
		Concurrency: 4, Order: ByKey, Output: out, Stdout: io.Discard, Stderr: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	tp := consume.TopicPartition{Topic: "t", Partition: 0}
	for i := range 12 {
		rec := &envelope.Record{Topic: "t", Offset: int64(i), Key: []byte("k" + strconv.Itoa(i%4)), Value: []byte("v")}
		m := consume.Message{Record: rec, Ticket: consume.Ticket{TopicPartition: tp, Offset: int64(i)}}
		if err := r.Process(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Drain(context.Background(), nil, false); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for i, off := range out.seen {
		if off != int64(i) {
			t.Fatalf("Emit saw offsets %v, want 0-11 in order", out.seen)
		}
		if want := "k" + strconv.Itoa(i%4) + " " + strconv.Itoa(i); out.got[i] != want {
			t.Fatalf("line %d: got %q, want %q", i, out.got[i], want)
		}
	}
	if len(out.seen) != 12 {
		t.Fatalf("Emit called %d times, want 12", len(out.seen))
	}
}

// TestDrainAbandonDropsQueued: abandoning a partition drops what is
// queued behind the command under way, which finishes.
func TestDrainAbandonDropsQueued(t *testing.T) {
	out := &recordingOutput{}
	r, err := New(context.Background(), Options{Command: `echo "$STREAMCTL_OFFSET"`, Output: out, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	tp := consume.TopicPartition{Topic: "t", Partition: 0}
	for i := range 10 {
		rec := &envelope.Record{Topic: "t", Offset: int64(i), Value: []byte("v")}
		if err := r.Process(context.Background(), consume.Message{Record: rec, Ticket: consume.Ticket{TopicPartition: tp, Offset: int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Drain(context.Background(), []consume.TopicPartition{tp}, true); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	defer out.mu.Unlock()
	for i, off := range out.seen {
		if off != int64(i) {
			t.Fatalf("emitted %v: want a prefix of 0-9 in order", out.seen)
		}
	}
	if len(out.seen) == 10 {
		t.Logf("all 10 ran before the drain (fast machine): nothing was left to drop")
	}
}
