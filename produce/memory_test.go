package produce

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// endlessLines is an input that never ends: line i is "key-(i%64):" and
// a value of about 200 bytes.
type endlessLines struct {
	i    int
	rest []byte
}

func (r *endlessLines) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(r.rest) == 0 {
			r.rest = fmt.Appendf(nil, "key-%d:value-%d-%s\n", r.i%64, r.i, strings.Repeat("v", 200))
			r.i++
		}
		c := copy(p[n:], r.rest)
		r.rest = r.rest[c:]
		n += c
	}
	return n, nil
}

// stallPartition makes the broker answer every produce request itself,
// writing nothing (so that it holds no memory of its own): the batches of
// partition part are refused (retriably) while stalled is true, the others
// acknowledged at made-up offsets.
func stallPartition(c *kfake.Cluster, part int32, stalled *atomic.Bool) {
	next := map[int32]int64{} // control functions run one at a time
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				var rb kmsg.RecordBatch
				_ = rb.ReadFrom(rp.Records)
				if rp.Partition == part && stalled.Load() {
					sp.ErrorCode = kerr.NotEnoughReplicas.Code
				} else {
					sp.BaseOffset = next[rp.Partition]
					next[rp.Partition] += int64(rb.NumRecords)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestBatcherMemoryBound: one partition of eight refuses its batches, the
// others take theirs; reading stops once memory reaches MaxBuffered, and
// the heap then holds about that much: not the reader's slabs shared with
// the records already acknowledged, nor (with Offsets) the acknowledgements
// waiting in input order behind the stalled partition's.
func TestBatcherMemoryBound(t *testing.T) {
	for _, offsets := range []bool{false, true} {
		t.Run(fmt.Sprintf("offsets=%v", offsets), func(t *testing.T) {
			c, client := fakeCluster(t, 8)
			var stalled atomic.Bool
			stalled.Store(true)
			stallPartition(c, 3, &stalled)
			const bound = 8 << 20
			cfg := batcherConfig(8)
			cfg.Retries = 0
			cfg.MaxBuffered = bound
			b, err := NewBatcher(context.Background(), client, cfg)
			if err != nil {
				t.Fatal(err)
			}
			o := Options{Topic: "t", Partition: -1}
			if offsets {
				o.Offsets = discard{}
			}
			p := New(&Format{KeyDelimiter: []byte(":")}, o)
			before := liveHeap()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := p.Run(ctx, []Input{{R: &endlessLines{}}}, b)
				done <- err
			}()
			// Wait until reading has stopped with only partition 3's
			// records left unacknowledged (and a handover on its way):
			// nothing moves then but its retries.
			onStalled := func(sent int64) int64 {
				n := int64(0)
				for i := int64(0); i < sent; i++ {
					if (Murmur2(fmt.Appendf(nil, "key-%d", i%64))&0x7fffffff)%8 == 3 {
						n++
					}
				}
				return n
			}
			deadline := time.Now().Add(60 * time.Second)
			for {
				st := p.Progress()
				// Sent counts the handovers on their way to the Batcher:
				// the one Run holds and the one in its channel.
				if b.full.Load() && st.Acked > 0 && st.Sent-onStalled(st.Sent)-st.Acked <= 2*batchSize {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("reading never stopped with only partition 3 unacknowledged: %+v", p.Progress())
				}
				time.Sleep(10 * time.Millisecond)
			}
			live := liveHeap()
			sent := p.Progress().Sent
			stalled.Store(false)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			// The bound, and some room for what is in transit between
			// the reader and the Batcher and for the clients' buffers.
			grown := int64(live) - int64(before)
			t.Logf("heap grew by %d bytes with %d messages read", grown, sent)
			if grown > 2*bound {
				t.Errorf("heap grew by %d bytes with %d messages read, want at most %d (twice MaxBuffered)", grown, sent, 2*bound)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
