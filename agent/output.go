package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/produce"
)

// OutputError is a line of a command's output that cannot be produced as
// it is (a bad -J envelope, a partition the topic lacks), or the failure
// of its record: the input is not committed, and the run ends.
type OutputError struct {
	Source
	Topic string
	Line  int // 1-based, in the command's output for Source
	Err   error
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("%s: output line %d to topic %q: %v", e.Source, e.Line, e.Topic, e.Err)
}

func (e *OutputError) Unwrap() error { return e.Err }

// outputRecords turns a command's output lines into records for topic,
// each line as f reads it; blank lines between envelopes carry nothing.
func outputRecords(in Source, topic string, f *produce.Format, lines [][]byte) ([]produce.Message, error) {
	msgs := make([]produce.Message, 0, len(lines))
	for i, line := range lines {
		if f.Envelope && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		rec, err := f.Parse(line)
		if err != nil {
			return nil, &OutputError{Source: in, Topic: topic, Line: i + 1, Err: err}
		}
		msgs = append(msgs, produce.Message{Topic: topic, Key: rec.Key, Value: rec.Value, Headers: rec.Headers,
			Partition: rec.Partition, Timestamp: rec.Timestamp})
	}
	return msgs, nil
}

// TopicOutput produces each line a command writes to a topic (--to): an
// input is done once every record of its output is acknowledged, so that
// it is committed only after them (at least once: a crash before the
// commit writes them again).
type TopicOutput struct {
	Sender *produce.Sender
	Topic  string
	// Format says how a line becomes a record: a value, or a -J envelope
	// with its key, headers and partition.
	Format *produce.Format
}

var _ Output = (*TopicOutput)(nil)

// Emit sends the records of lines, in order.
func (o *TopicOutput) Emit(ctx context.Context, in Source, lines [][]byte, done func(error)) {
	msgs, err := outputRecords(in, o.Topic, o.Format, lines)
	if err != nil {
		done(err)
		return
	}
	if len(msgs) == 0 {
		done(nil)
		return
	}
	var mu sync.Mutex
	left := len(msgs)
	var first error
	// settle counts n records told, and tells done once all are.
	settle := func(n int, err error) {
		mu.Lock()
		if err != nil && first == nil {
			first = err
		}
		left -= n
		end, ferr := left == 0, first
		mu.Unlock()
		if end {
			done(ferr)
		}
	}
	for i, m := range msgs {
		line := i + 1
		err := o.Sender.Send(ctx, m, func(r produce.Result) {
			if r.Err != nil {
				settle(1, &OutputError{Source: in, Topic: o.Topic, Line: line, Err: r.Err})
				return
			}
			settle(1, nil)
		})
		if err != nil {
			settle(len(msgs)-i, &OutputError{Source: in, Topic: o.Topic, Line: line, Err: err})
			return
		}
	}
}

// TxnOutput produces each line a command writes to a topic in Kafka
// transactions that commit the inputs' offsets too (--exactly-once): a
// read_committed reader sees each input's output exactly once, even
// across crashes. An input is done as soon as its output is held; at each
// commit consume hands over (the done prefix of each partition), one
// transaction sends the output of exactly the inputs it commits, and
// commits their offsets with the group member's generation. Output of
// inputs beyond the prefix waits for a later commit; that of a session
// that ended uncommitted is dropped, as its inputs are read again by the
// partition's next owner. It is the consume.Committer of the run.
type TxnOutput struct {
	Sender *produce.Sender
	Topic  string
	Format *produce.Format
	// Group is the consumer group whose offsets commit. The member is
	// named by its session's member id and generation, which Kafka checks
	// for static members too.
	Group string

	mu   sync.Mutex
	held map[heldKey][]produce.Message
}

// heldKey is the input whose output is held.
type heldKey struct {
	sess sarama.ConsumerGroupSession
	tp   consume.TopicPartition
	off  int64
}

var (
	_ Output            = (*TxnOutput)(nil)
	_ consume.Committer = (*TxnOutput)(nil)
)

// Emit holds the records of lines until their input is committed.
func (o *TxnOutput) Emit(ctx context.Context, in Source, lines [][]byte, done func(error)) {
	msgs, err := outputRecords(in, o.Topic, o.Format, lines)
	if err != nil {
		done(err)
		return
	}
	o.mu.Lock()
	if o.held == nil {
		o.held = map[heldKey][]produce.Message{}
	}
	// An input read again (a retry) replaces what it wrote before.
	o.held[heldKey{sess: in.Session, tp: in.TopicPartition, off: in.Offset}] = msgs
	o.mu.Unlock()
	done(nil)
}

// Commit sends, in one transaction, the output of the inputs before
// offsets (the next offset to read of each partition) and commits those
// offsets for the group. A failure aborts the transaction: nothing of it
// is seen, and its inputs are read again.
func (o *TxnOutput) Commit(sess sarama.ConsumerGroupSession, offsets map[consume.TopicPartition]int64) error {
	o.mu.Lock()
	var keys []heldKey
	for k := range o.held {
		switch {
		case k.sess != sess:
			delete(o.held, k)
		case k.off < offsets[k.tp]:
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.tp != b.tp {
			return a.tp.Topic < b.tp.Topic || a.tp.Topic == b.tp.Topic && a.tp.Partition < b.tp.Partition
		}
		return a.off < b.off
	})
	msgs := make([][]produce.Message, len(keys))
	for i, k := range keys {
		msgs[i] = o.held[k]
		delete(o.held, k)
	}
	o.mu.Unlock()

	ctx := context.Background()
	if err := o.Sender.BeginTxn(); err != nil {
		return err
	}
	for _, ms := range msgs {
		for _, m := range ms {
			// A failed record fails the commit: CommitTxn aborts.
			if err := o.Sender.Send(ctx, m, func(produce.Result) {}); err != nil {
				return errors.Join(err, o.Sender.AbortTxn(ctx))
			}
		}
	}
	to := &produce.TxnOffsets{Group: o.Group, GenerationID: sess.GenerationID(), MemberID: sess.MemberID(),
		Offsets: map[string]map[int32]int64{}}
	for tp, off := range offsets {
		if to.Offsets[tp.Topic] == nil {
			to.Offsets[tp.Topic] = map[int32]int64{}
		}
		to.Offsets[tp.Topic][tp.Partition] = off
	}
	return o.Sender.CommitTxn(ctx, to)
}
