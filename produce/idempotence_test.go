package produce

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamctl/streamctl/internal/kafkatest"
)

// fakeBrokers is fakeCluster with n brokers.
func fakeBrokers(t *testing.T, n int, parts int32) (*kfake.Cluster, sarama.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(n), kfake.SeedTopics(parts, "t"))
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

// initAsk is an InitProducerID request as the broker saw it.
type initAsk struct {
	node    int32
	version int16
	pid     int64
	epoch   int16
}

// answerInit makes the broker answer InitProducerID with the error code
// that answer gives for the nth request (1-based, and on which node), 0
// for kfake's own answer; it records every request. Read the record after
// the run.
func answerInit(c *kfake.Cluster, answer func(nth int, node int32) int16) func() []initAsk {
	var (
		mu   sync.Mutex
		asks []initAsk
	)
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.InitProducerIDRequest)
		mu.Lock()
		asks = append(asks, initAsk{node: c.CurrentNode(), version: r.Version, pid: r.ProducerID, epoch: r.ProducerEpoch})
		nth := len(asks)
		mu.Unlock()
		code := answer(nth, c.CurrentNode())
		if code == 0 {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, -1, -1
		return resp, nil, true
	})
	return func() []initAsk {
		mu.Lock()
		defer mu.Unlock()
		return append([]initAsk(nil), asks...)
	}
}

// offRecorder collects what IdempotenceOff reports.
type offRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (o *offRecorder) off(err error) {
	o.mu.Lock()
	o.errs = append(o.errs, err)
	o.mu.Unlock()
}

func (o *offRecorder) got() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]error(nil), o.errs...)
}

// TestBatcherInitProducerIDRetries: a broker just started answers
// COORDINATOR_LOAD_IN_PROGRESS, which is retriable: the Batcher asks again
// and is idempotent, rather than going on without.
func TestBatcherInitProducerIDRetries(t *testing.T) {
	c, client := fakeCluster(t, 2)
	asks := answerInit(c, func(nth int, _ int32) int16 {
		if nth <= 2 {
			return kerr.CoordinatorLoadInProgress.Code
		}
		return 0
	})
	var off offRecorder
	cfg := batcherConfig(2)
	cfg.IdempotenceOff = off.off
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Idempotent() || len(off.got()) != 0 {
		t.Fatalf("idempotent %v (turned off: %v), want idempotent after retries", b.Idempotent(), off.got())
	}
	if n := len(asks()); n != 3 {
		t.Errorf("%d InitProducerID requests, want 3", n)
	}
	var out strings.Builder
	p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1, Offsets: &out})
	st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(keyedLines(100, 7))}}, b)
	if err != nil || st.Acked != 100 {
		t.Fatalf("stats %+v, error %v: want 100 acknowledged", st, err)
	}
	checkExactlyOnce(t, client, 100, out.String())
}

// TestBatcherInitProducerIDAnyBroker: InitProducerID goes to any broker
// that answers, not only to partition 0's leader, which here drops every
// such request.
func TestBatcherInitProducerIDAnyBroker(t *testing.T) {
	c, client := fakeBrokers(t, 3, 2)
	dead := c.LeaderFor("t", 0)
	c.ControlKey(int16(kmsg.InitProducerID), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() == dead {
			return nil, errors.New("dropped"), true
		}
		return nil, nil, false
	})
	var off offRecorder
	cfg := batcherConfig(2)
	cfg.IdempotenceOff = off.off
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Idempotent() || len(off.got()) != 0 {
		t.Fatalf("idempotent %v (turned off: %v), want a producer ID from another broker", b.Idempotent(), off.got())
	}
}

// TestBatcherIdempotenceRefused: a broker that refuses the idempotent
// producer for good (no IDEMPOTENT_WRITE) is answered by going on without
// idempotence, and IdempotenceOff says so: acks=all still holds.
func TestBatcherIdempotenceRefused(t *testing.T) {
	c, client := fakeCluster(t, 2)
	answerInit(c, func(int, int32) int16 { return kerr.ClusterAuthorizationFailed.Code })
	var off offRecorder
	cfg := batcherConfig(2)
	cfg.IdempotenceOff = off.off
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var ie *IdempotenceError
	if errs := off.got(); b.Idempotent() || len(errs) != 1 || !errors.As(errs[0], &ie) || !errors.Is(errs[0], sarama.ErrClusterAuthorizationFailed) {
		t.Fatalf("idempotent %v, turned off with %v: want one IdempotenceError for CLUSTER_AUTHORIZATION_FAILED", b.Idempotent(), errs)
	}
	p := New(&Format{}, Options{Topic: "t", Partition: -1})
	if st, err := p.Run(context.Background(), []Input{{R: strings.NewReader("a\nb\n")}}, b); err != nil || st.Acked != 2 {
		t.Fatalf("stats %+v, error %v: want 2 acknowledged", st, err)
	}
}

// TestBatcherHeadOfLineSequenceError: a partition's first batch in line
// refused with OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID was not
// written, nor any after it: as the Java client does (KIP-360), the
// Batcher bumps the epoch (InitProducerID with its current producer ID
// and epoch) and sends them again, rather than failing them.
//
// The batches sent again are the same bytes under a new header, compressed
// or not.
func TestBatcherHeadOfLineSequenceError(t *testing.T) {
	for _, tc := range []struct {
		code  int16
		codec sarama.CompressionCodec
	}{
		{kerr.OutOfOrderSequenceNumber.Code, sarama.CompressionNone},
		{kerr.UnknownProducerID.Code, sarama.CompressionNone},
		{kerr.OutOfOrderSequenceNumber.Code, sarama.CompressionGZIP},
		{kerr.UnknownProducerID.Code, sarama.CompressionZSTD},
	} {
		code := tc.code
		t.Run(kerr.ErrorForCode(code).Error()+"/"+tc.codec.String(), func(t *testing.T) {
			c, client := fakeCluster(t, 1)
			asks := answerInit(c, func(int, int32) int16 { return 0 })
			sent := failNthProduce(t, c, 1, code)
			cfg := batcherConfig(1)
			cfg.MaxMessageBytes = 4 << 10
			cfg.Compression = tc.codec
			b, err := NewBatcher(context.Background(), client, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1, Offsets: &out})
			const n = 3000
			st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(keyedLines(n, 10))}}, b)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Stats{Sent: n, Acked: n}); st != want {
				t.Errorf("stats %+v, want %+v", st, want)
			}
			checkExactlyOnce(t, client, n, out.String())
			as := asks()
			if len(as) != 2 {
				t.Fatalf("InitProducerID requests %+v, want 2", as)
			}
			bs := sent()
			if as[1].version < 3 || as[1].pid != bs[0].pid || as[1].pid < 0 {
				t.Errorf("second InitProducerID %+v, want version 3 or later with the producer ID %d", as[1], bs[0].pid)
			}
		})
	}
}

// leaderless makes the broker's metadata name no leader for partition
// part of topic "t" (of parts, all led by node 0), and refreshes client's.
func leaderless(t *testing.T, c *kfake.Cluster, client sarama.Client, parts, part int32) {
	t.Helper()
	addr := c.ListenAddrs()[0]
	host, port, _ := strings.Cut(addr, ":")
	portN, _ := strconv.Atoi(port)
	c.ControlKey(int16(kmsg.Metadata), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.MetadataRequest)
		resp := r.ResponseKind().(*kmsg.MetadataResponse)
		br := kmsg.NewMetadataResponseBroker()
		br.NodeID, br.Host, br.Port = 0, host, int32(portN)
		resp.Brokers = append(resp.Brokers, br)
		resp.ControllerID = 0
		mt := kmsg.NewMetadataResponseTopic()
		mt.Topic = kmsg.StringPtr("t")
		for p := int32(0); p < parts; p++ {
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.Replicas, mp.ISR = p, 0, []int32{0}, []int32{0}
			if p == part {
				mp.Leader, mp.ErrorCode = -1, kerr.LeaderNotAvailable.Code
			}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
		return resp, nil, true
	})
	// sarama reports the leaderless partition, and caches the rest.
	_ = client.RefreshMetadata("t")
	if w, _ := client.WritablePartitions("t"); len(w) != int(parts-1) {
		t.Fatalf("writable partitions %v, want all but %d", w, part)
	}
}

// TestBatcherLeaderlessPartition: with one partition of six without a
// leader, keyless records go to the other five, and a keyed record whose
// partition it is fails at the delivery timeout, the partition named.
func TestBatcherLeaderlessPartition(t *testing.T) {
	c, client := fakeCluster(t, 6)
	leaderless(t, c, client, 6, 2)
	cfg := batcherConfig(6)
	cfg.Retries = 0
	cfg.DeliveryTimeout = time.Second
	b, err := NewBatcher(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "keyless-%d\n", i)
	}
	key := ""
	for i := 0; key == ""; i++ {
		if k := fmt.Sprint("k", i); (Murmur2([]byte(k))&0x7fffffff)%6 == 2 {
			key = k
		}
	}
	fmt.Fprintf(&in, "%s:keyed\n", key)
	var out strings.Builder
	p := New(&Format{KeyDelimiter: []byte(":")}, Options{Topic: "t", Partition: -1, Offsets: &out})
	st, err := p.Run(context.Background(), []Input{{R: strings.NewReader(in.String())}}, b)
	if st.Acked != n || st.Failed != 1 {
		t.Errorf("stats %+v, want %d acknowledged and the keyed one failed", st, n)
	}
	var de *DeliveryError
	var nl *NoLeaderError
	var te *DeliveryTimeoutError
	if !errors.As(err, &de) || len(de.Failures) != 1 || de.Failures[0].Line != n+1 ||
		!errors.As(de.Failures[0].Err, &te) || !errors.As(de.Failures[0].Err, &nl) || nl.Partition != 2 {
		t.Fatalf("error %v: want line %d timed out, partition 2 without a leader", err, n+1)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	parts := map[string]int{}
	for _, l := range lines[:n] {
		p, _, _ := strings.Cut(l, " ")
		parts[p]++
	}
	if len(parts) != 5 || parts["2"] != 0 || lines[n] != "-1 -1 ERROR" {
		t.Errorf("keyless records on partitions %v, the keyed one %q: want five partitions, not 2, and ERROR", parts, lines[n])
	}
}
