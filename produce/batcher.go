package produce

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamctl/streamctl/internal/kafkaconn"
	"github.com/streamctl/streamctl/internal/kafkaerr"
)

// Cluster is what a Batcher needs of a Kafka client; sarama.Client has it.
type Cluster interface {
	Leader(topic string, partition int32) (*sarama.Broker, error)
	RefreshMetadata(topics ...string) error
	// WritablePartitions are those with a leader, as the metadata says.
	WritablePartitions(topic string) ([]int32, error)
	// Brokers and Config are where and how to ask for a producer ID.
	Brokers() []*sarama.Broker
	Config() *sarama.Config
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
	// batch cannot be written twice or out of order. The request is made
	// to any broker that answers, again after retriable errors (a
	// coordinator loading after a restart), within DeliveryTimeout.
	Idempotent bool
	// IdempotenceOff is called, with an *IdempotenceError, when a broker
	// refuses the idempotent producer for good (not supported, not
	// authorized) and the Batcher goes on without: then a retried batch
	// may be written twice. It runs on NewBatcher's goroutine or the
	// Batcher's own.
	IdempotenceOff func(err error)
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
	// answered, which is most of a run's memory: their batches (the
	// records encoded as they are copied out of the reader's shared
	// blocks, sent and kept for a retry as they are, or compressed), and
	// the Producer's Offsets window of outcomes waiting in input order. Reading waits while it is reached, whichever partition
	// stalls; beyond it are only the few handovers on their way from the
	// reader (a few MiB at most).
	MaxBuffered int
}

const (
	defaultBatchBytes   = 256 << 10
	defaultRequestBytes = 1 << 20
	defaultMaxInFlight  = 5
	// defaultMaxBuffered leaves the Go heap room under cmd's memory
	// limit for produce: at 32 MiB the heap's garbage met the limit and
	// peak RSS grew with the input (54 MB at 100k messages, 74-80 MB from
	// 1M on). Five requests of 1 MiB in flight per broker and an open
	// batch per partition fit in it with room to spare.
	defaultMaxBuffered = 12 << 20
	// DefaultDeliveryTimeout is the DeliveryTimeout when none is given:
	// the Java client's delivery.timeout.ms, less its linger.
	DefaultDeliveryTimeout = 30 * time.Second
	maxRetryBackoff        = time.Second
	// batchHeader is the v2 record batch header, with the partition's own
	// fields in the request.
	batchHeader = 61 + 8
	// recordMemory is what a record costs in memory beyond its bytes in
	// its batch: its origin.
	recordMemory = int(unsafe.Sizeof(origin{}))
	// minBuf is the smallest buffer a batch starts in.
	minBuf = 1 << 10
)

// Batcher sends records in record batches it encodes itself, in produce
// requests of its own on connections of its own (sarama finds the leaders
// and opens the connections): per partition, records collect in a batch
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
	pid      producerID // the current one; none without idempotence
	idem     bool       // asking for producer IDs, until refused
	conf     *sarama.Config
	// txnID is the transactional id its batches are written under, nil
	// outside a transaction: the producer ID is then the Sender's, and a
	// failure is the transaction's to abort, not the Batcher's to repair.
	txnID *string

	p    reporter
	full atomic.Bool // the loop takes no input: memory is at its bound
	in   chan handover
	// spent gives the reader back the slices of the handovers the loop
	// has copied out, to fill again.
	spent chan []pending
	done  chan struct{}
	// ctl runs functions on the loop, between its rounds (a new producer
	// ID after an aborted transaction).
	ctl chan func()

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
	retryC     <-chan time.Time
	// Metadata and producer IDs are asked for by goroutines of their own,
	// so that the loop never waits on a broker: metaIssued counts the
	// lookups started, metaDone the last one answered, metaWant the one a
	// partition waits for.
	metaC                          chan leaders
	metaBusy                       bool
	metaIssued, metaDone, metaWant int
	pidC                           chan pidAnswer
	pidBusy                        bool
	quit                           context.Context // done when the loop ends
	endQuit                        context.CancelFunc
	helpers                        sync.WaitGroup
	// pending holds the batches in the order they were started, which is
	// the order of their deadlines, until they are reported (those
	// reported are dropped from the front as it comes to them).
	pending    []*batch
	unreported int // batches whose records are not yet reported
	expiry     *time.Timer
	expiryAt   time.Time // when expiry fires; zero when it is stopped
	writers    map[*sarama.Broker]*brokerWriter
	// pool holds the connections the writers send on, of the Batcher's
	// own: sarama's would encode every request anew.
	pool *kafkaconn.Pool
	// spare holds what answered batches leave, for new ones to fill
	// instead of memory that would be allocated, cleared and collected.
	spare spares
}

// spares are the slices of answered batches, kept for the next ones: a
// few of each, as batches are answered about as fast as new ones fill.
type spares struct {
	bufs [][]byte
	from [][]origin
}

// maxSpares bounds each kind of spare: a request's batches come back
// together (four of 256 KiB in one of 1 MiB) while new ones open one by
// one.
const maxSpares = 16

// takeSpare pops a spare from *list, or returns nil. It may be shorter
// than wanted: appending grows it, and it comes back the larger, so that
// the spares settle at the size batches take.
func takeSpare[T any](list *[][]T) []T {
	l := *list
	if len(l) == 0 {
		return nil
	}
	s := l[len(l)-1]
	l[len(l)-1] = nil
	*list = l[:len(l)-1]
	return s[:0]
}

// putSpare keeps s in *list unless it holds enough (max of them).
func putSpare[T any](list *[][]T, s []T, max int) {
	if cap(s) > 0 && len(*list) < max {
		*list = append(*list, s[:0])
	}
}

// recycle keeps the memory of bt, reported and answered (in no request
// still to be written), for later batches; its origins are the reporter's
// until ack or fail has told them.
func (b *Batcher) recycle(bt *batch) {
	b.putBuf(bt.buf)
	if bt.compressed {
		b.putBuf(bt.wire)
	}
}

// putBuf keeps buf for a later batch; when there are enough, it takes the
// place of a smaller one.
func (b *Batcher) putBuf(buf []byte) {
	if cap(buf) == 0 {
		return
	}
	l := b.spare.bufs
	if len(l) < maxSpares {
		b.spare.bufs = append(l, buf[:0])
		return
	}
	least := 0
	for i := range l {
		if cap(l[i]) < cap(l[least]) {
			least = i
		}
	}
	if cap(l[least]) < cap(buf) {
		l[least] = buf[:0]
	}
}

// takeBuf returns an empty buffer of at least want bytes: the smallest
// spare that holds them, unless it would waste most of itself, or a new
// one.
func (b *Batcher) takeBuf(want int) []byte {
	l := b.spare.bufs
	best := -1
	for i := range l {
		if c := cap(l[i]); c >= want && (best < 0 || c < cap(l[best])) {
			best = i
		}
	}
	if best < 0 || cap(l[best]) > 2*want+minBuf {
		return make([]byte, 0, want)
	}
	buf := l[best]
	l[best] = l[len(l)-1]
	l[len(l)-1] = nil
	b.spare.bufs = l[:len(l)-1]
	return buf[:0]
}

// origin is where a record came from, to report its outcome.
type origin struct {
	seq   int64
	input int
	line  int
}

// batch is one partition's records, in the order read.
type batch struct {
	partition int32
	// buf is the record batch being written: room for its header, then
	// its records, encoded as they are added (the one copy of their
	// bytes, out of the reader's shared blocks); nil once compressed.
	buf            []byte
	count          int // records
	from           []origin
	firstMs, maxMs int64
	bytes          int  // on the wire, uncompressed
	mem            int  // counted in buffered
	flying         bool // in a request that awaits its answer
	attempts       int
	seq            int32      // first sequence number, once sequenced
	pid            producerID // once sequenced
	sequenced      bool
	// wire is the batch as sent, header and all, built at the first send
	// and kept for retries: buf itself, or its records compressed into
	// a buffer of their own. Its header is written again (built false)
	// when its producer ID changes.
	wire       []byte
	built      bool
	compressed bool
	ord        int64 // position in its partition, oldest first
	err        error // why it last came back
	retriable  bool
	deadline   time.Time // its records fail then, unless acknowledged
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
	flightPID producerID
	// back holds the batches that came back with an error; while it is
	// not empty the partition sends nothing until inFlight is 0.
	back      []*batch
	leader    *sarama.Broker
	noLeader  error // why leader is nil, as the last metadata says
	waitMeta  int   // the metadata lookup to wait for before sending
	nextSeq   int32
	nextOrd   int64
	notBefore time.Time // retry backoff
	lastCount int
	lastBytes int   // the size of its last batch, to size the next one's buffer
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
	resp    *kmsg.ProduceResponse // nil with acks=none
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

// IdempotenceError is a broker's refusal of the idempotent producer for
// good: not supported, or not authorized (IDEMPOTENT_WRITE).
type IdempotenceError struct{ Err error }

func (e *IdempotenceError) Error() string {
	return fmt.Sprintf("the broker refused the idempotent producer: %v", e.Err)
}

func (e *IdempotenceError) Unwrap() error { return e.Err }

// NoLeaderError is why a partition cannot be sent to: the metadata names
// no leader for it.
type NoLeaderError struct {
	Partition int32
	Err       error
}

func (e *NoLeaderError) Error() string {
	return fmt.Sprintf("partition %d has no leader: %v", e.Partition, e.Err)
}

func (e *NoLeaderError) Unwrap() error { return e.Err }

// producerID is a producer ID and its epoch: the batches of one are
// sequenced apart from those of another. Its id is -1 without idempotence.
type producerID struct {
	id    int64
	epoch int16
}

var noProducerID = producerID{id: -1, epoch: -1}

// leaders is a metadata lookup's answer: each partition's leader, or why
// it has none.
type leaders struct {
	n       int // the lookup's number
	brokers []*sarama.Broker
	errs    []error
}

// pidAnswer is an InitProducerID's outcome: a producer ID, or a refusal
// for good (err).
type pidAnswer struct {
	pid producerID
	err error
}

// NewBatcher returns a Batcher for the topic of cfg. With cfg.Idempotent it
// asks a broker for a producer ID first, for at most cfg.DeliveryTimeout
// (or until ctx is done), and fails if none answers; a broker's refusal for
// good turns idempotence off (see BatchConfig.IdempotenceOff).
func NewBatcher(ctx context.Context, c Cluster, cfg BatchConfig) (*Batcher, error) {
	return newBatcher(ctx, c, cfg, nil, noProducerID)
}

// newBatcher is NewBatcher, or with txnID a Batcher writing under the
// transactional producer ID pid, which the caller owns.
func newBatcher(ctx context.Context, c Cluster, cfg BatchConfig, txnID *string, pid producerID) (*Batcher, error) {
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
	if cfg.Acks != sarama.WaitForAll || txnID != nil {
		cfg.Idempotent = false
	}
	b := &Batcher{
		c: c, cfg: cfg, pick: pick, version: produceVersion(cfg.Version),
		batchMax: defaultBatchBytes, reqMax: defaultRequestBytes, pid: noProducerID, idem: cfg.Idempotent,
		in: make(chan handover, 1), spent: make(chan []pending, 8), done: make(chan struct{}), wake: make(chan struct{}, 1), ctl: make(chan func()),
		txnID: txnID,
		parts: make([]partState, cfg.Partitions), brokers: map[*sarama.Broker]*brokerState{},
		expiry: time.NewTimer(time.Hour),
		metaC:  make(chan leaders, 1), pidC: make(chan pidAnswer, 1),
	}
	b.quit, b.endQuit = context.WithCancel(context.Background())
	b.expiry.Stop()
	if cfg.MaxMessageBytes > 0 && cfg.MaxMessageBytes < b.batchMax {
		b.batchMax = cfg.MaxMessageBytes
	}
	b.conf = askConfig(c.Config())
	if conf := c.Config(); conf != nil {
		b.pool = kafkaconn.NewPool(conf)
	} else {
		b.pool = kafkaconn.NewPool(sarama.NewConfig())
	}
	// The client's metadata is fresh: it was read to find the topic.
	b.applyLeaders(b.lookup(0, false))
	if txnID != nil {
		b.takeProducerID(pidAnswer{pid: pid})
	}
	if b.idem {
		a, err := b.askProducerID(ctx, noProducerID, time.Now().Add(cfg.DeliveryTimeout))
		if err != nil {
			return nil, err
		}
		b.takeProducerID(a)
	}
	return b, nil
}

// askConfig is conf for the connections that ask for producer IDs: their
// answer may take no longer than a connection.
func askConfig(conf *sarama.Config) *sarama.Config {
	if conf == nil {
		conf = sarama.NewConfig()
	}
	cc := *conf
	if d := cc.Net.DialTimeout; d > 0 && d < cc.Net.ReadTimeout {
		cc.Net.ReadTimeout = d
	}
	return &cc
}

// Idempotent says whether batches carry a producer ID and sequence
// numbers.
func (b *Batcher) Idempotent() bool { return b.pid.id >= 0 }

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

// errNoBroker is the retriable error of a cluster whose client knows no
// broker.
var errNoBroker = errors.New("no broker known")

// initProducerIDVersion is the InitProducerID request version for
// brokers of version v; from 3 on a request carries the producer ID whose
// epoch to bump (KIP-360). The idempotent and transactional paths share it.
func initProducerIDVersion(v sarama.KafkaVersion) int16 {
	switch {
	case v.IsAtLeast(sarama.V2_7_0_0):
		return 4
	case v.IsAtLeast(sarama.V2_5_0_0):
		return 3
	case v.IsAtLeast(sarama.V2_4_0_0):
		return 2
	case v.IsAtLeast(sarama.V2_0_0_0):
		return 1
	}
	return 0
}

// askProducerID asks the brokers in turn for a producer ID (after cur,
// whose epoch the broker may bump, when cur has one) until one gives it,
// one refuses for good (the answer's err, an *IdempotenceError), ctx is
// done or, unless it is zero, deadline passes (an error). As the Java
// client, it retries what is retriable: a broker down, a coordinator
// loading after a restart (COORDINATOR_LOAD_IN_PROGRESS) or moving.
func (b *Batcher) askProducerID(ctx context.Context, cur producerID, deadline time.Time) (pidAnswer, error) {
	req := &sarama.InitProducerIDRequest{ProducerID: -1, ProducerEpoch: -1}
	req.Version = initProducerIDVersion(b.cfg.Version)
	if req.Version >= 3 && cur.id >= 0 {
		// KIP-360: the broker may bump the epoch of the producer ID.
		req.ProducerID, req.ProducerEpoch = cur.id, cur.epoch
	}
	var last error
	for attempt := 0; ; attempt++ {
		brokers := b.c.Brokers()
		var resp *sarama.InitProducerIDResponse
		err := errNoBroker
		if len(brokers) > 0 {
			// One broker after another: the first may be the one down.
			addr := brokers[attempt%len(brokers)].Addr()
			conn := sarama.NewBroker(addr)
			if err = conn.Open(b.conf); err == nil {
				resp, err = conn.InitProducerID(req)
				_ = conn.Close()
			}
		}
		if err == nil {
			err = resp.Err
			if errors.Is(err, sarama.ErrNoError) {
				return pidAnswer{pid: producerID{id: resp.ProducerID, epoch: resp.ProducerEpoch}}, nil
			}
		}
		if !kafkaerr.Retriable(err) {
			return pidAnswer{pid: noProducerID, err: &IdempotenceError{Err: err}}, nil
		}
		last = err
		wait := b.backoff(attempt + 1)
		if !deadline.IsZero() && time.Now().Add(wait).After(deadline) {
			return pidAnswer{}, fmt.Errorf("no producer ID within %s: %w", b.cfg.DeliveryTimeout, last)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return pidAnswer{}, ctx.Err()
		case <-t.C:
		}
	}
}

// takeProducerID starts the sequences of every partition afresh under a's
// producer ID, or without one when a broker refused.
func (b *Batcher) takeProducerID(a pidAnswer) {
	if a.err != nil {
		b.idem = false
		b.pid = noProducerID
		if b.cfg.IdempotenceOff != nil {
			b.cfg.IdempotenceOff(a.err)
		}
		return
	}
	b.pid = a.pid
	for i := range b.parts {
		b.parts[i].nextSeq = 0
	}
}

// requestProducerID asks for a new producer ID in the background, with
// bump the epoch after the current one: the batches not yet sequenced wait
// for it.
func (b *Batcher) requestProducerID() {
	if b.pidBusy || !b.idem {
		return
	}
	b.pidBusy = true
	cur := b.pid
	b.helpers.Add(1)
	go func() {
		defer b.helpers.Done()
		// No deadline: the records waiting fail by their own.
		a, err := b.askProducerID(b.quit, cur, time.Time{})
		if err != nil {
			return // the loop has ended
		}
		select {
		case b.pidC <- a:
		case <-b.quit.Done():
		}
	}()
}

// lookup reads every partition's leader from the metadata, refreshed first
// when refresh is true.
func (b *Batcher) lookup(n int, refresh bool) leaders {
	if refresh {
		_ = b.c.RefreshMetadata(b.cfg.Topic)
	}
	l := leaders{n: n, brokers: make([]*sarama.Broker, b.cfg.Partitions), errs: make([]error, b.cfg.Partitions)}
	writable, err := b.c.WritablePartitions(b.cfg.Topic)
	if err != nil {
		for i := range l.errs {
			l.errs[i] = err
		}
		return l
	}
	for i := range l.errs {
		l.errs[i] = sarama.ErrLeaderNotAvailable
	}
	for _, p := range writable {
		if p < 0 || p >= b.cfg.Partitions {
			continue
		}
		// A writable partition's leader is in the client's cache.
		l.brokers[p], l.errs[p] = b.c.Leader(b.cfg.Topic, p)
	}
	return l
}

// applyLeaders takes a lookup's answer: where each partition's batches go
// next, and which partitions keyless records may go to.
func (b *Batcher) applyLeaders(l leaders) {
	avail := make([]int32, 0, len(l.brokers))
	for i := range b.parts {
		ps := &b.parts[i]
		ps.leader, ps.noLeader = l.brokers[i], nil
		if ps.leader == nil {
			ps.noLeader = &NoLeaderError{Partition: int32(i), Err: l.errs[i]}
		} else {
			avail = append(avail, int32(i))
		}
	}
	b.pick.available(avail)
	b.metaDone = l.n
}

// requestMeta asks for a metadata lookup that starts after now, in the
// background, and returns its number.
func (b *Batcher) requestMeta() int {
	if !b.metaBusy {
		b.startMeta()
		return b.metaIssued
	}
	b.metaWant = b.metaIssued + 1
	return b.metaWant
}

func (b *Batcher) startMeta() {
	b.metaBusy = true
	b.metaIssued++
	n := b.metaIssued
	b.helpers.Add(1)
	go func() {
		defer b.helpers.Done()
		l := b.lookup(n, true)
		select {
		case b.metaC <- l:
		case <-b.quit.Done():
		}
	}()
}

// reporter is told the outcome of every record a Batcher takes: a
// Producer, or a Sender. Its methods run on the Batcher's loop goroutine.
type reporter interface {
	// ackRun acknowledges a batch's records at offsets base, base+1, ...
	// (-1 each when base is, with acks=none).
	ackRun(from []origin, partition int32, base int64)
	failAt(o origin, err error)
	// timedOut says records failed for the delivery timeout.
	timedOut()
	// flushOffsets is called after each round of answers.
	flushOffsets()
	// heldBytes is memory the reporter holds for records, counted
	// against MaxBuffered.
	heldBytes() int64
}

func (b *Batcher) start(p reporter) {
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
// answers as they come, and sends whatever can go after each. Before it
// returns, the goroutines it started have ended.
func (b *Batcher) loop() {
	defer close(b.done)
	defer b.pool.Close()
	defer b.helpers.Wait()
	// Requests may still be in flight (their batches timed out): their
	// readers wait no longer.
	defer b.pool.Interrupt()
	defer b.endQuit()
	defer b.expiry.Stop()
	in := b.in
	for {
		var inC <-chan handover
		// The reorder window for Offsets counts too: acknowledgements
		// wait there behind a stalled partition's.
		if in != nil && b.buffered+int(b.p.heldBytes()) < b.cfg.MaxBuffered {
			inC = in
		}
		if in != nil && inC == nil {
			// No record comes to fill the open batches: they go as
			// they are, or would wait for their delivery timeout.
			b.flushAll = true
			b.full.Store(true)
		} else {
			b.full.Store(false)
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
		case l := <-b.metaC:
			b.metaBusy = false
			b.applyLeaders(l)
			if b.metaWant > b.metaIssued {
				b.startMeta()
			}
		case a := <-b.pidC:
			b.pidBusy = false
			b.takeProducerID(a)
		case <-b.expiry.C:
			b.expiryAt = time.Time{}
		case f := <-b.ctl:
			f()
		}
		b.expire(time.Now())
		b.trySend()
		b.armRetry()
		b.armExpiry()
	}
}

// add writes each record of h into its partition's open batch.
func (b *Batcher) add(h handover) {
	start := time.Now()
	now := start.UnixMilli()
	for i := range h.msgs {
		m := &h.msgs[i]
		part := m.partition
		if part < 0 {
			part = b.pick.pick(m.key)
		}
		ms := now
		if !m.timestamp.IsZero() {
			ms = m.timestamp.UnixMilli()
		}
		ps := &b.parts[part]
		bt := ps.open
		var body int
		if bt != nil {
			body = recordBody(ms-bt.firstMs, bt.count, m.key, m.value, m.headers)
			if bt.bytes+recordLen(body) > b.batchMax {
				b.closeOpen(part)
				bt = nil
			}
		}
		if bt == nil {
			body = recordBody(0, 0, m.key, m.value, m.headers)
			bt = b.newBatch(part, start, recordLen(body))
			ps.open = bt
			b.pending = append(b.pending, bt)
			b.unreported++
			bt.firstMs, bt.maxMs = ms, ms
		} else if ms > bt.maxMs {
			bt.maxMs = ms
		}
		size := recordLen(body)
		if len(bt.buf)+size > cap(bt.buf) {
			b.grow(bt, len(bt.buf)+size)
		}
		bt.buf = appendRecord(bt.buf, body, ms-bt.firstMs, bt.count, m.key, m.value, m.headers)
		bt.count++
		bt.from = append(bt.from, origin{seq: m.seq, input: m.input, line: m.line})
		bt.bytes += size
		bt.mem += recordMemory
		b.buffered += recordMemory
		if bt.bytes >= b.batchMax {
			b.closeOpen(part)
		}
	}
	// Every record is copied out: the reader may fill the block and the
	// slice again.
	h.blk.release()
	if cap(h.msgs) == batchSize {
		clear(h.msgs) // drop what the records pointed to
		select {
		case b.spent <- h.msgs[:0]:
		default:
		}
	}
}

// newBatch opens a batch for partition part, for a first record of first
// bytes, sized as its last one, in spare memory when there is some.
func (b *Batcher) newBatch(part int32, now time.Time, first int) *batch {
	ps := &b.parts[part]
	// Room for a few more records than its last batch had: the next
	// ones may be a little shorter.
	n := ps.lastCount + ps.lastCount/8
	if n == 0 {
		n = 16
	}
	bt := &batch{partition: part, bytes: batchHeader, deadline: now.Add(b.cfg.DeliveryTimeout)}
	if bt.from = takeSpare(&b.spare.from); bt.from == nil {
		bt.from = make([]origin, 0, n)
	}
	want := min(ps.lastBytes+ps.lastBytes/8, b.batchMax)
	bt.buf = b.takeBuf(max(want, rbHeaderLen+first, minBuf))[:rbHeaderLen]
	bt.mem = cap(bt.buf)
	b.buffered += bt.mem
	return bt
}

// grow makes room for need bytes in bt's buffer: twice its size, up to a
// full batch.
func (b *Batcher) grow(bt *batch, need int) {
	size := max(need, min(2*cap(bt.buf), b.batchMax))
	buf := append(b.takeBuf(size), bt.buf...)
	b.putBuf(bt.buf)
	bt.mem += cap(buf) - cap(bt.buf)
	b.buffered += cap(buf) - cap(bt.buf)
	bt.buf = buf
}

func (b *Batcher) closeOpen(part int32) {
	ps := &b.parts[part]
	if ps.open == nil {
		return
	}
	ps.lastCount = ps.open.count
	ps.lastBytes = ps.open.bytes
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
				// The metadata names no leader: the batch waits for one
				// as after any retriable error.
				if len(ps.queue) == 0 {
					b.closeOpen(part)
				}
				bt := ps.queue[0]
				ps.queue[0] = nil
				ps.queue = ps.queue[1:]
				bt.err, bt.retriable = ps.noLeader, true
				if bt.err == nil {
					bt.err = &NoLeaderError{Partition: part, Err: sarama.ErrLeaderNotAvailable}
				}
				b.putBack(bt)
				if ps.inFlight == 0 {
					b.settle(part)
				}
				break
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
			bt.flying = true
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
	if len(ps.back) > 0 || ps.inFlight >= b.cfg.MaxInFlight || now.Before(ps.notBefore) || ps.waitMeta > b.metaDone {
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
	if !next.sequenced && b.pidBusy {
		return false // a new producer ID is on its way
	}
	return ps.inFlight == 0 || b.pidOf(next) == ps.flightPID
}

// pidOf is the producer ID bt goes with: its own once sequenced, else the
// current one.
func (b *Batcher) pidOf(bt *batch) producerID {
	if bt.sequenced {
		return bt.pid
	}
	return b.pid
}

// fire sends batches to broker in one request; the answer comes back
// through b.completed.
func (b *Batcher) fire(broker *sarama.Broker, batches []*batch) {
	req := kmsg.NewPtrProduceRequest()
	req.Version = b.version
	req.Acks = int16(b.cfg.Acks)
	req.TimeoutMillis = int32(b.cfg.Timeout / time.Millisecond)
	// Only a transaction's own producer may write its batches.
	req.TransactionID = b.txnID
	parts := make([]kmsg.ProduceRequestTopicPartition, len(batches))
	for i, bt := range batches {
		parts[i] = kmsg.ProduceRequestTopicPartition{Partition: bt.partition, Records: b.recordBatch(bt)}
	}
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: b.cfg.Topic, Partitions: parts}}
	b.inFlight++
	done := func(resp *kmsg.ProduceResponse, err error) {
		b.mu.Lock()
		b.completed = append(b.completed, completion{broker: broker, batches: batches, resp: resp, err: err})
		b.mu.Unlock()
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	b.writer(broker).push(outgoing{req: req, done: done})
}

// outgoing is a produce request on its way to a broker's connection, and
// what to call with its answer.
type outgoing struct {
	req  *kmsg.ProduceRequest
	done func(*kmsg.ProduceResponse, error)
	conn *kafkaconn.Conn // it was written to, for its answer
}

// brokerWriter writes one broker's requests, in the order the loop fires
// them, on a goroutine of its own, and reads their answers, in the same
// order, on another: the loop never waits on the connection, and the
// requests of MaxInFlight are on the wire at once. They live as long as
// the loop, so that a broker's requests never go through two writers.
type brokerWriter struct {
	addr   string
	pool   *kafkaconn.Pool
	acks   sarama.RequiredAcks
	writes fifo
	reads  fifo
}

// fifo is a queue of requests between two goroutines.
type fifo struct {
	mu    sync.Mutex
	queue []outgoing
	wake  chan struct{}
}

// push queues o; it never waits.
func (f *fifo) push(o outgoing) {
	f.mu.Lock()
	f.queue = append(f.queue, o)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// take waits for what is queued and returns it in place of spent, or nil
// once quit is done.
func (f *fifo) take(quit context.Context, spent []outgoing) []outgoing {
	clear(spent)
	for {
		f.mu.Lock()
		got := f.queue
		if len(got) > 0 {
			f.queue = spent[:0]
			f.mu.Unlock()
			return got
		}
		f.mu.Unlock()
		select {
		case <-quit.Done():
			return nil
		case <-f.wake:
		}
	}
}

// writer returns broker's writer, started at its first request.
func (b *Batcher) writer(broker *sarama.Broker) *brokerWriter {
	if w := b.writers[broker]; w != nil {
		return w
	}
	w := &brokerWriter{addr: broker.Addr(), pool: b.pool, acks: b.cfg.Acks,
		writes: fifo{wake: make(chan struct{}, 1)}, reads: fifo{wake: make(chan struct{}, 1)}}
	if b.writers == nil {
		b.writers = map[*sarama.Broker]*brokerWriter{}
	}
	b.writers[broker] = w
	b.helpers.Add(2)
	go func() {
		defer b.helpers.Done()
		w.write(b.quit)
	}()
	go func() {
		defer b.helpers.Done()
		w.read(b.quit)
	}()
	return w
}

// push queues o; it never waits.
func (w *brokerWriter) push(o outgoing) { w.writes.push(o) }

// write writes what is queued until quit is done; what is left then, the
// loop no longer waits for. A failed connection fails its request, and
// the next one dials anew.
func (w *brokerWriter) write(quit context.Context) {
	var batch []outgoing
	var scratch []byte
	for {
		if batch = w.writes.take(quit, batch); batch == nil {
			return
		}
		for _, o := range batch {
			conn, err := w.pool.Get(w.addr)
			if err == nil {
				// The batches go to the connection as they are.
				var body net.Buffers
				body, scratch = produceBody(o.req, scratch)
				err = conn.WriteBody(o.req, body)
			}
			if err != nil || w.acks == sarama.NoResponse {
				// acks=none has no answer to wait for.
				o.done(nil, err)
				continue
			}
			o.conn = conn
			w.reads.push(o)
		}
	}
}

// read reads the answers to the requests written, oldest first, until quit
// is done (the loop interrupts the connections then).
func (w *brokerWriter) read(quit context.Context) {
	var batch []outgoing
	var buf []byte
	for {
		if batch = w.reads.take(quit, batch); batch == nil {
			return
		}
		for _, o := range batch {
			resp := o.req.ResponseKind().(*kmsg.ProduceResponse)
			var err error
			buf, err = o.conn.Read(resp, buf)
			if err != nil {
				resp = nil
			}
			o.done(resp, err)
		}
	}
}

// recordBatch is bt as sent: its header written, with its sequence
// numbers (assigned at the first send, kept for retries) and, the first
// time, its records compressed. A retry sends the same bytes.
func (b *Batcher) recordBatch(bt *batch) []byte {
	if bt.built {
		return bt.wire
	}
	if !bt.sequenced && b.pid.id >= 0 {
		ps := &b.parts[bt.partition]
		bt.seq, bt.pid, bt.sequenced = ps.nextSeq, b.pid, true
		ps.nextSeq = nextSequence(ps.nextSeq, bt.count)
	}
	if bt.wire == nil {
		bt.wire = bt.buf
		if codec := b.cfg.Compression; codec != sarama.CompressionNone {
			records := bt.buf[rbHeaderLen:]
			out, err := compressRecords(b.takeBuf(rbHeaderLen + len(records)/2)[:rbHeaderLen], codec, records)
			// The codecs write into memory and cannot fail on it;
			// a batch that could not be compressed would go as it
			// is.
			if err == nil {
				bt.wire, bt.compressed = out, true
				// The records are not needed any more: the header
				// is all a retry may change.
				d := cap(out) - cap(bt.buf)
				bt.mem += d
				b.buffered += d
				b.putBuf(bt.buf)
				bt.buf = nil
			}
		}
	}
	f := batchFields{count: bt.count, firstMs: bt.firstMs, maxMs: bt.maxMs, pid: noProducerID, seq: -1,
		transactional: b.txnID != nil}
	if bt.compressed {
		f.codec = b.cfg.Compression
	}
	if bt.sequenced {
		f.pid, f.seq = bt.pid, bt.seq
	}
	writeBatchHeader(bt.wire, f)
	bt.built = true
	return bt.wire
}

// dropRB forgets bt's sequence numbers: its header is written anew at its
// next send.
func (b *Batcher) dropRB(bt *batch) {
	bt.sequenced, bt.built = false, false
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
			bt.flying = false
		}
		if c.err != nil {
			retriable := kafkaerr.Retriable(c.err)
			if retriable {
				// The connection is gone or stuck (and closed): the
				// next send opens a new one, to the leader the
				// metadata names then.
				delete(b.brokers, c.broker)
			}
			for _, bt := range c.batches {
				back(bt, c.err, retriable)
			}
			continue
		}
		ans := answers(c.resp, b.cfg.Topic, c.batches)
		for i, bt := range c.batches {
			if c.resp == nil {
				b.ack(bt, -1)
				continue
			}
			blk := ans[i]
			var err error
			if blk != nil {
				err = sarama.KError(blk.ErrorCode)
			}
			switch {
			case blk == nil:
				back(bt, sarama.ErrIncompleteResponse, true)
			case errors.Is(err, sarama.ErrNoError):
				b.ack(bt, blk.BaseOffset)
			case bt.sequenced && errors.Is(err, sarama.ErrDuplicateSequenceNumber):
				// An earlier attempt was written: this is its answer.
				b.ack(bt, blk.BaseOffset)
			default:
				back(bt, err, kafkaerr.Retriable(err))
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

// answers are resp's answers for topic's batches, in their order; nil
// where the response has none (or there is no response).
func answers(resp *kmsg.ProduceResponse, topic string, batches []*batch) []*kmsg.ProduceResponseTopicPartition {
	if resp == nil {
		return nil
	}
	ans := make([]*kmsg.ProduceResponseTopicPartition, len(batches))
	at := make(map[int32]int, len(batches))
	for i, bt := range batches {
		at[bt.partition] = i
	}
	for t := range resp.Topics {
		rt := &resp.Topics[t]
		if rt.Topic != topic {
			continue
		}
		for p := range rt.Partitions {
			if i, ok := at[rt.Partitions[p].Partition]; ok {
				ans[i] = &rt.Partitions[p]
			}
		}
	}
	return ans
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
// with its own sequence numbers, without counting an attempt. The first in
// line refused as out of order or of an unknown producer ID was not
// written, nor any after it: as the Java client does (KIP-360), they go
// again, sequenced afresh under a bumped epoch. Others go again after a
// backoff while the error is retriable and attempts remain, or fail. When
// a sequenced batch fails, whether the broker wrote it cannot be told, so
// the later sequence numbers are void: the later batches the broker
// refused (and so did not write) go again under a new producer ID, and
// those whose fate is unknown fail.
func (b *Batcher) settle(part int32) {
	ps := &b.parts[part]
	back := ps.back
	ps.back = nil
	b.recovering--
	sort.Slice(back, func(i, j int) bool { return back[i].ord < back[j].ord })
	var again []*batch
	broken, reset, newPID := false, false, false
	afterBroken := func(bt *batch) {
		if bt.reported || bt.sequenced && !notWritten(bt.err) {
			b.fail(bt, bt.err)
			return
		}
		b.dropRB(bt)
		again = append(again, bt)
	}
	afterReset := func(bt *batch) {
		if bt.reported {
			b.fail(bt, bt.err)
			return
		}
		b.dropRB(bt)
		again = append(again, bt)
	}
	for _, bt := range back {
		switch {
		case broken:
			afterBroken(bt)
		case reset:
			afterReset(bt)
		case !bt.reported && len(again) > 0 && bt.sequenced && sequenceGap(bt.err):
			again = append(again, bt)
		default:
			bt.attempts++
			mayRetry := !bt.reported && (b.cfg.Retries <= 0 || bt.attempts <= b.cfg.Retries)
			// In a transaction a gap aborts it: the Sender bumps the
			// epoch then, as the coordinator must know of it.
			if mayRetry && bt.sequenced && sequenceGap(bt.err) && b.txnID == nil {
				reset = true
				newPID = newPID || bt.pid == b.pid
				afterReset(bt)
				continue
			}
			if bt.retriable && mayRetry {
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
	if broken || reset {
		// Retries still queued from an earlier round follow the first
		// batch too.
		queue = nil
		for _, bt := range ps.queue {
			switch {
			case !bt.sequenced:
				queue = append(queue, bt)
			case broken:
				afterBroken(bt)
			default:
				afterReset(bt)
			}
		}
	}
	ps.queue = append(again, queue...)
	if newPID {
		// A new producer ID (or epoch) starts every partition's sequence
		// afresh; a refusal turns idempotence off.
		b.requestProducerID()
	}
	if len(again) > 0 {
		ps.leader = nil
		ps.waitMeta = b.requestMeta()
		ps.notBefore = time.Now().Add(b.backoff(again[0].attempts))
	}
}

// sequenceGap says the broker refused a batch for its sequence: out of
// order, or of a producer ID it does not know (its state was lost).
func sequenceGap(err error) bool {
	return errors.Is(err, sarama.ErrOutOfOrderSequenceNumber) || errors.Is(err, sarama.ErrUnknownProducerID)
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
	return sequenceGap(err) || errors.Is(err, sarama.ErrNotLeaderForPartition)
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
	if !bt.flying {
		// Nothing refers to its memory any more: a batch timed out in
		// flight is left to the garbage collector, as its request may
		// still be answered.
		b.recycle(bt)
	}
	bt.buf, bt.from, bt.wire = nil, nil, nil
	return from
}

func (b *Batcher) ack(bt *batch, base int64) {
	flying := bt.flying
	if from := b.finish(bt); from != nil {
		b.p.ackRun(from, bt.partition, base)
		if !flying {
			putSpare(&b.spare.from, from, maxSpares)
		}
	}
}

// fail reports every record of bt as failed with err.
func (b *Batcher) fail(bt *batch, err error) {
	flying := bt.flying
	from := b.finish(bt)
	for _, o := range from {
		b.p.failAt(o, err)
	}
	if !flying {
		putSpare(&b.spare.from, from, maxSpares)
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
