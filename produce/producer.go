package produce

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/IBM/sarama"
)

// Sink is where messages go: sarama's AsyncProducer in production, a small
// fake in tests. Every message sent to Input comes back exactly once on
// Successes or Errors, and both channels close after AsyncClose once every
// message is accounted for.
type Sink interface {
	Input() chan<- *sarama.ProducerMessage
	Successes() <-chan *sarama.ProducerMessage
	Errors() <-chan *sarama.ProducerError
	AsyncClose()
}

var _ Sink = sarama.AsyncProducer(nil)

// Input is one stream to read records from.
type Input struct {
	Name string // file name in messages; empty for stdin
	R    io.Reader
}

// Options say where records go and what to report.
type Options struct {
	Topic string
	// Partition sends every record there; -1 leaves it to the record (its
	// envelope) or the partitioner.
	Partition int32
	// SkipInvalid reports a bad record to Invalid and goes on, instead of
	// stopping there.
	SkipInvalid bool
	Invalid     func(err error)
	// Offsets, when not nil, gets "partition offset" for every acknowledged
	// message, in input order.
	Offsets io.Writer
}

// Stats count what happened to the messages of a run.
type Stats struct {
	Sent    int64 // handed to the producer
	Acked   int64 // acknowledged by the broker
	Failed  int64 // not delivered
	Skipped int64 // invalid records skipped under SkipInvalid
	// Interrupted says the context was cancelled before the input ended.
	Interrupted bool
}

// Failure is a message that was not delivered.
type Failure struct {
	Input string
	Line  int
	Err   error
	seq   int64
}

func (f Failure) String() string {
	return (&LineError{Input: f.Input, Line: f.Line, Err: f.Err}).Error()
}

// DeliveryError reports the messages that were not delivered.
type DeliveryError struct {
	Topic    string
	Stats    Stats
	Failures []Failure // the first few, in input order
}

// maxFailures is how many failures a DeliveryError lists.
const maxFailures = 5

func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d messages delivered to topic %q, %d failed", e.Stats.Acked, e.Stats.Sent, e.Topic, e.Stats.Failed)
	for _, f := range e.Failures {
		b.WriteString("\n")
		b.WriteString(f.String())
	}
	if more := e.Stats.Failed - int64(len(e.Failures)); more > 0 {
		fmt.Fprintf(&b, "\n... and %d more", more)
	}
	return b.String()
}

// pending is a message in flight; its ProducerMessage's Metadata points
// back to it so that an acknowledgement or failure finds its input line.
type pending struct {
	sarama.ProducerMessage
	key, value sarama.ByteEncoder
	seq        int64
	input      int // index into the inputs
	line       int
	partition  int32
}

// Producer sends the records of its inputs to a sink and accounts for them.
type Producer struct {
	format *Format
	opts   Options

	sent, acked, failed, skipped atomic.Int64

	mu       sync.Mutex
	failures []Failure
	names    []string

	// The reorder buffer for Offsets: acknowledgements arrive in any order.
	omu     sync.Mutex
	out     *bufio.Writer
	next    int64
	waiting map[int64][2]int64
}

// New returns a Producer reading records in format f.
func New(f *Format, o Options) *Producer {
	return &Producer{format: f, opts: o}
}

// Progress returns the counts so far; it may be called while Run runs.
func (p *Producer) Progress() Stats {
	return Stats{Sent: p.sent.Load(), Acked: p.acked.Load(), Failed: p.failed.Load(), Skipped: p.skipped.Load()}
}

// batchSize is how many records the reading goroutine hands over at once,
// unless the input pauses first.
const batchSize = 512

// Run reads every input in turn and sends its records to sink, then closes
// sink and waits until every message sent is acknowledged or failed. It
// stops reading when ctx is cancelled (delivering what was read), or at the
// first invalid record unless SkipInvalid. The error is a *LineError for
// the record that stopped it, a *DeliveryError when messages failed (both,
// joined, when both happened), or the input's read error.
func (p *Producer) Run(ctx context.Context, inputs []Input, sink Sink) (Stats, error) {
	for _, in := range inputs {
		p.names = append(p.names, in.Name)
	}
	if p.opts.Offsets != nil {
		p.out = bufio.NewWriterSize(p.opts.Offsets, 64<<10)
		p.waiting = map[int64][2]int64{}
	}

	var acks sync.WaitGroup
	acks.Add(2)
	go func() {
		defer acks.Done()
		for m := range sink.Successes() {
			p.ack(m.Metadata.(*pending), m.Partition, m.Offset)
			if len(sink.Successes()) == 0 {
				p.flushOffsets()
			}
		}
	}()
	go func() {
		defer acks.Done()
		for e := range sink.Errors() {
			p.fail(e.Msg.Metadata.(*pending), e.Err)
		}
	}()

	batches := make(chan []*pending, 8)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(batches)
		readErr = p.read(inputs, batches, stop)
	}()

	interrupted := false
	input := sink.Input()
feed:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break feed
		case b, ok := <-batches:
			if !ok {
				break feed
			}
			for _, m := range b {
				p.sent.Add(1) // before the send: its ack may come at once
				select {
				case input <- &m.ProducerMessage:
				case <-ctx.Done():
					p.sent.Add(-1)
					interrupted = true
					break feed
				}
			}
		}
	}
	close(stop)
	sink.AsyncClose()
	acks.Wait()
	p.flushOffsets()

	st := p.Progress()
	st.Interrupted = interrupted
	var errs []error
	if !interrupted && readErr != nil {
		errs = append(errs, readErr)
	}
	if st.Failed > 0 {
		p.mu.Lock()
		fs := p.sortedFailures()
		p.mu.Unlock()
		errs = append(errs, &DeliveryError{Topic: p.opts.Topic, Stats: st, Failures: fs})
	}
	return st, errors.Join(errs...)
}

// read runs in its own goroutine, since reading stdin may block for good:
// it turns records into pending messages and hands them over in batches.
func (p *Producer) read(inputs []Input, batches chan<- []*pending, stop <-chan struct{}) error {
	var batch []*pending
	stopped := false
	flush := func() {
		if len(batch) == 0 || stopped {
			return
		}
		select {
		case batches <- batch:
		case <-stop:
			stopped = true
		}
		batch = make([]*pending, 0, batchSize)
	}
	var seq int64
	for i, in := range inputs {
		r := NewReader(in.R, in.Name, p.format)
		r.split.beforeRead = flush
		for !stopped {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var le *LineError
				if errors.As(err, &le) && p.opts.SkipInvalid {
					p.skipped.Add(1)
					if p.opts.Invalid != nil {
						p.opts.Invalid(err)
					}
					continue
				}
				flush()
				if !errors.As(err, &le) && in.Name != "" {
					err = fmt.Errorf("reading %s: %w", in.Name, err)
				} else if !errors.As(err, &le) {
					err = fmt.Errorf("reading stdin: %w", err)
				}
				return err
			}
			m := &pending{seq: seq, input: i, line: rec.Line, partition: rec.Partition}
			seq++
			if p.opts.Partition >= 0 {
				m.partition = p.opts.Partition
			}
			m.Topic = p.opts.Topic
			m.Metadata = m
			m.Headers = rec.Headers
			m.Timestamp = rec.Timestamp
			if rec.Key != nil {
				m.key = rec.Key
				m.Key = &m.key
			}
			if rec.Value != nil {
				m.value = rec.Value
				m.Value = &m.value
			}
			batch = append(batch, m)
			if len(batch) == batchSize {
				flush()
			}
		}
	}
	flush()
	return nil
}

func (p *Producer) ack(m *pending, partition int32, offset int64) {
	p.acked.Add(1)
	if p.out != nil {
		p.settle(m.seq, partition, offset)
	}
}

func (p *Producer) fail(m *pending, err error) {
	p.failed.Add(1)
	p.mu.Lock()
	p.failures = append(p.failures, Failure{Input: p.names[m.input], Line: m.line, Err: err, seq: m.seq})
	if len(p.failures) > 16*maxFailures {
		p.failures = p.sortedFailures()
	}
	p.mu.Unlock()
	if p.out != nil {
		p.settle(m.seq, -1, -1)
	}
}

// sortedFailures returns the first failures in input order; p.mu is held.
func (p *Producer) sortedFailures() []Failure {
	sort.Slice(p.failures, func(i, j int) bool { return p.failures[i].seq < p.failures[j].seq })
	if len(p.failures) > maxFailures {
		p.failures = p.failures[:maxFailures:maxFailures]
	}
	return append([]Failure(nil), p.failures...)
}

// settle records the outcome of message seq and writes every outcome that
// is now next in input order; failed messages (partition -1) print nothing.
func (p *Producer) settle(seq int64, partition int32, offset int64) {
	p.omu.Lock()
	defer p.omu.Unlock()
	p.waiting[seq] = [2]int64{int64(partition), offset}
	for {
		o, ok := p.waiting[p.next]
		if !ok {
			return
		}
		delete(p.waiting, p.next)
		p.next++
		if o[0] < 0 {
			continue
		}
		var buf [48]byte
		b := strconv.AppendInt(buf[:0], o[0], 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, o[1], 10)
		b = append(b, '\n')
		_, _ = p.out.Write(b)
	}
}

func (p *Producer) flushOffsets() {
	if p.out == nil {
		return
	}
	p.omu.Lock()
	_ = p.out.Flush()
	p.omu.Unlock()
}
