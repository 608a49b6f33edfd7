package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/envelope"
)

// lockedBuffer is a writer the agent's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lineValue is record off of partition p, naming itself: about size
// bytes.
func lineValue(p, off, size int) string {
	return fmt.Sprintf("p%d-o%d-%s", p, off, strings.Repeat("x", size-10))
}

// feed hands r n records of each of parts partitions, as deliveries of
// per records of one partition each, flushing after each delivery as
// consume does, and returns the values in the order handed over.
func feed(t *testing.T, r *Runner, parts, n, per, size int) []string {
	t.Helper()
	var want []string
	for start := 0; start < n; start += per {
		for p := range parts {
			tp := consume.TopicPartition{Topic: "t", Partition: int32(p)}
			for off := start; off < min(start+per, n); off++ {
				v := lineValue(p, off, size)
				rec := &envelope.Record{Topic: "t", Partition: int32(p), Offset: int64(off), Key: []byte(fmt.Sprint(off % 7)), Value: []byte(v)}
				m := consume.Message{Record: rec, RawValue: []byte(v), Ticket: consume.Ticket{TopicPartition: tp, Offset: int64(off)}}
				if err := r.Process(context.Background(), m); err != nil {
					t.Fatal(err)
				}
				want = append(want, v)
			}
			if err := r.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return want
}

// drain waits for every record to settle, failing after a minute: a
// record left unacknowledged (a line lost or garbled) would hang the test.
func drain(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Drain(ctx, nil, false); err != nil {
		_ = r.Close() // EOF on the commands' stdin ends them
		t.Fatalf("records left unsettled: %v", err)
	}
}

// seenLines returns the lines the agents echoed to stderr ("agent N: "
// prefixes cut), per agent, in the order each saw them.
func seenLines(stderr string) map[string][]string {
	seen := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		agent, line, ok := strings.Cut(l, ": ")
		if ok && strings.HasPrefix(agent, "agent ") {
			seen[agent] = append(seen[agent], line)
		}
	}
	return seen
}

// sameSet fails unless got holds exactly the lines of want, in any order.
func sameSet(t *testing.T, got, want []string) {
	t.Helper()
	g, w := append([]string{}, got...), append([]string{}, want...)
	sort.Strings(g)
	sort.Strings(w)
	if len(g) != len(w) {
		t.Fatalf("the commands saw %d lines, want %d", len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("the commands saw %q where %q was due (lines are sorted)", g[i], w[i])
		}
	}
}

// TestLineModeManyRecordsReachTheCommandIntact: thousands of records over
// three partitions and two commands (past a batch and a slab many times
// over, so items and slabs are reused) each reach a command once, with
// their own bytes, each partition's in order, and all settle.
func TestLineModeManyRecordsReachTheCommandIntact(t *testing.T) {
	stderr := &lockedBuffer{}
	r, err := New(context.Background(), Options{Command: `while read -r l; do echo "$l" >&2; echo ok; done`, Mode: Line,
		Concurrency: 2, Stdout: io.Discard, Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	want := feed(t, r, 3, 2000, 700, 100)
	drain(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var all []string
	for agent, lines := range seenLines(stderr.String()) {
		next := map[string]int{}
		for _, l := range lines {
			var p, off int
			if _, err := fmt.Sscanf(l, "p%d-o%d-", &p, &off); err != nil {
				t.Fatalf("%s saw %q: %v", agent, l, err)
			}
			k := fmt.Sprint(p)
			if off != next[k] {
				t.Fatalf("%s saw offset %d of partition %d, want %d next", agent, off, p, next[k])
			}
			next[k]++
		}
		all = append(all, lines...)
	}
	sameSet(t, all, want)
}

// TestLineModeAcknowledgementsAheadOfLines: a command that answers ahead
// of what it read (900 "ok" after the first line of a first delivery of
// 1024 lines of 1000 bytes, far more than a pipe holds) settles records
// whose lines are not written yet, while more records come (reusing what
// settled); each line still reaches it whole.
func TestLineModeAcknowledgementsAheadOfLines(t *testing.T) {
	stderr := &lockedBuffer{}
	cmd := `read -r l; echo "$l" >&2; i=0; while [ $i -lt 900 ]; do echo ok; i=$((i+1)); done
	  n=1; while read -r l; do echo "$l" >&2; n=$((n+1)); if [ $n -gt 900 ]; then echo ok; fi; done`
	r, err := New(context.Background(), Options{Command: cmd, Mode: Line, Stdout: io.Discard, Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	want := feed(t, r, 1, 4000, 1024, 1000)
	drain(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	sameSet(t, seenLines(stderr.String())["agent 0"], want)
}

// recordingDeadLetters keeps the values sent to it.
type recordingDeadLetters struct {
	mu     sync.Mutex
	values []string
}

func (d *recordingDeadLetters) Send(_ context.Context, m DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.values = append(d.values, string(m.Value))
	return nil
}

// TestLineModeRetriesAndDeadLetters: records a command fails once are
// written to it again and then succeed; those it always fails go to the
// dead letters, with their own values; every record settles.
func TestLineModeRetriesAndDeadLetters(t *testing.T) {
	stderr := &lockedBuffer{}
	dl := &recordingDeadLetters{}
	// Offsets ending in 00 fail once, those ending in 50 always.
	cmd := `while read -r l; do echo "$l" >&2
	  case "$l" in
	    *-o*50-*) echo never ;;
	    *-o*00-*) if grep -qxF "$l" seen 2>/dev/null; then echo ok; else echo "$l" >>seen; echo again; fi ;;
	    *) echo ok ;;
	  esac; done`
	r, err := New(context.Background(), Options{Command: "cd " + t.TempDir() + " && " + cmd, Mode: Line, Retries: 1,
		Backoff: 1, DeadLetters: dl, Stdout: io.Discard, Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	want := feed(t, r, 2, 1200, 400, 100)
	drain(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	var again, dead []string
	for _, v := range want {
		var p, off int
		fmt.Sscanf(v, "p%d-o%d-", &p, &off)
		switch {
		case off%100 == 50:
			again, dead = append(again, v), append(dead, v)
		case off%100 == 0 && off > 0:
			again = append(again, v)
		}
	}
	sameSet(t, seenLines(stderr.String())["agent 0"], append(append([]string{}, want...), again...))
	dl.mu.Lock()
	defer dl.mu.Unlock()
	sameSet(t, dl.values, dead)
}
