package produce

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// SenderCluster is what a Sender needs of a Kafka client; sarama.Client
// has it. Beyond a Batcher's needs it finds a topic's partitions and, for
// transactions, the coordinators.
type SenderCluster interface {
	Cluster
	Partitions(topic string) ([]int32, error)
	TransactionCoordinator(transactionID string) (*sarama.Broker, error)
	RefreshTransactionCoordinator(transactionID string) error
	Coordinator(group string) (*sarama.Broker, error)
	RefreshCoordinator(group string) error
}

var _ SenderCluster = sarama.Client(nil)

// SenderConfig says how a Sender sends: Batch as for a Batcher (its Topic
// and Partitions are each topic's own, found when a record first goes
// there), and, with TransactionalID, in transactions.
type SenderConfig struct {
	Batch BatchConfig
	// TransactionalID makes the Sender transactional: it is the Kafka
	// transactional.id. A new Sender with the same id fences any producer
	// that had it and aborts the transaction that one left open.
	TransactionalID string
	// TransactionTimeout is how long the coordinator lets a transaction
	// stay open before it aborts it; zero is a minute, as in the Java
	// client.
	TransactionTimeout time.Duration
}

// Message is one record for a Sender to send.
type Message struct {
	Topic      string
	Key, Value []byte // nil is null
	Headers    []sarama.RecordHeader
	// Partition is where the record goes; -1 leaves it to the
	// partitioner.
	Partition int32
	// Timestamp is the record's; zero is the time it is sent.
	Timestamp time.Time
}

// Result is a record's outcome: where it was written, or why it was not.
type Result struct {
	Partition int32
	Offset    int64
	Err       error
}

// Sender sends records one at a time for a program, as an agent's output
// or a dead letter: Send hands a record over with a function told its
// outcome. It is the produce engine of Producer, a Batcher per topic, with
// its batching, idempotence, retries, memory bound and delivery timeout:
// every record's outcome is known within BatchConfig.DeliveryTimeout.
// Records of a topic's partition are written in the order Send took them.
// With SenderConfig.TransactionalID, records are sent in transactions
// (BeginTxn, CommitTxn, AbortTxn) that may commit a consumer group's
// offsets too. Send and Flush may be called from several goroutines; the
// transaction methods must not run at the same time as Send.
type Sender struct {
	c   SenderCluster
	cfg SenderConfig

	mu      sync.Mutex // held while a topic's Batcher starts
	topics  map[string]*Batcher
	failed  error // why the Sender cannot go on (a fenced producer)
	closing bool

	// wmu guards the records awaiting an outcome.
	wmu     sync.Mutex
	seq     int64
	waiting map[int64]func(Result)
	idle    []chan struct{} // closed when waiting empties
	// txnErr is the first failure of a record in the open transaction.
	txnErr error

	txn *txnState // nil unless transactional
}

// NewSender returns a Sender. A transactional one first gets its producer
// ID from the transaction coordinator, within the delivery timeout.
func NewSender(ctx context.Context, c SenderCluster, cfg SenderConfig) (*Sender, error) {
	if cfg.Batch.DeliveryTimeout <= 0 {
		cfg.Batch.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = time.Minute
	}
	s := &Sender{c: c, cfg: cfg, topics: map[string]*Batcher{}, waiting: map[int64]func(Result){}}
	if cfg.TransactionalID != "" {
		if cfg.Batch.Acks != sarama.WaitForAll {
			return nil, errors.New("transactions need acks=all")
		}
		s.txn = &txnState{id: cfg.TransactionalID, pid: noProducerID}
		if err := s.initTxn(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Send hands r over to be sent; done is told its outcome, once, on a
// goroutine of the Sender's, and must not block or call Send. Send waits
// while memory is at its bound (until ctx is done). It fails, and done is
// not called, when r's topic cannot be found or its partition does not
// exist (a *PartitionError), when ctx is done, or when the Sender cannot go
// on (a fenced transactional producer).
func (s *Sender) Send(ctx context.Context, r Message, done func(Result)) error {
	b, err := s.batcher(ctx, r.Topic)
	if err != nil {
		return err
	}
	if r.Partition >= b.cfg.Partitions {
		return &PartitionError{Partition: r.Partition, Partitions: b.cfg.Partitions}
	}
	s.wmu.Lock()
	seq := s.seq
	s.seq++
	s.waiting[seq] = done
	s.wmu.Unlock()
	part := r.Partition
	if part < 0 {
		part = -1
	}
	h := handover{msgs: []pending{{key: r.Key, value: r.Value, headers: r.Headers, timestamp: r.Timestamp,
		seq: seq, partition: part}}, paused: true}
	if !b.send(ctx, h) {
		s.wmu.Lock()
		delete(s.waiting, seq)
		s.wakeIdle()
		s.wmu.Unlock()
		return ctx.Err()
	}
	return nil
}

// Flush waits until every record sent so far has its outcome, or ctx is
// done.
func (s *Sender) Flush(ctx context.Context) error {
	s.wmu.Lock()
	if len(s.waiting) == 0 {
		s.wmu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	s.idle = append(s.idle, ch)
	s.wmu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close waits for the outcome of every record sent and stops the Sender's
// goroutines. A transaction still open is aborted (within the delivery
// timeout).
func (s *Sender) Close() error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	var err error
	if s.txn != nil && s.txn.open {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Batch.DeliveryTimeout)
		err = s.AbortTxn(ctx)
		cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.topics {
		b.close()
	}
	s.topics = map[string]*Batcher{}
	return err
}

// errSenderClosed is why Send fails after Close.
var errSenderClosed = errors.New("the sender is closed")

// batcher is topic's Batcher, started at its first record (in a
// transaction, its partitions are added to it then).
func (s *Sender) batcher(ctx context.Context, topic string) (*Batcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return nil, s.failed
	}
	if s.closing {
		return nil, errSenderClosed
	}
	b := s.topics[topic]
	if b == nil {
		if err := s.c.RefreshMetadata(topic); err != nil {
			return nil, fmt.Errorf("topic %q: %w", topic, err)
		}
		parts, err := s.c.Partitions(topic)
		if err != nil {
			return nil, fmt.Errorf("topic %q: %w", topic, err)
		}
		cfg := s.cfg.Batch
		cfg.Topic, cfg.Partitions = topic, int32(len(parts))
		if s.txn != nil {
			b, err = newBatcher(ctx, s.c, cfg, &s.txn.id, s.txn.pid)
		} else {
			b, err = NewBatcher(ctx, s.c, cfg)
		}
		if err != nil {
			return nil, err
		}
		b.start(s)
		s.topics[topic] = b
	}
	if s.txn != nil && s.txn.open && !s.txn.added[topic] {
		if err := s.addPartitions(ctx, topic, b.cfg.Partitions); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// report tells record seq's outcome, then forgets it: Flush returns
// only after done has run.
func (s *Sender) report(seq int64, r Result) {
	s.wmu.Lock()
	done := s.waiting[seq]
	s.wmu.Unlock()
	if done != nil {
		done(r)
	}
	s.wmu.Lock()
	delete(s.waiting, seq)
	s.wakeIdle()
	s.wmu.Unlock()
}

// wakeIdle tells Flush when nothing awaits an outcome; s.wmu is held.
func (s *Sender) wakeIdle() {
	if len(s.waiting) > 0 {
		return
	}
	for _, ch := range s.idle {
		close(ch)
	}
	s.idle = nil
}

func (s *Sender) ackRun(from []origin, partition int32, base int64) {
	for i, o := range from {
		off := int64(-1)
		if base >= 0 {
			off = base + int64(i)
		}
		s.report(o.seq, Result{Partition: partition, Offset: off})
	}
}

func (s *Sender) failAt(o origin, err error) {
	s.wmu.Lock()
	if s.txnErr == nil {
		s.txnErr = err
	}
	s.wmu.Unlock()
	s.report(o.seq, Result{Partition: -1, Offset: -1, Err: err})
}

func (s *Sender) timedOut()        {}
func (s *Sender) flushOffsets()    {}
func (s *Sender) heldBytes() int64 { return 0 }
