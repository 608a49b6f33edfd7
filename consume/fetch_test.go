package consume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/format"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// slowWriter holds the loop up in proportion to what it writes, so that
// fetched records queue up while leaders move.
type slowWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(time.Duration(len(p)/16384) * time.Millisecond)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *slowWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestFetchSurvivesLeaderMoves: partition 0's leader moves again and again
// while records arrive and a slow reader prints them. The fetch loops of
// the other partitions' leaders regroup each time; no record of any
// partition may be lost or printed twice (a regrouping once dropped the
// records a loop had fetched but not yet handed over).
func TestFetchSurvivesLeaderMoves(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	val := bytes.Repeat([]byte("v"), 1000)
	var seed []kafkatest.Message
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 3000; i++ {
			seed = append(seed, kafkatest.Message{Partition: p, Value: val})
		}
	}
	kafkatest.Produce(t, addr, "t", seed...)

	// Keep producing for two seconds, and keep moving partition 0.
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		// Partition 0 moves every 15 ms: the producer needs more than
		// sarama's three retries to follow it (it ran out under load).
		conf := kafkatest.Config()
		conf.Producer.Retry.Max = 100
		conf.Producer.Retry.Backoff = 20 * time.Millisecond
		prod, err := sarama.NewSyncProducer([]string{addr}, conf)
		if err != nil {
			t.Error(err)
			return
		}
		defer prod.Close()
		for start := time.Now(); time.Since(start) < 2*time.Second; {
			var batch []*sarama.ProducerMessage
			for p := int32(0); p < 3; p++ {
				for i := 0; i < 20; i++ {
					batch = append(batch, &sarama.ProducerMessage{Topic: "t", Partition: p, Value: sarama.ByteEncoder(val)})
				}
			}
			if err := prod.SendMessages(batch); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 100; i++ {
			time.Sleep(15 * time.Millisecond)
			_ = c.MoveTopicPartition("t", 0, (c.LeaderFor("t", 0)+1)%3)
		}
	}()

	tmpl, err := format.ParseTemplate(`%p %o %s\n`)
	if err != nil {
		t.Fatal(err)
	}
	w := &slowWriter{}
	var warns []string
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, err = Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Format: tmpl, IdleTimeout: 3 * time.Second,
		Warn: func(s string) { warns = append(warns, s) }}, w)
	wg.Wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(warns) == 0 {
		t.Error("no fetch loop ever regrouped; the test proves little")
	}
	ends := map[int32]int64{}
	for p := int32(0); p < 3; p++ {
		if ends[p], err = kafkatest.Client(t, addr).GetOffset("t", p, sarama.OffsetNewest); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(w.String()), "\n") {
		f := strings.Fields(line)
		seen[f[0]+" "+f[1]]++
	}
	for p := int32(0); p < 3; p++ {
		for o := int64(0); o < ends[p]; o++ {
			if n := seen[fmt.Sprintf("%d %d", p, o)]; n != 1 {
				t.Fatalf("partition %d offset %d (of %d) printed %d times, want once", p, o, ends[p], n)
			}
		}
	}
}

// TestFetchGivesUpWhenTheBrokersAreGone: a follower whose cluster went away
// fails (exit 1 in the CLI) instead of retrying for ever.
func TestFetchGivesUpWhenTheBrokersAreGone(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	addr := c.ListenAddrs()[0]
	kafkatest.Produce(t, addr, "t", kafkatest.Message{Value: []byte("x")})
	conf := kafkatest.Config()
	conf.Net.DialTimeout = 200 * time.Millisecond
	conf.Metadata.Retry.Max = 0
	client, err := sarama.NewClient([]string{addr}, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	w := &slowWriter{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, client, Options{Topics: []string{"t"}, GiveUp: 2 * time.Second, Warn: func(string) {}}, w)
		done <- err
	}()
	for w.String() == "" { // the first record, before pulling the plug
		if ctx.Err() != nil {
			t.Fatal("nothing consumed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no broker has answered") {
			t.Fatalf("Run = %v, want it to give up on the brokers", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not give up")
	}
}

// TestStartSurvivesLeaderMoves: every partition's leader moves after the
// client learnt the leaders and before consuming starts (a rolling
// restart), so the first offset lookups go to brokers that no longer lead;
// start-up asks again where the partitions are and goes on, in a group and
// outside one, with each start position (the time lookup included).
func TestStartSurvivesLeaderMoves(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		start Offset
	}{
		{"direct", "", Offset{Kind: Start}},
		{"direct-time", "", Offset{Kind: AtTime, Time: time.UnixMilli(1)}},
		{"group", "g", Offset{Kind: Start}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, "t"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			addr := c.ListenAddrs()[0]
			var seed []kafkatest.Message
			for p := int32(0); p < 3; p++ {
				seed = append(seed, kafkatest.Message{Partition: p, Value: []byte(fmt.Sprint(p))})
			}
			kafkatest.Produce(t, addr, "t", seed...)
			client := kafkatest.Client(t, addr)
			if _, err := client.Partitions("t"); err != nil {
				t.Fatal(err)
			}
			for p := int32(0); p < 3; p++ {
				if err := c.MoveTopicPartition("t", p, (c.LeaderFor("t", p)+1)%3); err != nil {
					t.Fatal(err)
				}
			}
			// And each kind of lookup (oldest, end, time) is told twice
			// more that the broker does not lead: the group looks the
			// leaders up anew before its offsets, and sarama's GetOffset
			// retries once by itself.
			var mu sync.Mutex
			failed := map[int64]int{}
			c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				lr := req.(*kmsg.ListOffsetsRequest)
				ts := lr.Topics[0].Partitions[0].Timestamp
				mu.Lock()
				defer mu.Unlock()
				if failed[ts] >= 2 {
					return nil, nil, false
				}
				failed[ts]++
				return refusedListOffsets(lr, func(int32) int16 { return kerr.NotLeaderForPartition.Code }), nil, true
			})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var out strings.Builder
			st, err := Run(ctx, client, Options{Topics: []string{"t"}, Group: tc.group, Start: tc.start, Exit: true, GiveUp: 30 * time.Second}, &out)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if st.Written != 3 {
				t.Fatalf("wrote %d records (%q), want 3", st.Written, out.String())
			}
			mu.Lock()
			defer mu.Unlock()
			if failed[sarama.OffsetOldest] < 2 || failed[sarama.OffsetNewest] < 2 || (tc.start.Kind == AtTime && failed[1] < 2) {
				t.Errorf("lookups refused: %v; the test proves little", failed)
			}
		})
	}
}

// TestDeadline: Options.Deadline stops the run at the instant the caller
// chose, start-up included, and says what it cut short.
func TestDeadline(t *testing.T) {
	c, addr := seedCluster(t, 1, 1, 0)
	kafkatest.Produce(t, addr, "t", kafkatest.Message{Value: []byte("x")})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	_, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Num: 5, Deadline: time.Now().Add(300 * time.Millisecond)}, &out)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Idle || te.Starting || te.Written != 1 || te.Num != 5 {
		t.Fatalf("Run = %#v, want a deadline after 1 of 5", err)
	}
	// Offsets that cannot be looked up: start-up retries until the deadline.
	c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, errors.New("dropped"), true
	})
	_, err = Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Exit: true, Deadline: time.Now().Add(500 * time.Millisecond)}, &out)
	if !errors.As(err, &te) || !te.Starting {
		t.Fatalf("Run = %#v, want a deadline before consuming began", err)
	}
}

// TestStopInterruptsAFetchInFlight: once -n is reached, Run returns
// without waiting for the broker to answer the fetch in flight: a long
// poll on a quiet partition held every `consume -n 1` for the fetch's
// 250 ms wait. Here the records are on one broker and the other broker,
// leader of a quiet partition, never answers its fetch (until the test
// ends), and Run must still return, with no goroutine of its own left.
// Before, Run waited for that answer.
func TestStopInterruptsAFetchInFlight(t *testing.T) {
	for _, group := range []string{"", "g"} {
		t.Run("group="+group, func(t *testing.T) {
			c, addr := seedCluster(t, 2, 2, 0)
			for p := int32(0); p < 2; p++ {
				if err := c.MoveTopicPartition("t", p, p); err != nil {
					t.Fatal(err)
				}
			}
			kafkatest.Produce(t, addr, "t", kafkatest.Message{Partition: 0, Value: []byte("a")})
			held := make(chan struct{})
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // before the cluster closes
			var once sync.Once
			c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				for _, tp := range req.(*kmsg.FetchRequest).Topics {
					for _, p := range tp.Partitions {
						if p.Partition == 1 {
							once.Do(func() { close(held) })
							c.SleepControl(func() { <-release })
						}
					}
				}
				return nil, nil, false
			})
			client := groupClient(t, addr, groupConfig())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				// The first record is written only once the quiet
				// partition's fetch is held at the broker, so that it is
				// in flight at the stop.
				_, err := Run(ctx, client, Options{Topics: []string{"t"}, Group: group, Num: 1}, &heldWriter{held: held})
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Run is still waiting for the fetch in flight")
			}
			if left := ownGoroutines(); len(left) > 0 {
				t.Errorf("%d goroutines outlived Run:\n%s", len(left), strings.Join(left, "\n\n"))
			}
		})
	}
}

// TestNumFetchesNoMoreThanItPrints: with -n, a fetch waits while the
// records already fetched and not yet handled make up the count: `-n 1`
// sends one Fetch request, not a second one (of a megabyte) while its
// record is being written. The output holds the one record back until the
// fetcher waits, or a second Fetch came (as it did before: the test
// failed with 2 fetches).
func TestNumFetchesNoMoreThanItPrints(t *testing.T) {
	for _, group := range []string{"", "g"} {
		t.Run("group="+group, func(t *testing.T) {
			c, addr := seedCluster(t, 1, 3, 20)
			var fetches atomic.Int32
			c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				fetches.Add(1)
				return nil, nil, false
			})
			w := &gateWriter{open: func() bool {
				return fetches.Load() >= 2 || slices.ContainsFunc(goroutineStacks(), func(g string) bool {
					return strings.Contains(g, "consume.(*demand).await")
				})
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st, err := Run(ctx, groupClient(t, addr, groupConfig()), Options{Topics: []string{"t"}, Group: group, Num: 1}, w)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if st.Written != 1 || w.buf.Len() == 0 {
				t.Fatalf("wrote %d records (%q), want 1", st.Written, w.buf.String())
			}
			if got := fetches.Load(); got != 1 {
				t.Errorf("%d Fetch requests for -n 1, want 1", got)
			}
		})
	}
}

// TestNumFetchesOnPastFilteredRecords: records a filter leaves out are
// handled without counting toward -n, so the fetching goes on past them
// until the count is printed: the first fetch brings a batch of records
// the filter leaves out, the one it matches is in the next batch.
func TestNumFetchesOnPastFilteredRecords(t *testing.T) {
	_, addr := seedCluster(t, 1, 1, 0)
	var skipped []kafkatest.Message
	for i := 0; i < 200; i++ { // more than the first fetch's 16 KB
		skipped = append(skipped, kafkatest.Message{Value: bytes.Repeat([]byte("x"), 100)})
	}
	kafkatest.Produce(t, addr, "t", skipped...)
	kafkatest.Produce(t, addr, "t", kafkatest.Message{Value: []byte("hit")})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	st, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Num: 1, Filter: valueIs("hit")}, &out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := out.String(), "hit\n"; got != want || st.Seen != 201 {
		t.Errorf("got %q after %d judged, want %q after 201", got, st.Seen, want)
	}
}

// valueIs is a Filter matching the messages whose value is its own.
type valueIs string

func (v valueIs) Raw(_ string, _, value []byte, _ []*sarama.RecordHeader) bool {
	return string(value) == string(v)
}
func (v valueIs) Decoded(*envelope.Record) (bool, error) { return true, nil }

// gateWriter takes its first write once open reports true, polling it.
type gateWriter struct {
	open func() bool
	buf  bytes.Buffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	for deadline := time.Now().Add(30 * time.Second); !w.open() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return w.buf.Write(p)
}

// heldWriter takes its first write only once held is closed; entered,
// if set, is closed when the first write comes.
type heldWriter struct {
	held, entered chan struct{}
	once          sync.Once
	buf           bytes.Buffer
}

func (w *heldWriter) Write(p []byte) (int, error) {
	if w.entered != nil {
		w.once.Do(func() { close(w.entered) })
	}
	<-w.held
	return w.buf.Write(p)
}
