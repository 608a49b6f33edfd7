package consume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/format"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kfake"
)

// groupConfig is the sarama configuration cmd uses for a group member,
// with the retry back-offs of a test.
func groupConfig() *sarama.Config {
	conf := kafkatest.Config()
	conf.Consumer.Return.Errors = true
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.AutoCommit.Enable = true
	conf.Consumer.Offsets.AutoCommit.Interval = time.Second
	conf.Consumer.Group.Rebalance.Timeout = 30 * time.Second
	conf.ChannelBufferSize = 1024
	return conf
}

func groupClient(t *testing.T, addr string, conf *sarama.Config) sarama.Client {
	t.Helper()
	c, err := sarama.NewClient([]string{addr}, conf)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// gatedWriter is a slow reader of the output: each write takes time in
// proportion to its size (about 1 MB/s), so that the loop's queue is never
// empty while it writes. It counts the lines it took per partition, from
// a "%p %o %s\n" format.
type gatedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	delay time.Duration // per KiB
}

func (w *gatedWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Duration(len(p)/1024) * w.delay)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *gatedWriter) lines() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Count(w.buf.Bytes(), []byte("\n"))
}

// perPartition counts the lines written of each partition, failing t on
// a repeated or missing offset.
func (w *gatedWriter) perPartition(t *testing.T) map[int32]int64 {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int32]int64{}
	for _, line := range strings.Split(strings.TrimSpace(w.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var p int32
		var o int64
		if _, err := fmt.Sscanf(line, "%d %d", &p, &o); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if o != out[p] {
			t.Fatalf("partition %d: offset %d printed after %d records", p, o, out[p])
		}
		out[p]++
	}
	return out
}

// committedOffsets asks the group's coordinator for its committed offsets
// of topic's partitions 0..n-1 (-1: none; nothing at all before the group
// exists).
func committedOffsets(t *testing.T, addr, group, topic string, n int32) map[int32]int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	var parts []int32
	for p := int32(0); p < n; p++ {
		parts = append(parts, p)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	out := map[int32]int64{}
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return out // not yet created
	}
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < n; p++ {
		b := resp.GetBlock(topic, p)
		if b == nil || !errors.Is(b.Err, sarama.ErrNoError) {
			t.Fatalf("committed offset of %s/%d: %v", topic, p, b)
		}
		out[p] = b.Offset
	}
	return out
}

func seedCluster(t *testing.T, brokers int, partitions int32, perPartition int) (*kfake.Cluster, string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(brokers), kfake.SeedTopics(partitions, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	val := bytes.Repeat([]byte("v"), 100)
	var seed []kafkatest.Message
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < perPartition; i++ {
			seed = append(seed, kafkatest.Message{Partition: p, Value: val})
		}
	}
	kafkatest.Produce(t, addr, "t", seed...)
	return c, addr
}

// TestGroupStopCommitsWhatWasWritten: however a group member stops, with a
// slow reader holding its output up, the group's committed offsets are
// exactly what reached the output: nothing printed is read again by the
// next member, nothing unprinted is skipped. (A stop by cancel once
// ended the session before the last flush was marked.)
func TestGroupStopCommitsWhatWasWritten(t *testing.T) {
	const parts, per = 3, 3000
	for _, tc := range []struct {
		name   string
		o      Options
		cancel bool // stop by ctx once some output was written
	}{
		{name: "cancel", cancel: true},
		{name: "num", o: Options{Num: 4000}},
		{name: "exit", o: Options{Exit: true}},
		{name: "idle", o: Options{Num: parts*per + 1, IdleTimeout: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := seedCluster(t, 1, parts, per)
			tmpl, err := format.ParseTemplate(`%p %o %s\n`)
			if err != nil {
				t.Fatal(err)
			}
			o := tc.o
			o.Topics, o.Group, o.Format = []string{"t"}, "g", tmpl
			w := &gatedWriter{delay: time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			done := make(chan error, 1)
			go func() {
				_, err := Run(runCtx, groupClient(t, addr, groupConfig()), o, w)
				done <- err
			}()
			if tc.cancel {
				for w.lines() < 1000 {
					if ctx.Err() != nil {
						t.Fatal("nothing written")
					}
					time.Sleep(5 * time.Millisecond)
				}
				stop()
			}
			select {
			case err := <-done:
				var te *TimeoutError
				if err != nil && !errors.As(err, &te) {
					t.Fatalf("Run: %v", err)
				}
			case <-ctx.Done():
				t.Fatal("Run did not stop")
			}
			written := w.perPartition(t)
			committed := committedOffsets(t, addr, "g", "t", parts)
			total := 0
			for p := int32(0); p < parts; p++ {
				total += int(written[p])
				if committed[p] != written[p] {
					t.Errorf("partition %d: committed %d, wrote %d", p, committed[p], written[p])
				}
			}
			if tc.o.Num > 0 && tc.o.Num <= parts*per && total != tc.o.Num {
				t.Errorf("wrote %d, want -n %d", total, tc.o.Num)
			}
		})
	}
}

// TestGroupCommitsWhileOutputIsBackedUp: a slow reader keeps the loop's
// queue full all the time; what was written is still committed as it goes,
// not only once the queue runs dry (which with a slow reader is never, so
// a crash or a restart printed everything again).
func TestGroupCommitsWhileOutputIsBackedUp(t *testing.T) {
	const parts, per = 3, 6000
	_, addr := seedCluster(t, 1, parts, per)
	tmpl, err := format.ParseTemplate(`%p %o %s\n`)
	if err != nil {
		t.Fatal(err)
	}
	w := &gatedWriter{delay: 2 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := Run(runCtx, groupClient(t, addr, groupConfig()), Options{Topics: []string{"t"}, Group: "g", Format: tmpl}, w)
		done <- err
	}()
	for {
		sum := int64(0)
		for _, off := range committedOffsets(t, addr, "g", "t", parts) {
			sum += max(off, 0)
		}
		if sum > 0 {
			t.Logf("committed %d with %d of %d written", sum, w.lines(), parts*per)
			break
		}
		if w.lines() == parts*per {
			t.Fatal("nothing was committed while the output was backed up")
		}
		if ctx.Err() != nil {
			t.Fatal("nothing committed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	written, committed := w.perPartition(t), committedOffsets(t, addr, "g", "t", parts)
	for p := int32(0); p < parts; p++ {
		if committed[p] != written[p] {
			t.Errorf("partition %d: committed %d, wrote %d", p, committed[p], written[p])
		}
	}
}
