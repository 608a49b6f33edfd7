package produce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamctl/streamctl/internal/kafkatest"
)

// fakeCluster is an in-process broker with topic "t" of parts partitions,
// and a sarama client to it; both close at cleanup.
func fakeCluster(t *testing.T, parts int32) (*kfake.Cluster, sarama.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	conf := kafkatest.Config()
	conf.Net.MaxOpenRequests = defaultMaxInFlight
	client, err := sarama.NewClient(c.ListenAddrs(), conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return c, client
}

// answerProduce makes the broker answer the next n produce requests
// itself, writing nothing: code for the partitions pick selects,
// NOT_LEADER_OR_FOLLOWER (sent again) for the others. n < 0 answers every
// request.
func answerProduce(c *kfake.Cluster, n int, pick func(int32) bool, code int16) *atomic.Int32 {
	var seen atomic.Int32
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if k := seen.Add(1); n >= 0 && int(k) >= n {
			c.DropControl() // after this one
		}
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				if pick(rp.Partition) {
					sp.ErrorCode = code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	return &seen
}

func batcherConfig(parts int32) BatchConfig {
	return BatchConfig{Topic: "t", Partitions: parts, Acks: sarama.WaitForAll, Version: sarama.V2_8_0_0,
		Idempotent: true, Retries: 5, RetryBackoff: 5 * time.Millisecond}
}

// keyedLines is n lines "key-i%k:value-i".
func keyedLines(n, k int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "key-%d:value-%d\n", i%k, i)
	}
	return b.String()
}

// readBack returns, per partition, the values in offset order, and where
// each value is as "partition offset".
func readBack(t *testing.T, client sarama.Client) (map[int32][]string, map[string]string) {
	t.Helper()
	addr := client.Brokers()[0].Addr()
	got := map[int32][]string{}
	where := map[string]string{}
	for _, r := range kafkatest.ReadAll(t, addr, "t") {
		got[r.Partition] = append(got[r.Partition], string(r.Value))
		if _, dup := where[string(r.Value)]; dup && len(r.Value) < 100 {
			t.Errorf("value %q written twice", r.Value)
		}
		where[string(r.Value)] = fmt.Sprintf("%d %d", r.Partition, r.Offset)
	}
	return got, where
}

// checkExactlyOnce says every one of n values was written once, each
// partition in input order, and offsets printed them in input order.
func checkExactlyOnce(t *testing.T, client sarama.Client, n int, offsets string) {
	t.Helper()
	got, where := readBack(t, client)
	total := 0
	for p, vs := range got {
		total += len(vs)
		last := -1
		for _, v := range vs {
			var i int
			fmt.Sscanf(v, "value-%d", &i)
			if i <= last {
				t.Errorf("partition %d: value-%d after value-%d", p, i, last)
			}
			last = i
		}
	}
	if total != n {
		t.Errorf("%d records written, want %d", total, n)
	}
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, where[fmt.Sprintf("value-%d", i)])
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(offsets, "\n"), "\n")); diff != "" {
		t.Errorf("offsets (-want +got):\n%s", diff)
	}
}

// TestBatcherRetriesMovedLeader: NOT_LEADER_OR_FOLLOWER twice, then the
// batches go again, with their sequence numbers: every record once, in
// order, offsets by input line.
func TestBatcherRetriesMovedLeader(t *testing.T) {
	// A retry sends the batch's bytes as they were, compressed or not.
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			c, client := fakeCluster(t, 3)
			seen := answerProduce(c, 2, func(int32) bool { return true }, kerr.NotLeaderForPartition.Code)
			cfg := batcherConfig(3)
			cfg.Compression = codec
			b, err := NewBatcher(context.Background(), client, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !b.Idempotent() {
				t.Fatal("no producer ID from kfake")
			}
			var out strings.Builder
			p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1, Offsets: &out})
			const n = 5000
			st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(keyedLines(n, 50))}}, b)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Stats{Sent: n, Acked: n}); st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			if seen.Load() < 2 {
				t.Errorf("%d produce requests refused, want 2", seen.Load())
			}
			checkExactlyOnce(t, client, n, out.String())
		})
	}
}

// TestBatcherRetriesLostConnection: the broker drops the connection on the
// first produce request; the batches go again on a new one.
func TestBatcherRetriesLostConnection(t *testing.T) {
	c, client := fakeCluster(t, 2)
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		return nil, errors.New("dropped"), true
	})
	b, err := NewBatcher(context.Background(), client, batcherConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1, Offsets: &out})
	const n = 3000
	st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(keyedLines(n, 7))}}, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Sent: n, Acked: n}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	checkExactlyOnce(t, client, n, out.String())
}

// TestBatcherFailsByLine: a partition refused for good (INVALID_RECORD)
// fails its records by input line; the other partition's are delivered,
// with idempotence (a new producer ID after the failure) and without.
func TestBatcherFailsByLine(t *testing.T) {
	for _, acks := range []sarama.RequiredAcks{sarama.WaitForAll, sarama.WaitForLocal} {
		t.Run(fmt.Sprint(acks), func(t *testing.T) {
			c, client := fakeCluster(t, 2)
			c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				pr := req.(*kmsg.ProduceRequest)
				for _, rt := range pr.Topics {
					for _, rp := range rt.Partitions {
						if rp.Partition == 1 {
							resp := pr.ResponseKind().(*kmsg.ProduceResponse)
							st := kmsg.NewProduceResponseTopic()
							st.Topic = rt.Topic
							for _, rp := range rt.Partitions {
								sp := kmsg.NewProduceResponseTopicPartition()
								sp.Partition = rp.Partition
								sp.ErrorCode = kerr.InvalidRecord.Code
								if rp.Partition != 1 {
									// Sent again alone, and written then.
									sp.ErrorCode = kerr.NotLeaderForPartition.Code
								}
								st.Partitions = append(st.Partitions, sp)
							}
							resp.Topics = append(resp.Topics, st)
							return resp, nil, true
						}
					}
				}
				return nil, nil, false
			})
			cfg := batcherConfig(2)
			cfg.Acks = acks
			b, err := NewBatcher(context.Background(), client, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// -p-less keyed lines: key-0 and key-1 land on different
			// partitions of two.
			var in strings.Builder
			k0, k1 := "key-0", "key-1"
			if (Murmur2([]byte(k0))&0x7fffffff)%2 == (Murmur2([]byte(k1))&0x7fffffff)%2 {
				t.Fatal("pick other keys")
			}
			const n = 4000
			for i := 0; i < n; i++ {
				fmt.Fprintf(&in, "key-%d:value-%d\n", i%2, i)
			}
			p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1})
			st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(in.String())}}, b)
			if want := (Stats{Sent: n, Acked: n / 2, Failed: n / 2}); st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			var de *DeliveryError
			if !errors.As(err, &de) || len(de.Failures) != maxFailures {
				t.Fatalf("error %v, want a DeliveryError listing %d failures", err, maxFailures)
			}
			on1 := 1
			if (Murmur2([]byte(k0))&0x7fffffff)%2 == 1 {
				on1 = 0
			}
			for i, f := range de.Failures {
				if want := on1 + 1 + 2*i; f.Line != want || !errors.Is(f.Err, sarama.ErrInvalidRecord) {
					t.Errorf("failure %d: line %d (%v), want line %d: invalid record", i, f.Line, f.Err, want)
				}
			}
			got, _ := readBack(t, client)
			if len(got[1]) != 0 || len(got[0]) != n/2 {
				t.Errorf("partition 0 holds %d, partition 1 %d records; want %d and 0", len(got[0]), len(got[1]), n/2)
			}
		})
	}
}

// TestBatcherAcksNone: nothing comes back, so every record written counts
// as unacknowledged, with no offset to tell.
func TestBatcherAcksNone(t *testing.T) {
	_, client := fakeCluster(t, 2)
	cfg := batcherConfig(2)
	cfg.Acks = sarama.NoResponse
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	p := New(&Format{}, Options{Topic: "t", Partition: 1, Offsets: &out, NoAcks: true})
	st, err := p.Run(context.Background(), []Input{{R: strings.NewReader("a\nb\n")}}, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Sent: 2, Unacked: 2}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if got, want := out.String(), "1 -1\n1 -1\n"; got != want {
		t.Errorf("offsets %q, want %q", got, want)
	}
}

// TestBatcherBatchLimit: no batch exceeds max.message.bytes, and a record
// larger than the batch size goes alone.
func TestBatcherBatchLimit(t *testing.T) {
	c, client := fakeCluster(t, 1)
	var over, largest atomic.Int64 // control functions run one at a time
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, rt := range req.(*kmsg.ProduceRequest).Topics {
			for _, rp := range rt.Partitions {
				n := int64(len(rp.Records))
				if n > 20000 {
					over.Add(1)
				}
				largest.Store(max(largest.Load(), n))
			}
		}
		return nil, nil, false
	})
	cfg := batcherConfig(1)
	cfg.MaxMessageBytes = 20000
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 999) + "\n"
	p := New(&Format{}, Options{Topic: "t", Partition: -1})
	in := strings.Repeat(line, 500) + strings.Repeat("y", 30000) + "\n" + strings.Repeat(line, 10)
	st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(in)}}, b)
	if err != nil {
		t.Fatal(err)
	}
	if st.Acked != 511 {
		t.Errorf("stats %+v, want 511 acknowledged", st)
	}
	if o, l := over.Load(), largest.Load(); o != 1 || l > 30200 {
		t.Errorf("%d batches over max.message.bytes, the largest %d bytes; want only the 30000-byte record's, alone", o, l)
	}
	got, _ := readBack(t, client)
	if len(got[0]) != 511 || got[0][500] != strings.Repeat("y", 30000) {
		t.Errorf("%d records, want 511 with the large one at 500", len(got[0]))
	}
}

// sentBatch is a partition's batch as the broker received it.
type sentBatch struct {
	pid int64
	seq int32
	n   int32
}

// failNthProduce makes the broker refuse, with code and writing nothing,
// the nth produce request (1-based); it handles every other itself. It
// records each produce request's batch of partition 0, in arrival order.
func failNthProduce(t *testing.T, c *kfake.Cluster, nth int32, code int16) func() []sentBatch {
	t.Helper()
	var (
		seen int32 // control functions run one at a time
		sent []sentBatch
	)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		seen++
		pr := req.(*kmsg.ProduceRequest)
		for _, rt := range pr.Topics {
			for _, rp := range rt.Partitions {
				var rb kmsg.RecordBatch
				if rp.Partition != 0 || rb.ReadFrom(rp.Records) != nil {
					continue
				}
				sent = append(sent, sentBatch{pid: rb.ProducerID, seq: rb.FirstSequence, n: rb.NumRecords})
			}
		}
		if seen != nth {
			return nil, nil, false
		}
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	// Read after the run: the cluster calls no control function then.
	return func() []sentBatch { return sent }
}

// TestBatcherRetriesInFlight: with several batches of a partition in
// flight, the broker refuses the second (NOT_LEADER_OR_FOLLOWER) and so
// the later ones as out of order; they all go again, in order, with their
// sequence numbers: every record once, in input order, offsets by line.
func TestBatcherRetriesInFlight(t *testing.T) {
	c, client := fakeCluster(t, 1)
	sent := failNthProduce(t, c, 2, kerr.NotLeaderForPartition.Code)
	cfg := batcherConfig(1)
	cfg.MaxMessageBytes = 4 << 10 // many batches, several in flight at once
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1, Offsets: &out})
	const n = 5000
	st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(keyedLines(n, 10))}}, b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Sent: n, Acked: n}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	checkExactlyOnce(t, client, n, out.String())

	// The broker saw batches after the refused one before its retry (so
	// they were in flight together), and the retry kept its sequence.
	bs := sent()
	if len(bs) < 3 {
		t.Fatalf("%d batches sent, want more", len(bs))
	}
	refused := bs[1]
	var resent, overtaken bool
	for _, s := range bs[2:] {
		if s.seq > refused.seq && !resent {
			overtaken = true
		}
		if s == refused {
			resent = true
		}
	}
	if !overtaken || !resent {
		t.Errorf("batches sent %v: want later ones before the refused %v, then it again", bs, refused)
	}
}

// TestBatcherFailsInFlight: the broker refuses the second of several
// batches of a partition in flight for good (INVALID_RECORD). Its records
// fail by line; the later batches, refused as out of order, go again
// under a new producer ID: every other record once, in input order.
func TestBatcherFailsInFlight(t *testing.T) {
	c, client := fakeCluster(t, 1)
	sent := failNthProduce(t, c, 2, kerr.InvalidRecord.Code)
	cfg := batcherConfig(1)
	cfg.MaxMessageBytes = 4 << 10
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1, Offsets: &out})
	const n = 5000
	st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(keyedLines(n, 10))}}, b)
	bs := sent()
	if len(bs) < 3 {
		t.Fatalf("%d batches sent, want more", len(bs))
	}
	refused := bs[1]
	if want := (Stats{Sent: n, Acked: n - int64(refused.n), Failed: int64(refused.n)}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	// The refused batch holds the lines after the first batch's.
	first := int(bs[0].n)
	var de *DeliveryError
	if !errors.As(err, &de) || len(de.Failures) == 0 {
		t.Fatalf("error %v, want a DeliveryError", err)
	}
	for i, f := range de.Failures {
		if want := first + 1 + i; f.Line != want || !errors.Is(f.Err, sarama.ErrInvalidRecord) {
			t.Errorf("failure %d: line %d (%v), want line %d: invalid record", i, f.Line, f.Err, want)
		}
	}
	if bs[len(bs)-1].pid == refused.pid {
		t.Errorf("last batch sent with producer ID %d, want a new one", refused.pid)
	}

	got, where := readBack(t, client)
	var want, offsets []string
	for i := 0; i < n; i++ {
		if i >= first && i < first+int(refused.n) {
			offsets = append(offsets, "-1 -1 ERROR")
			continue
		}
		want = append(want, fmt.Sprintf("value-%d", i))
		offsets = append(offsets, where[fmt.Sprintf("value-%d", i)])
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("partition 0 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(offsets, strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")); diff != "" {
		t.Errorf("offsets (-want +got):\n%s", diff)
	}
}

// closeOnWrite is an Offsets writer that closes the cluster at the first
// acknowledgement, in its own goroutine (the Batcher's loop writes).
type closeOnWrite struct {
	c    *kfake.Cluster
	once sync.Once
}

func (w *closeOnWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { go w.c.Close() })
	return len(p), nil
}

// TestBatcherDeliveryTimeout: the broker goes away while lines keep
// coming. The records not acknowledged fail by line once their delivery
// timeout has passed, naming the last error; reading stops there, and the
// run ends although the input never does.
func TestBatcherDeliveryTimeout(t *testing.T) {
	c, client := fakeCluster(t, 2)
	cfg := batcherConfig(2)
	cfg.Retries = 0 // bounded by the delivery timeout alone
	cfg.DeliveryTimeout = time.Second
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(pw, "line-%d\n", i); err != nil {
				return // the reader is closed: the test is over
			}
		}
	}()
	t.Cleanup(func() { pr.Close() })
	p := New(&Format{}, Options{Topic: "t", Partition: -1, Offsets: &closeOnWrite{c: c}})
	type outcome struct {
		st  Stats
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		st, err := p.Run(context.Background(), []Input{{R: pr}}, b)
		done <- outcome{st, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second): // a bound on a hang, not a wait
		t.Fatal("the run did not end after the broker went away")
	}
	st := o.st
	if !st.TimedOut || !st.StoppedReading || st.Interrupted || st.Acked == 0 || st.Failed == 0 || st.Acked+st.Failed != st.Sent {
		t.Errorf("stats %+v: want some acknowledged, the rest failed, timed out", st)
	}
	var de *DeliveryError
	if !errors.As(o.err, &de) || len(de.Failures) == 0 {
		t.Fatalf("error %v, want a DeliveryError", o.err)
	}
	for _, f := range de.Failures {
		var te *DeliveryTimeoutError
		if !errors.As(f.Err, &te) || te.After != time.Second || te.Last == nil {
			t.Errorf("line %d: %v, want a delivery timeout after 1s with its cause", f.Line, f.Err)
		}
	}
	if !strings.Contains(o.err.Error(), "stopped reading at the delivery timeout") {
		t.Errorf("error %q: want it to say reading stopped", o.err)
	}
}

// TestBatcherWaitsOutBackoff: a batch formed while its partition waits out
// a retry backoff goes once the backoff is over, though the input has
// ended and nothing else wakes the loop.
func TestBatcherWaitsOutBackoff(t *testing.T) {
	c, client := fakeCluster(t, 1)
	answerProduce(c, 1, func(int32) bool { return true }, kerr.NotLeaderForPartition.Code)
	cfg := batcherConfig(1)
	cfg.RetryBackoff = 50 * time.Millisecond
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Two reads: the first line goes alone and is refused; the second
	// forms an open batch during the backoff, and then the input ends.
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprintln(pw, "a")
		fmt.Fprintln(pw, "b")
		pw.Close()
	}()
	p := New(&Format{}, Options{Topic: "t", Partition: -1})
	done := make(chan Stats, 1)
	go func() {
		st, _ := p.Run(context.Background(), []Input{{R: pr}}, b)
		done <- st
	}()
	select {
	case st := <-done:
		if want := (Stats{Sent: 2, Acked: 2}); st != want {
			t.Errorf("stats %+v, want %+v", st, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not end")
	}
}

// TestBatcherSequenceWraps: sequence numbers wrap to 0 after 2^31-1, as
// Kafka's DefaultRecordBatch.incrementSequence does, never to negative.
func TestBatcherSequenceWraps(t *testing.T) {
	b := &Batcher{pid: producerID{id: 7, epoch: 1}, parts: make([]partState, 1)}
	b.parts[0].nextSeq = math.MaxInt32 - 1
	var firsts []int32
	for range 3 {
		bt := &batch{buf: make([]byte, rbHeaderLen), count: 5}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b.recordBatch(bt)); err != nil {
			t.Fatal(err)
		}
		firsts = append(firsts, rb.FirstSequence)
	}
	if want := []int32{math.MaxInt32 - 1, 3, 8}; !slices.Equal(firsts, want) {
		t.Errorf("first sequences %v, want %v", firsts, want)
	}
	if got := b.parts[0].nextSeq; got != 13 {
		t.Errorf("next sequence %d, want 13", got)
	}
}

// TestAnswersByPartition: each batch gets its own partition's answer, of
// its topic, whatever order the broker answers in; a partition left out
// has none (and its batch goes again, as an incomplete response).
func TestAnswersByPartition(t *testing.T) {
	resp := kmsg.NewPtrProduceResponse()
	for _, topic := range []string{"other", "t"} {
		rt := kmsg.ProduceResponseTopic{Topic: topic}
		for _, p := range []int32{2, 0} {
			rt.Partitions = append(rt.Partitions, kmsg.ProduceResponseTopicPartition{Partition: p, BaseOffset: int64(p) * 10,
				ErrorCode: int16(len(topic))})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	got := answers(resp, "t", []*batch{{partition: 0}, {partition: 1}, {partition: 2}})
	if got[0] == nil || got[0].BaseOffset != 0 || got[0].ErrorCode != 1 || got[1] != nil ||
		got[2] == nil || got[2].BaseOffset != 20 || got[2].ErrorCode != 1 {
		t.Errorf("answers %+v, want partition 0's and 2's of topic t, none for 1", got)
	}
	if got := answers(nil, "t", []*batch{{partition: 0}}); got != nil {
		t.Errorf("answers of no response %v, want none", got)
	}
}
