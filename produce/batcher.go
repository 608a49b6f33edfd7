package produce

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkaerr"
)

// Cluster is what a Batcher needs of a Kafka client; sarama.Client has it.
type Cluster interface {
	Leader(topic string, partition int32) (*sarama.Broker, error)
	RefreshMetadata(topics ...string) error
}

var _ Cluster = sarama.Client(nil)

// BatchConfig says how a Batcher sends. Zero values take the defaults
// below.
type BatchConfig struct {
	Topic       string
	Partitions  int32
	Partitioner string // one of Partitioners
	Acks        sarama.RequiredAcks
	Compression sarama.CompressionCodec
	// Version is the lowest Kafka version to speak; it must be 0.11 or
	// later (record batches).
	Version sarama.KafkaVersion
	// Timeout is how long the broker may wait for the in-sync replicas.
	Timeout time.Duration
	// MaxMessageBytes is the topic's max.message.bytes: no batch is larger.
	MaxMessageBytes int
	// Idempotent asks for a producer ID (with acks=all), so that a retried
	// batch cannot be written twice or out of order.
	Idempotent bool
	// DeliveryTimeout is how long a batch may take, from its first record
	// to its acknowledgement, retries (metadata refreshes, reconnections)
	// included; then its records fail with a *DeliveryTimeoutError. It
	// bounds every record's wait, so that a run ends even when the brokers
	// are gone.
	DeliveryTimeout time.Duration
	// Retries, when positive, also bounds resending a batch after a
	// retriable error (a moved leader, a lost connection); 0 leaves it to
	// DeliveryTimeout. RetryBackoff is the first wait before resending; it
	// doubles with each attempt, up to maxRetryBackoff.
	Retries      int
	RetryBackoff time.Duration
	// MaxInFlight is the most produce requests awaiting an answer per
	// broker, and the most batches per partition; the client's
	// Net.MaxOpenRequests must allow as many. Kafka keeps the sequence
	// numbers of a producer's last five batches per partition, so
	// idempotence allows at most five.
	MaxInFlight int
	// MaxBuffered bounds the memory of the records read but not yet
	// answered, which is most of a run's memory.
	MaxBuffered int
}

const (
	defaultBatchBytes   = 256 << 10
	defaultRequestBytes = 1 << 20
	defaultMaxInFlight  = 5
	defaultMaxBuffered  = 32 << 20
	// DefaultDeliveryTimeout is the DeliveryTimeout when none is given:
	// the Java client's delivery.timeout.ms, less its linger.
	DefaultDeliveryTimeout = 30 * time.Second
	maxRetryBackoff        = time.Second
	// batchHeader is the v2 record batch header, with the partition's own
	// fields in the request.
	batchHeader = 61 + 8
	// recordMemory is what a record costs in memory beyond its wire
	// bytes: its sarama.Record, its origin, the pointer to it.
	recordMemory = 144
)

// Batcher sends records in batches it builds itself, with sarama's
// broker-level produce requests: per partition, records collect in a batch
// until it is full or the input pauses; batches go to their leader in
// requests of up to 1 MiB, several requests in flight per broker and
// several batches per partition, in order. When a batch comes back with an
// error, its partition sends nothing more until every batch it has in
// flight is back; then the failed ones go again, oldest first, with the
// sequence numbers they had, so that with idempotence a retry neither
// duplicates nor reorders. Without idempotence (acks other than all, or a
// broker that refuses it) a batch sent after a failed one may be written
// before the failed one's retry, as with librdkafka. Every record's outcome
// is reported to the Producer that runs it, by input line.
type Batcher struct {
	c        Cluster
	cfg      BatchConfig
	pick     *picker
	version  int16
	batchMax int
	pid      int64
	epoch    int16

	p    *Producer
	in   chan handover
	done chan struct{}

	mu        sync.Mutex
	completed []completion
	wake      chan struct{}

	// The rest belongs to the loop goroutine.
	parts    []partState
	brokers  map[*sarama.Broker]*brokerState
	buffered int  // memory of the records not yet answered
	flushAll bool // send open batches without waiting for them to fill
	inFlight int  // requests awaiting an answer
	ended    bool // the input is done: open batches go at once
	// recovering counts the partitions holding batches that came back
	// with an error.
	recovering int
	reqMax     int
	rotate     int32
	refresh    bool
	retryC     <-chan time.Time
	// pending holds the batches in the order they were started, which is
	// the order of their deadlines, until they are reported (those
	// reported are dropped from the front as it comes to them).
	pending    []*batch
	unreported int // batches whose records are not yet reported
	expiry     *time.Timer
	expiryAt   time.Time // when expiry fires; zero when it is stopped
	hdrIn      []sarama.RecordHeader
	hdrOut     []*sarama.RecordHeader
}

// origin is where a record came from, to report its outcome.
type origin struct {
	seq   int64
	input int
	line  int
}

// batch is one partition's records, in the order read.
type batch struct {
	partition      int32
	recs           []sarama.Record
	from           []origin
	firstMs, maxMs int64
	bytes          int // on the wire, at most
	mem            int // counted in buffered
	attempts       int
	seq            int32 // first sequence number, once sequenced
	pid            int64 // producer ID, once sequenced
	sequenced      bool
	rb             *sarama.RecordBatch // built at the first send, kept for retries
	ord            int64               // position in its partition, oldest first
	err            error               // why it last came back
	retriable      bool
	deadline       time.Time // its records fail then, unless acknowledged
	// reported says its records' outcome is told: acknowledged, failed,
	// or timed out (while in flight its answer may still come, and is then
	// only bookkeeping).
	reported bool
}

type partState struct {
	open     *batch
	queue    []*batch // closed, oldest first
	inFlight int      // batches awaiting an answer
	// flightPID is the producer ID of the batches in flight: a batch of
	// another (a new ID after a failure) waits until they are back.
	flightPID int64
	// back holds the batches that came back with an error; while it is
	// not empty the partition sends nothing until inFlight is 0.
	back      []*batch
	leader    *sarama.Broker
	nextSeq   int32
	nextOrd   int64
	notBefore time.Time // retry backoff
	lastCount int
	lastErr   error // the last error of any of its batches, for timeouts
}

type brokerState struct {
	inFlight int
	building int // requests trySend is filling
}

// completion is a produce request's answer, as the broker's goroutine
// hands it to the loop.
type completion struct {
	broker  *sarama.Broker
	batches []*batch
	resp    *sarama.ProduceResponse // nil with acks=none
	err     error
}

// DeliveryTimeoutError is why records failed that were not acknowledged
// within the delivery timeout: Last is the last error their batch (or its
// partition) met, if any.
type DeliveryTimeoutError struct {
	After time.Duration
	Last  error
}

func (e *DeliveryTimeoutError) Error() string {
	if e.Last == nil {
		return fmt.Sprintf("delivery timed out after %s", e.After)
	}
	return fmt.Sprintf("delivery timed out after %s: %v", e.After, e.Last)
}

func (e *DeliveryTimeoutError) Unwrap() error { return e.Last }

// errNoAnswer is the last error of a batch that timed out in flight.
var errNoAnswer = errors.New("no answer from the broker")

// ErrBatcherVersion says the Kafka version is older than record batches.
var ErrBatcherVersion = errors.New("record batches need Kafka 0.11 or later")

// NewBatcher returns a Batcher for the topic of cfg. With cfg.Idempotent it
// asks a broker for a producer ID first, and fails if the broker refuses.
func NewBatcher(c Cluster, cfg BatchConfig) (*Batcher, error) {
	if !cfg.Version.IsAtLeast(sarama.V0_11_0_0) {
		return nil, ErrBatcherVersion
	}
	if cfg.Partitions <= 0 {
		return nil, fmt.Errorf("topic %q has no partitions", cfg.Topic)
	}
	pick, err := newPicker(cfg.Partitioner, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = defaultMaxInFlight
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = defaultMaxBuffered
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 100 * time.Millisecond
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if cfg.Acks != sarama.WaitForAll {
		cfg.Idempotent = false
	}
	b := &Batcher{
		c: c, cfg: cfg, pick: pick, version: produceVersion(cfg.Version),
		batchMax: defaultBatchBytes, reqMax: defaultRequestBytes, pid: -1, epoch: -1,
		in: make(chan handover, 1), done: make(chan struct{}), wake: make(chan struct{}, 1),
		parts: make([]partState, cfg.Partitions), brokers: map[*sarama.Broker]*brokerState{},
		expiry: time.NewTimer(time.Hour),
	}
	b.expiry.Stop()
	if cfg.MaxMessageBytes > 0 && cfg.MaxMessageBytes < b.batchMax {
		b.batchMax = cfg.MaxMessageBytes
	}
	if cfg.Idempotent {
		if err := b.initProducerID(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Idempotent says whether batches carry a producer ID and sequence
// numbers.
func (b *Batcher) Idempotent() bool { return b.pid >= 0 }

// produceVersion is the newest produce request version that version
// speaks, as sarama's AsyncProducer picks it.
func produceVersion(v sarama.KafkaVersion) int16 {
	for _, c := range []struct {
		v sarama.KafkaVersion
		n int16
	}{{sarama.V3_7_0_0, 10}, {sarama.V2_8_0_0, 9}, {sarama.V2_4_0_0, 8}, {sarama.V2_1_0_0, 7},
		{sarama.V2_0_0_0, 6}, {sarama.V1_0_0_0, 5}} {
		if v.IsAtLeast(c.v) {
			return c.n
		}
	}
	return 3
}

func (b *Batcher) initProducerID() error {
	broker, err := b.c.Leader(b.cfg.Topic, 0)
	if err != nil {
		return err
	}
	req := &sarama.InitProducerIDRequest{ProducerID: -1, ProducerEpoch: -1}
	switch v := b.cfg.Version; {
	case v.IsAtLeast(sarama.V2_7_0_0):
		req.Version = 4
	case v.IsAtLeast(sarama.V2_5_0_0):
		req.Version = 3
	case v.IsAtLeast(sarama.V2_4_0_0):
		req.Version = 2
	case v.IsAtLeast(sarama.V2_0_0_0):
		req.Version = 1
	}
	resp, err := broker.InitProducerID(req)
	if err != nil {
		return err
	}
	if !errors.Is(resp.Err, sarama.ErrNoError) {
		return resp.Err
	}
	b.pid, b.epoch = resp.ProducerID, resp.ProducerEpoch
	for i := range b.parts {
		b.parts[i].nextSeq = 0
	}
	return nil
}

func (b *Batcher) start(p *Producer) {
	b.p = p
	go b.loop()
}

func (b *Batcher) send(ctx context.Context, h handover) bool {
	select {
	case b.in <- h:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *Batcher) close() {
	close(b.in)
	<-b.done
}

// loop owns the batches: it takes records in while memory allows, and
// answers as they come, and sends whatever can go after each.
func (b *Batcher) loop() {
	defer close(b.done)
	defer b.expiry.Stop()
	in := b.in
	for {
		var inC <-chan handover
		if in != nil && b.buffered < b.cfg.MaxBuffered {
			inC = in
		}
		// Requests may still be in flight whose batches timed out: their
		// answers change nothing that is reported.
		if in == nil && b.unreported == 0 {
			return
		}
		select {
		case h, ok := <-inC:
			if !ok {
				in = nil
				b.flushAll, b.ended = true, true
				break
			}
			b.add(h)
			// A pause with more input already waiting is no pause.
			if h.paused && len(in) == 0 {
				b.flushAll = true
			}
		case <-b.wake:
			b.reap()
		case <-b.retryC:
			b.retryC = nil
			if b.refresh {
				b.refresh = false
				_ = b.c.RefreshMetadata(b.cfg.Topic)
			}
		case <-b.expiry.C:
			b.expiryAt = time.Time{}
		}
		// A refresh or a reconnection above may have taken a while.
		b.expire(time.Now())
		b.trySend()
		b.armRetry()
		b.armExpiry()
	}
}

// add puts each record of h into its partition's open batch.
func (b *Batcher) add(h handover) {
	start := time.Now()
	now := start.UnixMilli()
	for i := range h.msgs {
		m := &h.msgs[i]
		part := m.partition
		if part < 0 {
			part = b.pick.pick(m.key)
		}
		size := 36 + len(m.key) + len(m.value)
		for _, hd := range m.headers {
			size += 10 + len(hd.Key) + len(hd.Value)
		}
		ps := &b.parts[part]
		bt := ps.open
		if bt != nil && bt.bytes+size > b.batchMax {
			b.closeOpen(part)
			bt = nil
		}
		if bt == nil {
			n := ps.lastCount
			if n == 0 {
				n = 16
			}
			bt = &batch{partition: part, bytes: batchHeader, recs: make([]sarama.Record, 0, n), from: make([]origin, 0, n),
				deadline: start.Add(b.cfg.DeliveryTimeout)}
			ps.open = bt
			b.pending = append(b.pending, bt)
			b.unreported++
		}
		ms := now
		if !m.timestamp.IsZero() {
			ms = m.timestamp.UnixMilli()
		}
		if len(bt.recs) == 0 {
			bt.firstMs, bt.maxMs = ms, ms
		} else if ms > bt.maxMs {
			bt.maxMs = ms
		}
		bt.recs = append(bt.recs, sarama.Record{
			Key: m.key, Value: m.value, Headers: b.headers(m.headers),
			TimestampDelta: time.Duration(ms-bt.firstMs) * time.Millisecond,
			OffsetDelta:    int64(len(bt.recs)),
		})
		bt.from = append(bt.from, origin{seq: m.seq, input: m.input, line: m.line})
		bt.bytes += size
		bt.mem += size + recordMemory
		b.buffered += size + recordMemory
		if bt.bytes >= b.batchMax {
			b.closeOpen(part)
		}
	}
}

// headers returns hs as sarama.Record holds them; the headers every line
// shares (-H) are converted once.
func (b *Batcher) headers(hs []sarama.RecordHeader) []*sarama.RecordHeader {
	if len(hs) == 0 {
		return nil
	}
	if len(hs) == len(b.hdrIn) && &hs[0] == &b.hdrIn[0] {
		return b.hdrOut
	}
	out := make([]*sarama.RecordHeader, len(hs))
	for i := range hs {
		out[i] = &hs[i]
	}
	b.hdrIn, b.hdrOut = hs, out
	return out
}

func (b *Batcher) closeOpen(part int32) {
	ps := &b.parts[part]
	if ps.open == nil {
		return
	}
	ps.lastCount = len(ps.open.recs)
	ps.open.ord = ps.nextOrd
	ps.nextOrd++
	ps.queue = append(ps.queue, ps.open)
	ps.open = nil
	b.pick.closed(part)
}

// trySend sends every batch that may go: per partition, oldest first, the
// closed batches (and, when flushing, the open one) while fewer than
// MaxInFlight are in flight, to leaders with a request slot free. A request
// holds one batch per partition, so a partition's later batches go in the
// broker's later requests, and the requests go out in that order: the
// broker sees each partition's sequence numbers in order.
func (b *Batcher) trySend() {
	type building struct {
		broker  *sarama.Broker
		batches []*batch
		bytes   int
	}
	var reqs []*building
	now := time.Now()
	n := int32(len(b.parts))
	pendingOpen := false
	for k := int32(0); k < n; k++ {
		part := (b.rotate + k) % n
		ps := &b.parts[part]
		after := -1 // reqs[after] holds this partition's last batch
		for b.mayGo(ps, now) {
			if ps.leader == nil {
				leader, err := b.c.Leader(b.cfg.Topic, part)
				if err != nil {
					if len(ps.queue) == 0 {
						b.closeOpen(part)
					}
					bt := ps.queue[0]
					ps.queue[0] = nil
					ps.queue = ps.queue[1:]
					bt.err, bt.retriable = err, true
					b.putBack(bt)
					if ps.inFlight == 0 {
						b.settle(part)
					}
					break
				}
				ps.leader = leader
			}
			bs := b.brokers[ps.leader]
			if bs == nil {
				bs = &brokerState{}
				b.brokers[ps.leader] = bs
			}
			var r *building
			for i := after + 1; i < len(reqs); i++ {
				if reqs[i].broker == ps.leader && reqs[i].bytes < b.reqMax {
					r, after = reqs[i], i
					break
				}
			}
			if r == nil {
				if bs.inFlight+bs.building >= b.cfg.MaxInFlight {
					break
				}
				bs.building++
				r = &building{broker: ps.leader}
				reqs = append(reqs, r)
				after = len(reqs) - 1
			}
			if len(ps.queue) == 0 {
				b.closeOpen(part)
			}
			bt := ps.queue[0]
			ps.queue[0] = nil
			ps.queue = ps.queue[1:]
			if ps.inFlight == 0 {
				ps.flightPID = b.pidOf(bt)
			}
			ps.inFlight++
			r.batches = append(r.batches, bt)
			r.bytes += bt.bytes
		}
		pendingOpen = pendingOpen || ps.open != nil
	}
	for _, r := range reqs {
		b.fire(r.broker, r.batches)
		bs := b.brokers[r.broker]
		bs.inFlight++
		bs.building = 0
	}
	b.rotate = (b.rotate + 1) % n
	if !pendingOpen {
		b.flushAll = false
	}
}

// mayGo says whether ps has a batch to send now: none of its batches is
// back with an error awaiting the others, it has room in flight, no
// backoff runs, and its next batch is of the producer ID of those in
// flight. An open batch goes when flushing and nothing else of its
// partition is in flight (or the input has ended): under load it fills
// while the others are answered.
func (b *Batcher) mayGo(ps *partState, now time.Time) bool {
	if len(ps.back) > 0 || ps.inFlight >= b.cfg.MaxInFlight || now.Before(ps.notBefore) {
		return false
	}
	var next *batch
	switch {
	case len(ps.queue) > 0:
		next = ps.queue[0]
	case ps.open != nil && b.flushAll && (ps.inFlight == 0 || b.ended):
		next = ps.open
	default:
		return false
	}
	return ps.inFlight == 0 || b.pidOf(next) == ps.flightPID
}

// pidOf is the producer ID bt goes with: its own once sequenced, else the
// current one.
func (b *Batcher) pidOf(bt *batch) int64 {
	if bt.sequenced {
		return bt.pid
	}
	return b.pid
}

// fire sends batches to broker in one request; the answer comes back
// through b.completed.
func (b *Batcher) fire(broker *sarama.Broker, batches []*batch) {
	req := &sarama.ProduceRequest{
		RequiredAcks: b.cfg.Acks,
		Timeout:      int32(b.cfg.Timeout / time.Millisecond),
		Version:      b.version,
	}
	for _, bt := range batches {
		req.AddBatch(b.cfg.Topic, bt.partition, b.recordBatch(bt))
	}
	b.inFlight++
	done := func(resp *sarama.ProduceResponse, err error) {
		b.mu.Lock()
		b.completed = append(b.completed, completion{broker: broker, batches: batches, resp: resp, err: err})
		b.mu.Unlock()
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	if err := broker.AsyncProduce(req, done); err != nil || b.cfg.Acks == sarama.NoResponse {
		// No callback comes: acks=none has no answer to wait for.
		done(nil, err)
	}
}

// recordBatch is bt as sarama encodes it, built once: sarama keeps the
// encoded records in it, and a retry sends the same sequence numbers.
func (b *Batcher) recordBatch(bt *batch) *sarama.RecordBatch {
	if bt.rb != nil {
		return bt.rb
	}
	ptrs := make([]*sarama.Record, len(bt.recs))
	for i := range bt.recs {
		ptrs[i] = &bt.recs[i]
	}
	rb := &sarama.RecordBatch{
		Version:          2,
		Codec:            b.cfg.Compression,
		CompressionLevel: sarama.CompressionLevelDefault,
		FirstTimestamp:   time.UnixMilli(bt.firstMs),
		MaxTimestamp:     time.UnixMilli(bt.maxMs),
		LastOffsetDelta:  int32(len(bt.recs) - 1),
		ProducerID:       -1,
		ProducerEpoch:    -1,
		FirstSequence:    -1,
		Records:          ptrs,
	}
	if b.pid >= 0 {
		ps := &b.parts[bt.partition]
		bt.seq, bt.pid, bt.sequenced = ps.nextSeq, b.pid, true
		ps.nextSeq = nextSequence(ps.nextSeq, len(bt.recs))
		rb.ProducerID, rb.ProducerEpoch, rb.FirstSequence = b.pid, b.epoch, bt.seq
	}
	bt.rb = rb
	return rb
}

// nextSequence is the sequence number n records after seq: after
// 2^31-1 comes 0, as in Kafka's DefaultRecordBatch.incrementSequence.
func nextSequence(seq int32, n int) int32 {
	if int64(seq)+int64(n) > math.MaxInt32 {
		return int32(int64(seq) + int64(n) - math.MaxInt32 - 1)
	}
	return seq + int32(n)
}

// reap settles the answers that have come in.
func (b *Batcher) reap() {
	b.mu.Lock()
	done := b.completed
	b.completed = nil
	b.mu.Unlock()
	back := func(bt *batch, err error, retriable bool) {
		bt.err, bt.retriable = err, retriable
		b.putBack(bt)
	}
	for _, c := range done {
		b.inFlight--
		if bs := b.brokers[c.broker]; bs != nil {
			bs.inFlight--
		}
		for _, bt := range c.batches {
			b.parts[bt.partition].inFlight--
		}
		if c.err != nil {
			retriable := kafkaerr.Retriable(c.err)
			if retriable {
				// The connection is gone or stuck: the next send opens
				// a new one.
				_ = c.broker.Close()
				delete(b.brokers, c.broker)
			}
			for _, bt := range c.batches {
				back(bt, c.err, retriable)
			}
			continue
		}
		for _, bt := range c.batches {
			if c.resp == nil {
				b.ack(bt, -1)
				continue
			}
			blk := c.resp.GetBlock(b.cfg.Topic, bt.partition)
			switch {
			case blk == nil:
				back(bt, sarama.ErrIncompleteResponse, true)
			case errors.Is(blk.Err, sarama.ErrNoError):
				b.ack(bt, blk.Offset)
			case bt.sequenced && errors.Is(blk.Err, sarama.ErrDuplicateSequenceNumber):
				// An earlier attempt was written: this is its answer.
				b.ack(bt, blk.Offset)
			default:
				back(bt, blk.Err, kafkaerr.Retriable(blk.Err))
			}
		}
	}
	// A partition settles its failed batches once the last of its batches
	// in flight is back.
	for i := 0; b.recovering > 0 && i < len(b.parts); i++ {
		if ps := &b.parts[i]; len(ps.back) > 0 && ps.inFlight == 0 {
			b.settle(int32(i))
		}
	}
	if len(done) > 0 {
		b.p.flushOffsets()
	}
}

// putBack holds bt, back with an error, until its partition has nothing in
// flight.
func (b *Batcher) putBack(bt *batch) {
	ps := &b.parts[bt.partition]
	var te *DeliveryTimeoutError
	if bt.err != nil && !errors.As(bt.err, &te) {
		ps.lastErr = bt.err
	}
	if len(ps.back) == 0 {
		b.recovering++
	}
	ps.back = append(ps.back, bt)
}

// settle decides, once none of its batches is in flight, what becomes of a
// partition's batches that came back with an error, oldest first. A batch
// refused as out of order behind an earlier failed one goes again after it
// with its own sequence numbers, without counting an attempt. Others go
// again after a backoff while the error is retriable and attempts remain,
// or fail. When a sequenced batch fails, whether the broker wrote it
// cannot be told, so the later sequence numbers are void: the later
// batches the broker refused (and so did not write) go again under a new
// producer ID, and those whose fate is unknown fail.
func (b *Batcher) settle(part int32) {
	ps := &b.parts[part]
	back := ps.back
	ps.back = nil
	b.recovering--
	sort.Slice(back, func(i, j int) bool { return back[i].ord < back[j].ord })
	var again []*batch
	broken, newPID := false, false
	afterBroken := func(bt *batch) {
		if bt.reported || bt.sequenced && !notWritten(bt.err) {
			b.fail(bt, bt.err)
			return
		}
		bt.sequenced, bt.rb = false, nil
		again = append(again, bt)
	}
	for _, bt := range back {
		switch {
		case broken:
			afterBroken(bt)
		case !bt.reported && len(again) > 0 && bt.sequenced && errors.Is(bt.err, sarama.ErrOutOfOrderSequenceNumber):
			again = append(again, bt)
		default:
			bt.attempts++
			if bt.retriable && !bt.reported && (b.cfg.Retries <= 0 || bt.attempts <= b.cfg.Retries) {
				again = append(again, bt)
				continue
			}
			if bt.sequenced {
				broken = true
				newPID = newPID || bt.pid == b.pid
			}
			b.fail(bt, bt.err)
		}
	}
	queue := ps.queue
	if broken {
		// Retries still queued from an earlier round follow the failed
		// batch too.
		queue = nil
		for _, bt := range ps.queue {
			if bt.sequenced {
				afterBroken(bt)
			} else {
				queue = append(queue, bt)
			}
		}
	}
	ps.queue = append(again, queue...)
	if newPID {
		// A new producer ID starts every partition's sequence afresh;
		// without one, go on without idempotence.
		if b.initProducerID() != nil {
			b.pid, b.epoch = -1, -1
		}
	}
	if len(again) > 0 {
		ps.leader = nil
		ps.notBefore = time.Now().Add(b.backoff(again[0].attempts))
		b.refresh = true
	}
}

// backoff is the wait before a batch's next attempt: RetryBackoff,
// doubling with each attempt up to maxRetryBackoff, so that a broker that
// is gone is not asked again and again until the delivery timeout.
func (b *Batcher) backoff(attempts int) time.Duration {
	d := b.cfg.RetryBackoff
	for i := 1; i < attempts && d < maxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, max(b.cfg.RetryBackoff, maxRetryBackoff))
}

// notWritten says whether a partition's error means the broker refused the
// batch without writing it.
func notWritten(err error) bool {
	return errors.Is(err, sarama.ErrOutOfOrderSequenceNumber) || errors.Is(err, sarama.ErrNotLeaderForPartition)
}

// finish takes bt out of memory, and its records out of those awaiting an
// outcome. A batch that timed out in flight is finished then, and again
// when its answer comes: only the first counts.
func (b *Batcher) finish(bt *batch) (from []origin) {
	if bt.reported {
		return nil
	}
	from = bt.from
	b.buffered -= bt.mem
	b.unreported--
	bt.reported = true
	bt.recs, bt.from, bt.rb = nil, nil, nil
	return from
}

func (b *Batcher) ack(bt *batch, base int64) {
	if from := b.finish(bt); from != nil {
		b.p.ackRun(from, bt.partition, base)
	}
}

// fail reports every record of bt as failed with err.
func (b *Batcher) fail(bt *batch, err error) {
	for _, o := range b.finish(bt) {
		b.p.failAt(o, err)
	}
}

// expire fails the records of every batch whose delivery timeout has come.
// A batch in flight fails at once, and its answer, when it comes, changes
// nothing reported; one waiting to be sent (again) is taken back as if
// refused for good, so that its partition settles as after any failure
// (with idempotence, the batches behind it go under a new producer ID).
func (b *Batcher) expire(now time.Time) {
	var touched []int32
	for len(b.pending) > 0 {
		bt := b.pending[0]
		if !bt.reported && bt.deadline.After(now) {
			break
		}
		b.pending[0] = nil
		b.pending = b.pending[1:]
		if bt.reported {
			continue
		}
		ps := &b.parts[bt.partition]
		last := bt.err
		if last == nil {
			last = ps.lastErr
		}
		if last == nil && b.inFlightBatch(bt) {
			last = errNoAnswer
		}
		err := &DeliveryTimeoutError{After: b.cfg.DeliveryTimeout, Last: last}
		bt.err, bt.retriable = err, false
		b.fail(bt, err)
		if len(touched) == 0 || touched[len(touched)-1] != bt.partition {
			touched = append(touched, bt.partition)
		}
	}
	if len(touched) == 0 {
		return
	}
	b.p.timedOut()
	for _, part := range touched {
		ps := &b.parts[part]
		if ps.open != nil && ps.open.reported {
			b.closeOpen(part)
		}
		queue := ps.queue[:0]
		for _, bt := range ps.queue {
			if bt.reported {
				b.putBack(bt)
			} else {
				queue = append(queue, bt)
			}
		}
		clear(ps.queue[len(queue):])
		ps.queue = queue
		if len(ps.back) > 0 && ps.inFlight == 0 {
			b.settle(part)
		}
	}
}

// inFlightBatch says whether bt awaits an answer: it is nowhere else.
func (b *Batcher) inFlightBatch(bt *batch) bool {
	ps := &b.parts[bt.partition]
	if ps.open == bt {
		return false
	}
	for _, q := range ps.queue {
		if q == bt {
			return false
		}
	}
	for _, q := range ps.back {
		if q == bt {
			return false
		}
	}
	return true
}

// armExpiry sets the timer for the oldest batch not yet reported.
func (b *Batcher) armExpiry() {
	for len(b.pending) > 0 && b.pending[0].reported {
		b.pending[0] = nil
		b.pending = b.pending[1:]
	}
	if len(b.pending) == 0 {
		if !b.expiryAt.IsZero() {
			b.expiry.Stop()
			b.expiryAt = time.Time{}
		}
		return
	}
	at := b.pending[0].deadline
	if at.Equal(b.expiryAt) {
		return
	}
	b.expiry.Stop()
	b.expiry.Reset(time.Until(at))
	b.expiryAt = at
}

// armRetry sets the timer for the earliest partition waiting out a
// backoff.
func (b *Batcher) armRetry() {
	if b.retryC != nil {
		return
	}
	var first time.Time
	now := time.Now()
	for i := range b.parts {
		ps := &b.parts[i]
		// An open batch waits out the backoff too: once the input ends
		// (or pauses) nothing else would wake the loop for it.
		if (len(ps.queue) > 0 || ps.open != nil) && ps.inFlight == 0 && ps.notBefore.After(now) &&
			(first.IsZero() || ps.notBefore.Before(first)) {
			first = ps.notBefore
		}
	}
	if first.IsZero() {
		return
	}
	d := time.Until(first)
	if d < 0 {
		d = 0
	}
	b.retryC = time.After(d)
}
