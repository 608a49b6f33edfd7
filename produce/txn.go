package produce

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkaerr"
)

// txnState is a transactional Sender's: its producer ID, and the open
// transaction's partitions.
type txnState struct {
	id    string
	pid   producerID
	open  bool
	added map[string]bool // topics whose partitions are in the transaction
	// offsets says the transaction holds a group's offsets.
	offsets bool
}

// TxnOffsets are a consumer group's offsets to commit in a transaction,
// with the group member's facts so that a member the group has moved on
// from cannot commit (KIP-447).
type TxnOffsets struct {
	Group        string
	GenerationID int32
	MemberID     string
	InstanceID   string // the static member's, if any
	// Offsets are the next offsets to read, per topic and partition.
	Offsets map[string]map[int32]int64
}

// TxnError is a transaction that could not be committed: Op says which
// step failed. The transaction was aborted (Abort is why not, if it could
// not be).
type TxnError struct {
	ID    string // the transactional id
	Op    string
	Err   error
	Abort error
}

func (e *TxnError) Error() string {
	s := fmt.Sprintf("transaction %q: %s: %v", e.ID, e.Op, e.Err)
	if e.Abort != nil {
		s += fmt.Sprintf("; aborting it failed too: %v", e.Abort)
	}
	return s
}

func (e *TxnError) Unwrap() []error { return []error{e.Err, e.Abort} }

// FencedError says another producer took the transactional id (a newer
// instance of the same worker): this one may write nothing more.
type FencedError struct {
	ID  string
	Err error
}

func (e *FencedError) Error() string {
	why := e.Err.Error()
	if e.Err == sarama.ErrProducerFenced {
		// sarama has no text for this code (Kafka 2.7 and later send it).
		why = "kafka server: the producer was fenced (PRODUCER_FENCED)"
	}
	return fmt.Sprintf("transactional id %q is in use by a newer producer: %s", e.ID, why)
}

func (e *FencedError) Unwrap() error { return e.Err }

// ErrNotTransactional is why a transaction method fails on a Sender
// without a transactional id.
var ErrNotTransactional = errors.New("the sender is not transactional")

// ErrTxnState is why BeginTxn fails in a transaction, and CommitTxn or
// AbortTxn outside one.
var ErrTxnState = errors.New("no transaction may begin or end here")

// fenced says err means a newer producer has the transactional id.
func fenced(err error) bool {
	return errors.Is(err, sarama.ErrProducerFenced) || errors.Is(err, sarama.ErrInvalidProducerEpoch) ||
		errors.Is(err, sarama.ErrTransactionCoordinatorFenced)
}

// txnVersion is the version of the transaction requests (AddPartitions,
// AddOffsets, EndTxn) that v speaks.
func txnVersion(v sarama.KafkaVersion) int16 {
	switch {
	case v.IsAtLeast(sarama.V2_8_0_0):
		return 3
	case v.IsAtLeast(sarama.V2_7_0_0):
		return 2
	case v.IsAtLeast(sarama.V2_0_0_0):
		return 1
	}
	return 0
}

// coordinated calls fn with the transaction coordinator until it succeeds
// or fails for good, within the delivery timeout. A newer producer's
// fencing stops the Sender.
func (s *Sender) coordinated(ctx context.Context, fn func(*sarama.Broker) error) error {
	id := s.txn.id
	err := kafkaerr.Retry(ctx, s.cfg.Batch.DeliveryTimeout, func() { _ = s.c.RefreshTransactionCoordinator(id) }, func() error {
		br, err := s.c.TransactionCoordinator(id)
		if err != nil {
			return err
		}
		err = fn(br)
		var ke sarama.KError
		if err != nil && !errors.As(err, &ke) {
			// The connection failed: the next attempt opens another.
			_ = br.Close()
		}
		return err
	})
	if fenced(err) {
		err = &FencedError{ID: id, Err: err}
		s.mu.Lock()
		s.failed = err
		s.mu.Unlock()
	}
	return err
}

// initTxn gets the transactional producer ID, or a new epoch of it (which
// restarts every partition's sequence numbers), and gives it to every
// Batcher. The coordinator aborts what an earlier producer with the id
// left open, and fences that producer.
func (s *Sender) initTxn(ctx context.Context) error {
	req := &sarama.InitProducerIDRequest{TransactionalID: &s.txn.id, TransactionTimeout: s.cfg.TransactionTimeout,
		ProducerID: -1, ProducerEpoch: -1}
	req.Version = initProducerIDVersion(s.cfg.Batch.Version)
	if req.Version >= 3 && s.txn.pid.id >= 0 {
		req.ProducerID, req.ProducerEpoch = s.txn.pid.id, s.txn.pid.epoch
	}
	var pid producerID
	err := s.coordinated(ctx, func(br *sarama.Broker) error {
		resp, err := br.InitProducerID(req)
		if err != nil {
			return err
		}
		if !errors.Is(resp.Err, sarama.ErrNoError) {
			return resp.Err
		}
		pid = producerID{id: resp.ProducerID, epoch: resp.ProducerEpoch}
		return nil
	})
	if err != nil {
		return fmt.Errorf("transactional id %q: no producer ID: %w", s.txn.id, err)
	}
	s.txn.pid = pid
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.topics {
		done := make(chan struct{})
		b.ctl <- func() {
			b.takeProducerID(pidAnswer{pid: pid})
			close(done)
		}
		<-done
	}
	return nil
}

// BeginTxn opens a transaction: the records sent until CommitTxn or
// AbortTxn are in it.
func (s *Sender) BeginTxn() error {
	if s.txn == nil {
		return ErrNotTransactional
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	if s.txn.open {
		return ErrTxnState
	}
	s.txn.open, s.txn.added, s.txn.offsets = true, map[string]bool{}, false
	s.wmu.Lock()
	s.txnErr = nil
	s.wmu.Unlock()
	return nil
}

// addPartitions puts every partition of topic in the open transaction
// before its first record goes: one request per topic and transaction,
// whichever partitions the records pick. s.mu is held.
func (s *Sender) addPartitions(ctx context.Context, topic string, n int32) error {
	parts := make([]int32, n)
	for i := range parts {
		parts[i] = int32(i)
	}
	req := &sarama.AddPartitionsToTxnRequest{Version: txnVersion(s.cfg.Batch.Version), TransactionalID: s.txn.id,
		ProducerID: s.txn.pid.id, ProducerEpoch: s.txn.pid.epoch, TopicPartitions: map[string][]int32{topic: parts}}
	s.mu.Unlock()
	err := s.coordinated(ctx, func(br *sarama.Broker) error {
		resp, err := br.AddPartitionsToTxn(req)
		if err != nil {
			return err
		}
		for _, pe := range resp.Errors[topic] {
			if !errors.Is(pe.Err, sarama.ErrNoError) {
				// OPERATION_NOT_ATTEMPTED is the others' answer when one
				// partition fails: the failing one says why.
				if errors.Is(pe.Err, sarama.ErrOperationNotAttempted) {
					continue
				}
				return pe.Err
			}
		}
		return nil
	})
	s.mu.Lock()
	if err != nil {
		return &TxnError{ID: s.txn.id, Op: fmt.Sprintf("adding topic %q", topic), Err: err}
	}
	s.txn.added[topic] = true
	return nil
}

// CommitTxn waits for the outcome of every record of the transaction, then
// commits it with offs, if not nil: a read_committed reader sees its
// records, and the group's offsets move, together or not at all. When a
// record failed, or a step of the commit, the transaction is aborted and
// the error is a *TxnError (a *FencedError inside it when a newer producer
// has the id). When ctx is done first, the transaction stays open.
func (s *Sender) CommitTxn(ctx context.Context, offs *TxnOffsets) error {
	if s.txn == nil {
		return ErrNotTransactional
	}
	if !s.txn.open {
		return ErrTxnState
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	s.wmu.Lock()
	failed := s.txnErr
	s.wmu.Unlock()
	fail := func(op string, err error) error {
		return &TxnError{ID: s.txn.id, Op: op, Err: err, Abort: s.AbortTxn(ctx)}
	}
	if failed != nil {
		return fail("sending", failed)
	}
	if offs != nil && len(offs.Offsets) > 0 {
		if err := s.commitOffsets(ctx, offs); err != nil {
			return fail("committing the offsets of group "+fmt.Sprintf("%q", offs.Group), err)
		}
	}
	if err := s.endTxn(ctx, true); err != nil {
		return fail("committing", err)
	}
	return nil
}

// AbortTxn waits for the outcome of every record of the transaction, then
// aborts it: no read_committed reader sees its records, and the group's
// offsets stay where they were. After a failed record it takes a new epoch,
// so that the next transaction's sequence numbers start afresh.
func (s *Sender) AbortTxn(ctx context.Context) error {
	if s.txn == nil {
		return ErrNotTransactional
	}
	if !s.txn.open {
		return ErrTxnState
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	if err := s.endTxn(ctx, false); err != nil {
		return err
	}
	s.wmu.Lock()
	failed := s.txnErr
	s.wmu.Unlock()
	if failed != nil {
		return s.initTxn(ctx)
	}
	return nil
}

// endTxn ends the open transaction; one that holds nothing has nothing to
// tell the coordinator.
func (s *Sender) endTxn(ctx context.Context, commit bool) error {
	if len(s.txn.added) == 0 && !s.txn.offsets {
		s.txn.open = false
		return nil
	}
	req := &sarama.EndTxnRequest{Version: txnVersion(s.cfg.Batch.Version), TransactionalID: s.txn.id,
		ProducerID: s.txn.pid.id, ProducerEpoch: s.txn.pid.epoch, TransactionResult: commit}
	err := s.coordinated(ctx, func(br *sarama.Broker) error {
		resp, err := br.EndTxn(req)
		if err != nil {
			return err
		}
		if !errors.Is(resp.Err, sarama.ErrNoError) {
			return resp.Err
		}
		return nil
	})
	if err == nil {
		s.txn.open = false
	}
	return err
}

// commitOffsets puts the group's offsets in the transaction: the
// transaction coordinator is told of the group, then the group's
// coordinator of the offsets.
func (s *Sender) commitOffsets(ctx context.Context, offs *TxnOffsets) error {
	v := s.cfg.Batch.Version
	add := &sarama.AddOffsetsToTxnRequest{Version: txnVersion(v), TransactionalID: s.txn.id,
		ProducerID: s.txn.pid.id, ProducerEpoch: s.txn.pid.epoch, GroupID: offs.Group}
	err := s.coordinated(ctx, func(br *sarama.Broker) error {
		resp, err := br.AddOffsetsToTxn(add)
		if err != nil {
			return err
		}
		if !errors.Is(resp.Err, sarama.ErrNoError) {
			return resp.Err
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.txn.offsets = true
	req := &sarama.TxnOffsetCommitRequest{TransactionalID: s.txn.id, GroupID: offs.Group,
		ProducerID: s.txn.pid.id, ProducerEpoch: s.txn.pid.epoch,
		GenerationID: offs.GenerationID, MemberID: offs.MemberID, Topics: map[string][]*sarama.PartitionOffsetMetadata{}}
	switch {
	case v.IsAtLeast(sarama.V2_5_0_0):
		req.Version = 3
	case v.IsAtLeast(sarama.V2_1_0_0):
		req.Version = 2
	case v.IsAtLeast(sarama.V2_0_0_0):
		req.Version = 1
	}
	if offs.InstanceID != "" {
		req.GroupInstanceID = &offs.InstanceID
	}
	for topic, parts := range offs.Offsets {
		for p, off := range parts {
			req.Topics[topic] = append(req.Topics[topic], &sarama.PartitionOffsetMetadata{Partition: p, Offset: off, LeaderEpoch: -1})
		}
	}
	return kafkaerr.Retry(ctx, s.cfg.Batch.DeliveryTimeout, func() { _ = s.c.RefreshCoordinator(offs.Group) }, func() error {
		br, err := s.c.Coordinator(offs.Group)
		if err != nil {
			return err
		}
		resp, err := br.TxnOffsetCommit(req)
		if err != nil {
			var ke sarama.KError
			if !errors.As(err, &ke) {
				_ = br.Close()
			}
			return err
		}
		for topic, pes := range resp.Topics {
			for _, pe := range pes {
				if !errors.Is(pe.Err, sarama.ErrNoError) {
					return fmt.Errorf("topic %q partition %d: %w", topic, pe.Partition, pe.Err)
				}
			}
		}
		return nil
	})
}
