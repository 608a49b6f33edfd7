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
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
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
	// message (every message written, with NoAcks), in input order.
	Offsets io.Writer
	// NoAcks says the messages go with acks=none: those written count as
	// Unacked, not Acked, and their offset is -1 (no broker told it).
	NoAcks bool
}

// Stats count what happened to the messages of a run.
type Stats struct {
	Sent  int64 // handed to the producer
	Acked int64 // acknowledged by the broker
	// Unacked counts the messages written to a broker that, with
	// acks=none, never says whether it took them.
	Unacked int64
	Failed  int64 // not delivered
	Skipped int64 // invalid records skipped under SkipInvalid
	// Interrupted says the context was cancelled before the input ended.
	Interrupted bool
	// TimedOut says messages failed for the delivery timeout; StoppedReading
	// that reading stopped there, before the input ended: the rest of the
	// input would not have fared better.
	TimedOut, StoppedReading bool
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
	NoAcks   bool      // sent with acks=none
	Failures []Failure // the first few, in input order
}

// maxFailures is how many failures a DeliveryError lists.
const maxFailures = 5

func (e *DeliveryError) Error() string {
	var b strings.Builder
	if e.Stats.Interrupted {
		b.WriteString("interrupted: ")
	}
	if e.NoAcks {
		fmt.Fprintf(&b, "%d of %d messages sent to topic %q (not acknowledged: --acks none), %d failed",
			e.Stats.Unacked, e.Stats.Sent, e.Topic, e.Stats.Failed)
	} else {
		fmt.Fprintf(&b, "%d of %d messages delivered to topic %q, %d failed", e.Stats.Acked, e.Stats.Sent, e.Topic, e.Stats.Failed)
	}
	if e.Stats.StoppedReading {
		b.WriteString("; stopped reading at the delivery timeout")
	}
	for _, f := range e.Failures {
		b.WriteString("\n")
		b.WriteString(f.String())
	}
	if more := e.Stats.Failed - int64(len(e.Failures)); more > 0 {
		fmt.Fprintf(&b, "\n... and %d more", more)
	}
	return b.String()
}

// pending is a record on its way: what goes on the wire, and where it came
// from so that its acknowledgement or failure finds its input line.
type pending struct {
	key, value []byte
	headers    []sarama.RecordHeader
	timestamp  time.Time
	seq        int64
	input      int // index into the inputs
	line       int
	partition  int32 // -1: left to the partitioner
}

// message is m as sarama's AsyncProducer takes it; its Metadata points back
// to m.
func (m *pending) message(topic string) *sarama.ProducerMessage {
	pm := &sarama.ProducerMessage{Topic: topic, Headers: m.headers, Timestamp: m.timestamp, Metadata: m}
	if m.key != nil {
		pm.Key = sarama.ByteEncoder(m.key)
	}
	if m.value != nil {
		pm.Value = sarama.ByteEncoder(m.value)
	}
	return pm
}

// handover is what the reading goroutine passes on at once. paused says the
// reader is about to wait for more input: what is buffered should go out
// now, not when a batch fills.
type handover struct {
	msgs   []pending
	paused bool
}

// deliverer is what Run sends records through: a Sink (sarama's
// AsyncProducer) or a Batcher.
type deliverer interface {
	// start is called once, before send, with the Producer to report
	// every outcome to.
	start(p *Producer)
	// send hands h over; it returns false, having handed over nothing, when
	// ctx is done first.
	send(ctx context.Context, h handover) bool
	// close delivers everything sent and returns once every outcome is
	// reported.
	close()
}

// Producer sends the records of its inputs to a sink and accounts for them.
type Producer struct {
	format *Format
	opts   Options

	sent, acked, unacked, failed, skipped atomic.Int64

	mu       sync.Mutex
	failures []Failure
	names    []string

	// stopRead ends reading early: the delivery timeout came for some
	// messages.
	stopRead context.CancelCauseFunc
	timeouts atomic.Bool

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
	return Stats{Sent: p.sent.Load(), Acked: p.acked.Load(), Unacked: p.unacked.Load(), Failed: p.failed.Load(), Skipped: p.skipped.Load()}
}

// batchSize is how many records the reading goroutine hands over at once,
// unless the input pauses first.
const batchSize = 512

// maxHandover bounds the bytes of one handover, so that large records do
// not pile up between the reader and the sender.
const maxHandover = 256 << 10

// Run reads every input in turn and sends its records to sink, then closes
// sink and waits until every message sent is acknowledged or failed. It
// stops reading when ctx is cancelled (delivering what was read), or at the
// first invalid record unless SkipInvalid. The error is a *LineError for
// the record that stopped it, a *DeliveryError when messages failed (both,
// joined, when both happened), or the input's read error.
func (p *Producer) Run(ctx context.Context, inputs []Input, sink Sink) (Stats, error) {
	return p.run(ctx, inputs, &sinkDeliverer{sink: sink, topic: p.opts.Topic})
}

// RunBatches is Run with a Batcher, which builds record batches itself,
// in place of a Sink.
func (p *Producer) RunBatches(ctx context.Context, inputs []Input, b *Batcher) (Stats, error) {
	return p.run(ctx, inputs, b)
}

func (p *Producer) run(ctx context.Context, inputs []Input, d deliverer) (Stats, error) {
	for _, in := range inputs {
		p.names = append(p.names, in.Name)
	}
	if p.opts.Offsets != nil {
		p.out = bufio.NewWriterSize(p.opts.Offsets, 64<<10)
		p.waiting = map[int64][2]int64{}
	}
	parent := ctx
	ctx, p.stopRead = context.WithCancelCause(ctx)
	defer p.stopRead(nil)
	d.start(p)

	batches := make(chan handover, 8)
	stop := make(chan struct{})
	var readErr error
	go func() {
		defer close(batches)
		readErr = p.read(inputs, batches, stop)
	}()

	interrupted := false
feed:
	for {
		select {
		case <-ctx.Done():
			interrupted = true
			break feed
		case h, ok := <-batches:
			if !ok {
				break feed
			}
			p.sent.Add(int64(len(h.msgs))) // before the send: acks may come at once
			if !d.send(ctx, h) {
				p.sent.Add(-int64(len(h.msgs)))
				interrupted = true
				break feed
			}
		}
	}
	close(stop)
	d.close()
	p.flushOffsets()

	st := p.Progress()
	st.TimedOut = p.timeouts.Load()
	// A delivery timeout stops reading too, but is no interrupt.
	st.Interrupted = interrupted && parent.Err() != nil
	st.StoppedReading = interrupted && !st.Interrupted
	var errs []error
	if !interrupted && readErr != nil {
		errs = append(errs, readErr)
	}
	if st.Failed > 0 {
		p.mu.Lock()
		fs := p.sortedFailures()
		p.mu.Unlock()
		errs = append(errs, &DeliveryError{Topic: p.opts.Topic, Stats: st, NoAcks: p.opts.NoAcks, Failures: fs})
	}
	return st, errors.Join(errs...)
}

// sinkDeliverer feeds a Sink one message at a time.
type sinkDeliverer struct {
	sink  Sink
	topic string
	p     *Producer
	acks  sync.WaitGroup
}

func (d *sinkDeliverer) start(p *Producer) {
	d.p = p
	sink := d.sink
	d.acks.Add(2)
	go func() {
		defer d.acks.Done()
		for m := range sink.Successes() {
			p.ack(m.Metadata.(*pending), m.Partition, m.Offset)
			if len(sink.Successes()) == 0 {
				p.flushOffsets()
			}
		}
	}()
	go func() {
		defer d.acks.Done()
		for e := range sink.Errors() {
			p.fail(e.Msg.Metadata.(*pending), e.Err)
		}
	}()
}

func (d *sinkDeliverer) send(ctx context.Context, h handover) bool {
	input := d.sink.Input()
	for i := range h.msgs {
		select {
		case input <- h.msgs[i].message(d.topic):
		case <-ctx.Done():
			// The caller uncounts the whole handover: count back the
			// messages already in the sink, which will be answered.
			d.p.sent.Add(int64(i))
			return false
		}
	}
	return true
}

func (d *sinkDeliverer) close() {
	d.sink.AsyncClose()
	d.acks.Wait()
}

// read runs in its own goroutine, since reading stdin may block for good:
// it turns records into pending messages and hands them over in batches,
// and whatever it has before each read of the input, which may block.
func (p *Producer) read(inputs []Input, batches chan<- handover, stop <-chan struct{}) error {
	batch := make([]pending, 0, batchSize)
	batchBytes := 0
	stopped := false
	flush := func(paused bool) {
		if len(batch) == 0 || stopped {
			return
		}
		batchBytes = 0
		select {
		case batches <- handover{msgs: batch, paused: paused}:
		case <-stop:
			stopped = true
		}
		batch = make([]pending, 0, batchSize)
	}
	var seq int64
	for i, in := range inputs {
		r := NewReader(in.R, in.Name, p.format)
		r.split.beforeRead = func() { flush(true) }
		for !stopped {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var le *LineError
				// A failing schema registry is not the line's fault:
				// skipping would drop good input.
				if errors.As(err, &le) && p.opts.SkipInvalid && !errors.Is(err, codec.ErrRegistryFailed) {
					p.skipped.Add(1)
					if p.opts.Invalid != nil {
						p.opts.Invalid(err)
					}
					continue
				}
				flush(true)
				if !errors.As(err, &le) && in.Name != "" {
					err = fmt.Errorf("reading %s: %w", in.Name, err)
				} else if !errors.As(err, &le) {
					err = fmt.Errorf("reading stdin: %w", err)
				}
				return err
			}
			m := pending{key: rec.Key, value: rec.Value, headers: rec.Headers, timestamp: rec.Timestamp,
				seq: seq, input: i, line: rec.Line, partition: rec.Partition}
			seq++
			if p.opts.Partition >= 0 {
				m.partition = p.opts.Partition
			}
			batch = append(batch, m)
			batchBytes += len(m.key) + len(m.value)
			if len(batch) == batchSize || batchBytes >= maxHandover {
				flush(false)
			}
		}
	}
	flush(true)
	return nil
}

func (p *Producer) ack(m *pending, partition int32, offset int64) {
	if p.opts.NoAcks {
		p.unacked.Add(1)
		offset = -1
	} else {
		p.acked.Add(1)
	}
	if p.out != nil {
		p.settle(m.seq, partition, offset)
	}
}

// ackRun acknowledges a batch's records: offset base, base+1, ... (or -1
// each when base is, with acks=none).
func (p *Producer) ackRun(from []origin, partition int32, base int64) {
	if p.opts.NoAcks {
		p.unacked.Add(int64(len(from)))
		base = -1
	} else {
		p.acked.Add(int64(len(from)))
	}
	if p.out == nil {
		return
	}
	for i, o := range from {
		off := int64(-1)
		if base >= 0 {
			off = base + int64(i)
		}
		p.settle(o.seq, partition, off)
	}
}

// timedOut says records failed for the delivery timeout: reading stops,
// and what was read is delivered or fails within its own timeout.
func (p *Producer) timedOut() {
	p.timeouts.Store(true)
	p.stopRead(errStopRead)
}

var errStopRead = errors.New("delivery timed out: reading stopped")

func (p *Producer) fail(m *pending, err error) {
	p.failAt(origin{seq: m.seq, input: m.input, line: m.line}, err)
}

func (p *Producer) failAt(o origin, err error) {
	p.failed.Add(1)
	p.mu.Lock()
	p.failures = append(p.failures, Failure{Input: p.names[o.input], Line: o.line, Err: err, seq: o.seq})
	if len(p.failures) > 16*maxFailures {
		p.failures = p.sortedFailures()
	}
	p.mu.Unlock()
	if p.out != nil {
		p.settle(o.seq, -1, -1)
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
