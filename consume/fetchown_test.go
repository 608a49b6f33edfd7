package consume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/format"
	"github.com/streamctl/streamctl/internal/kafkaconn"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testValue is the value of record i of partition p: long enough, and
// different enough, that a buffer reused too early shows.
func testValue(p int32, i int) []byte {
	return []byte(fmt.Sprintf("p%d-i%d-%s", p, i, strings.Repeat(string(rune('a'+i%26)), 200+i%700)))
}

// sameLines fails t at the first line of got that is not want's.
func sameLines(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d:\n got %.80q\nwant %.80q", i, got[i], want[i])
		}
	}
}

// runLines consumes topic t of addr to its end with "%p %o %k %h %s" lines
// and returns them.
func runLines(t *testing.T, addr string, o Options) []string {
	t.Helper()
	tmpl, err := format.ParseTemplate(`%p %o %k %h %s\n`)
	if err != nil {
		t.Fatal(err)
	}
	o.Topics, o.Format, o.Exit = []string{"t"}, tmpl, true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	if _, err := Run(ctx, kafkatest.Client(t, addr), o, &out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// TestFetchCodecsEndToEnd: batches compressed with each codec, as sarama's
// producer writes them and as this test writes them (snappy framed the
// xerial way, as Java does, and as raw blocks), come out whole through
// the project's batch parser.
func TestFetchCodecsEndToEnd(t *testing.T) {
	for _, codec := range []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP, sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD} {
		t.Run("sarama-"+codec.String(), func(t *testing.T) {
			_, addr := seedCluster(t, 1, 1, 0)
			conf := kafkatest.Config()
			conf.Producer.Compression = codec
			prod, err := sarama.NewSyncProducer([]string{addr}, conf)
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			var batch []*sarama.ProducerMessage
			var want []string
			for i := 0; i < 500; i++ {
				m := &sarama.ProducerMessage{Topic: "t", Key: sarama.StringEncoder(fmt.Sprint("k", i)), Value: sarama.ByteEncoder(testValue(0, i))}
				h := ""
				if i%3 == 0 {
					m.Headers = []sarama.RecordHeader{{Key: []byte("n"), Value: []byte(fmt.Sprint(i))}}
					h = fmt.Sprintf("n=%d", i)
				}
				batch = append(batch, m)
				want = append(want, fmt.Sprintf("0 %d k%d %s %s", i, i, h, testValue(0, i)))
			}
			if err := prod.SendMessages(batch); err != nil {
				t.Fatal(err)
			}
			sameLines(t, runLines(t, addr, Options{}), want)
		})
	}
	for _, codec := range []string{"gzip", "snappy", "snappy-raw", "lz4", "zstd"} {
		t.Run("own-"+codec, func(t *testing.T) {
			_, addr := seedCluster(t, 1, 1, 0)
			var want []string
			for b := 0; b < 3; b++ {
				var recs []testRecord
				for i := 0; i < 100; i++ {
					recs = append(recs, testRecord{offDelta: int64(i), tsDelta: int64(i), key: []byte(fmt.Sprint("k", i)), value: testValue(0, b*100+i)})
					want = append(want, fmt.Sprintf("0 %d k%d  %s", b*100+i, i, testValue(0, b*100+i)))
				}
				produceBatch(t, addr, testBatch{firstTS: 1000, maxTS: 1099, producer: -1, codec: codec, records: recs}.encode(t))
			}
			sameLines(t, runLines(t, addr, Options{}), want)
		})
	}
}

// produceBatch writes one record batch as it is to partition 0 of topic t.
func produceBatch(t *testing.T, addr string, batch []byte) {
	t.Helper()
	pool := kafkaconn.NewPool(kafkatest.Config())
	defer pool.Close()
	conn, err := pool.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = 7
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	var resp kmsg.ProduceResponse
	if _, err := conn.RoundTrip(req, &resp, nil); err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("producing a batch: %v", sarama.KError(code))
	}
}

// keeper is a Processor that keeps every message it is handed, raw bytes
// and all, and reports each done at once.
// keeper is a Processor that keeps its records' tickets and raw bytes: it
// finishes them from a goroutine of its own, lag records behind the newest
// (all at Drain when lag is 0), checking each one's bytes just before
// its Done, the last moment they are promised. bad says which were not
// what was produced.
type keeper struct {
	lag   int
	mu    sync.Mutex
	held  []Message
	todo  chan Message
	quit  chan struct{}
	ended chan struct{}
	taken int // the loop's
	done  int
	bad   []string
}

func newKeeper(lag int) *keeper {
	k := &keeper{lag: lag, todo: make(chan Message, 64), quit: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(k.ended)
		for {
			select {
			case m := <-k.todo:
				k.finish(m)
			case <-k.quit:
				return
			}
		}
	}()
	return k
}

func (k *keeper) finish(m Message) {
	p, i := m.Ticket.Partition, int(m.Ticket.Offset)
	if !bytes.Equal(m.RawValue, testValue(p, i)) || string(m.RawKey) != fmt.Sprint(i) ||
		len(m.RawHeaders) != 1 || string(m.RawHeaders[0].Value) != fmt.Sprintf("%d.%d", p, i) {
		k.mu.Lock()
		k.bad = append(k.bad, fmt.Sprintf("partition %d offset %d holds key %q value %.40q headers %v", p, i, m.RawKey, m.RawValue, m.RawHeaders))
		k.mu.Unlock()
	}
	k.mu.Lock()
	k.done++
	k.mu.Unlock()
	m.Ticket.Done(nil)
}

func (k *keeper) Process(ctx context.Context, m Message) error {
	if k.lag > 0 && len(k.held) >= k.lag {
		select {
		case k.todo <- k.held[0]:
		case <-ctx.Done():
			return ctx.Err() // m is not taken
		}
		k.held = k.held[1:]
	}
	k.taken++
	k.held = append(k.held, m)
	return nil
}

func (k *keeper) Flush(context.Context) error { return nil }

// Drain hands over what is held and returns once every record is done.
func (k *keeper) Drain(ctx context.Context, _ []TopicPartition, _ bool) error {
	for _, m := range k.held {
		k.todo <- m
	}
	k.held = nil
	for {
		k.mu.Lock()
		done := k.done
		k.mu.Unlock()
		if done == k.taken {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// stop ends the keeper's goroutine, once Run returned: what it had left
// to finish was done before Run returned.
func (k *keeper) stop() {
	close(k.quit)
	<-k.ended
}

// TestFetchBuffersOutliveNoMessage: output written from reused fetch
// buffers over many fetches is what was produced, line for line; and the
// raw bytes a Processor is handed (an exec agent's dead letters keep them)
// are still what was produced when it reports the record done, many fetches
// later, while the run reuses its buffers (under -race, a buffer reused
// too early is also a race). When a Processor holds all its records, a
// run makes no more than pooledBufs whole-fetch buffers: the rest are of
// each answer's size, so a topic that trickles does not hold a whole
// fetch's room per record.
func TestFetchBuffersOutliveNoMessage(t *testing.T) {
	_, addr := seedCluster(t, 1, 3, 0)
	// Small batches and small fetches: many fetches, and many buffers
	// reused.
	const per = 2000
	prod, err := sarama.NewSyncProducer([]string{addr}, kafkatest.Config())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < per; i += 20 {
		var batch []*sarama.ProducerMessage
		for p := int32(0); p < 3; p++ {
			for j := i; j < i+20; j++ {
				batch = append(batch, &sarama.ProducerMessage{Topic: "t", Partition: p, Key: sarama.StringEncoder(fmt.Sprint(j)), Value: sarama.ByteEncoder(testValue(p, j)),
					Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(fmt.Sprintf("%d.%d", p, j))}}})
			}
		}
		if err := prod.SendMessages(batch); err != nil {
			t.Fatal(err)
		}
	}
	prod.Close()
	defer func(part, total int32) { fetchPartitionMax, fetchMax = part, total }(fetchPartitionMax, fetchMax)
	fetchPartitionMax, fetchMax = 8<<10, 24<<10

	for _, lag := range []int{50, 0} {
		t.Run(fmt.Sprintf("processor holding %d", lag), func(t *testing.T) {
			var reused, fresh, sized int
			bufTrace = func(r, f bool) {
				switch {
				case r:
					reused++
				case f:
					fresh++
				default:
					sized++
				}
			}
			defer func() { bufTrace = nil }()
			k := newKeeper(lag)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Exit: true, Processor: k}, &bytes.Buffer{})
			k.stop()
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if k.done != 3*per {
				t.Fatalf("processed %d messages, want %d", k.done, 3*per)
			}
			if len(k.bad) > 0 {
				t.Fatalf("%d records' bytes were reused before they were done, the first: %s", len(k.bad), k.bad[0])
			}
			fetches := reused + fresh + sized
			t.Logf("%d fetches: %d buffers reused, %d made for the pool, %d made for one answer", fetches, reused, fresh, sized)
			if fetches < 100 {
				t.Fatalf("%d fetches: too few to test reuse", fetches)
			}
			if lag == 0 && fresh > pooledBufs {
				// Every record is held to the end: none of the pool's
				// buffers came back, and each made is still alive.
				t.Fatalf("%d whole-fetch buffers made, want at most %d", fresh, pooledBufs)
			}
			if lag > 0 && reused < fetches/2 {
				t.Fatalf("%d of %d fetches reused a buffer, want most", reused, fetches)
			}
		})
	}

	seen := 0
	for _, line := range runLines(t, addr, Options{}) {
		var p int32
		var i int
		var key, hdr, value string
		if _, err := fmt.Sscanf(line, "%d %d %s %s %s", &p, &i, &key, &hdr, &value); err != nil {
			t.Fatalf("line %.60q: %v", line, err)
		}
		if key != fmt.Sprint(i) || hdr != fmt.Sprintf("h=%d.%d", p, i) || value != string(testValue(p, i)) {
			t.Fatalf("partition %d offset %d printed as %.80q", p, i, line)
		}
		seen++
	}
	if seen != 3*per {
		t.Fatalf("printed %d lines, want %d", seen, 3*per)
	}
}

// TestFetchLegacyMessageSets: a broker answering with message sets of the
// pre-0.11 formats (magic 0 and 1: a topic written before the upgrade)
// still has its records read, through sarama's Fetch. kfake stores magic 2
// only, so its Fetch answers are made here.
func TestFetchLegacyMessageSets(t *testing.T) {
	c, addr := seedCluster(t, 1, 1, 0)
	const n = 6
	var seed []kafkatest.Message
	for i := 0; i < n; i++ {
		seed = append(seed, kafkatest.Message{Value: []byte("stored")}) // for the end offset
	}
	kafkatest.Produce(t, addr, "t", seed...)
	var mu sync.Mutex
	fetches := 0
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fr := req.(*kmsg.FetchRequest)
		resp := fr.ResponseKind().(*kmsg.FetchResponse)
		resp.Version = fr.Version
		for _, rt := range fr.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.HighWatermark, sp.LastStableOffset = n, n
				for off := rp.FetchOffset; off < n; off++ {
					magic := int8(off % 2) // both formats, one after the other
					sp.RecordBatches = append(sp.RecordBatches, legacyMessage(t, magic, off, []byte(fmt.Sprint("k", off)), []byte(fmt.Sprint("old", off)))...)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		mu.Lock()
		fetches++
		mu.Unlock()
		return resp, nil, true
	})
	got := runLines(t, addr, Options{})
	var want []string
	for i := 0; i < n; i++ {
		want = append(want, fmt.Sprintf("0 %d k%d  old%d", i, i, i))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches < 2 {
		t.Errorf("%d fetches, want the project's own and sarama's again", fetches)
	}
}

// TestFetchCorruptBatch: a batch whose checksum does not match stops the
// run with an error naming the partition and offset, once the records
// before it are written.
func TestFetchCorruptBatch(t *testing.T) {
	c, addr := seedCluster(t, 1, 1, 0)
	kafkatest.Produce(t, addr, "t", kafkatest.Message{Value: []byte("a")}, kafkatest.Message{Value: []byte("b")}, kafkatest.Message{Value: []byte("c")})
	good := testBatch{base: 0, records: []testRecord{{value: []byte("a")}, {offDelta: 1, value: []byte("b")}}}.encode(t)
	bad := testBatch{base: 2, records: []testRecord{{value: []byte("c")}}}.encode(t)
	bad[len(bad)-1] ^= 0xff
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		fr := req.(*kmsg.FetchRequest)
		resp := fr.ResponseKind().(*kmsg.FetchResponse)
		resp.Version = fr.Version
		st := kmsg.NewFetchResponseTopic()
		st.Topic = "t"
		sp := kmsg.NewFetchResponseTopicPartition()
		sp.HighWatermark, sp.LastStableOffset = 3, 3
		if off := fr.Topics[0].Partitions[0].FetchOffset; off == 0 {
			sp.RecordBatches = append(bytes.Clone(good), bad...)
		} else if off == 2 {
			sp.RecordBatches = bad
		}
		st.Partitions = append(st.Partitions, sp)
		resp.Topics = append(resp.Topics, st)
		return resp, nil, true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	st, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Exit: true}, &out)
	var ce *CorruptBatchError
	if !errors.As(err, &ce) || ce.Topic != "t" || ce.Partition != 0 || ce.Offset != 2 {
		t.Fatalf("Run = %v, want a corrupt batch at t/0 offset 2", err)
	}
	if out.String() != "a\nb\n" || st.Written != 2 {
		t.Errorf("wrote %q (%d), want the two records before the corrupt batch", out.String(), st.Written)
	}
}

// TestToBack: the partitions a fetch served go to the back of the next
// request, the others keeping their order, so that none starves.
func TestToBack(t *testing.T) {
	tp := func(topic string, p int32) TopicPartition { return TopicPartition{topic, p} }
	tps := []TopicPartition{tp("a", 0), tp("a", 1), tp("b", 0), tp("b", 1)}
	got := toBack(tps, []TopicPartition{tp("b", 0), tp("a", 0)})
	want := []TopicPartition{tp("a", 1), tp("b", 1), tp("a", 0), tp("b", 0)}
	if !slices.Equal(got, want) {
		t.Errorf("toBack = %v, want %v", got, want)
	}
	if got := toBack(tps, nil); !slices.Equal(got, tps) {
		t.Errorf("toBack with none served = %v, want %v", got, tps)
	}
}

// A full fetch that took a far broker's round trip doubles the next, up
// to fetchMaxFar; a quick one goes back to fetchMax; the rest keep the
// size. On localhost every fetch is quick: 1 MB, which stays in cache.
func TestNextFetchMax(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		cur  int32
		got  int
		took time.Duration
		want int32
	}{
		{mb, mb, 2 * time.Millisecond, mb},              // local, full
		{mb, mb, 30 * time.Millisecond, 2 * mb},         // far, full
		{4 * mb, 4 * mb, 30 * time.Millisecond, 8 * mb}, // far, full
		{8 * mb, 8 * mb, 30 * time.Millisecond, 8 * mb}, // at the bound
		{4 * mb, mb, 250 * time.Millisecond, 4 * mb},    // a long poll for little: no growth, no shrink
		{4 * mb, 4 * mb, time.Millisecond, mb},          // the broker came near
		{mb, 100, 15 * time.Millisecond, mb},
	} {
		if got := nextFetchMax(c.cur, c.got, c.took); got != c.want {
			t.Errorf("nextFetchMax(%d, %d, %s) = %d, want %d", c.cur, c.got, c.took, got, c.want)
		}
	}
}

// TestFetchesGrowOnAFarBroker: with every fetch answered after a round
// trip of a far broker, fetches grow past fetchMax (each came back full)
// and the drain is still whole. Answered at once, the drain is whole too;
// whether those fetches grow depends on how fast this machine answers a
// megabyte under -race, so only the far case's sizes are checked.
func TestFetchesGrowOnAFarBroker(t *testing.T) {
	for _, far := range []bool{false, true} {
		t.Run(fmt.Sprint("far=", far), func(t *testing.T) {
			const parts, per = 4, 1200 // about 5 MB
			c, addr := seedCluster(t, 1, parts, 0)
			// Batches of 100 records (about 60 KB): a fetch fills up to
			// its size whatever the producer's batching was.
			for p := int32(0); p < parts; p++ {
				for i := 0; i < per; i += 100 {
					var seed []kafkatest.Message
					for j := i; j < i+100; j++ {
						seed = append(seed, kafkatest.Message{Partition: p, Value: testValue(p, j)})
					}
					kafkatest.Produce(t, addr, "t", seed...)
				}
			}
			var mu sync.Mutex
			var largest int32
			c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				mu.Lock()
				largest = max(largest, req.(*kmsg.FetchRequest).MaxBytes)
				mu.Unlock()
				if far {
					// The round trip of a broker far away.
					c.SleepControl(func() { time.Sleep(2 * farFetch) })
				}
				return nil, nil, false
			})
			lines := runLines(t, addr, Options{})
			if len(lines) != parts*per {
				t.Fatalf("read %d records, want %d", len(lines), parts*per)
			}
			mu.Lock()
			defer mu.Unlock()
			if far && largest <= fetchMax {
				t.Errorf("far=%v: the largest fetch asked for %d bytes (fetchMax %d)", far, largest, fetchMax)
			}
		})
	}
}
