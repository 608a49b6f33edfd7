package produce

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
)

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
	// Offsets, when not nil, gets a line for every record read, in input
	// order: "partition offset" for a message acknowledged (offset -1 for
	// every message written, with NoAcks), "-1 -1 ERROR" for a message that
	// failed or an invalid line (the one that stops the run included).
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
		fmt.Fprintf(&b, "%d of %d messages sent to topic %q (not acknowledged: acks=0), %d failed",
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

// handover is what the reading goroutine passes on at once. paused says the
// reader is about to wait for more input: what is buffered should go out
// now, not when a batch fills.
type handover struct {
	msgs   []pending
	paused bool
	// blk is the reader's block the records point into, held until the
	// Batcher has copied them out; nil when they point into none.
	blk *block
}

// Producer sends the records of its inputs through a Batcher and accounts
// for them.
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

	// The reorder window for Offsets: acknowledgements arrive in any
	// order. window[head+i] is the outcome of record next+i; its memory
	// counts against the Batcher's MaxBuffered (windowBytes).
	omu         sync.Mutex
	out         *bufio.Writer
	next        int64
	window      []outcome
	head        int
	windowBytes atomic.Int64
}

// outcome is a record's place in Offsets: partition -1 for a failure, -2
// while unknown.
type outcome struct {
	partition int32
	offset    int64
}

const unknown = -2

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

// Run reads every input in turn and sends its records through b, then
// waits until every message sent is acknowledged or failed. It stops
// reading when ctx is cancelled (delivering what was read), or at the
// first invalid record unless SkipInvalid. The error is a *LineError for
// the record that stopped it, a *DeliveryError when messages failed (both,
// joined, when both happened), or the input's read error. A Batcher runs
// once. Every goroutine Run starts has ended when it returns, but for a
// read of an input that cannot be interrupted (no SetReadDeadline), which
// may still be blocked then: that goroutine reports nothing more, and
// ends when the read returns.
func (p *Producer) Run(ctx context.Context, inputs []Input, b *Batcher) (Stats, error) {
	for _, in := range inputs {
		p.names = append(p.names, in.Name)
	}
	if p.opts.Offsets != nil {
		p.out = bufio.NewWriterSize(p.opts.Offsets, 64<<10)
	}
	parent := ctx
	ctx, p.stopRead = context.WithCancelCause(ctx)
	defer p.stopRead(nil)
	b.start(p)

	// Records in transit, between the reader and the Batcher, are not
	// counted in MaxBuffered: few are in the channel.
	batches := make(chan handover, 2)
	stop := make(chan struct{})
	g := &gate{}
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- p.read(inputs, batches, b.spent, stop, g)
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
			if !b.send(ctx, h) {
				p.sent.Add(-int64(len(h.msgs)))
				interrupted = true
				break feed
			}
		}
	}
	close(stop)
	wait := g.stop()
	b.close()
	p.flushOffsets()
	var rerr error
	if wait {
		// The reader ends at once: it had stopped, or its read was
		// interrupted.
		rerr = <-readErr
	}

	st := p.Progress()
	st.TimedOut = p.timeouts.Load()
	// A delivery timeout stops reading too, but is no interrupt.
	st.Interrupted = interrupted && parent.Err() != nil
	st.StoppedReading = interrupted && !st.Interrupted
	var errs []error
	if !interrupted && rerr != nil {
		errs = append(errs, rerr)
	}
	if st.Failed > 0 {
		p.mu.Lock()
		fs := p.sortedFailures()
		p.mu.Unlock()
		errs = append(errs, &DeliveryError{Topic: p.opts.Topic, Stats: st, NoAcks: p.opts.NoAcks, Failures: fs})
	}
	return st, errors.Join(errs...)
}

// gate is between the reading goroutine and its inputs, so that Run can
// end it: once stopped, no read begins and nothing is reported. A read
// under way when Run stops is interrupted if its input can be (one with
// SetReadDeadline: an *os.File on a pipe, a socket); else it may go on
// after Run returns, and what it returns is dropped.
type gate struct {
	mu      sync.Mutex
	r       io.Reader
	stopped bool
	reading bool
}

var errStopped = errors.New("reading stopped")

func (g *gate) Read(b []byte) (int, error) {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return 0, errStopped
	}
	g.reading = true
	r := g.r
	g.mu.Unlock()
	n, err := r.Read(b)
	g.mu.Lock()
	g.reading = false
	g.mu.Unlock()
	return n, err
}

// do runs f unless the gate is stopped; Run does not return while f runs.
func (g *gate) do(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		f()
	}
}

func (g *gate) use(r io.Reader) {
	g.mu.Lock()
	g.r = r
	g.mu.Unlock()
}

// stop closes the gate and says whether the reading goroutine will end at
// once: it is not in a read, or its read could be interrupted.
func (g *gate) stop() bool {
	g.mu.Lock()
	g.stopped = true
	reading, r := g.reading, g.r
	g.mu.Unlock()
	if !reading {
		return true
	}
	d, ok := r.(interface{ SetReadDeadline(time.Time) error })
	return ok && d.SetReadDeadline(time.Now()) == nil
}

// read runs in its own goroutine, since reading stdin may block for good:
// it turns records into pending messages and hands them over in batches,
// and whatever it has before each read of the input, which may block.
// Everything it reports goes through g, which Run stops.
func (p *Producer) read(inputs []Input, batches chan<- handover, spent <-chan []pending, stop <-chan struct{}, g *gate) error {
	batch := make([]pending, 0, batchSize)
	batchBytes := 0
	// blk is the block the batch's records point into: the splitter
	// hands the batch over before it moves to another (beforeRead), so
	// there is one.
	var blk *block
	stopped := false
	flush := func(paused bool) {
		if len(batch) == 0 || stopped {
			return
		}
		batchBytes = 0
		select {
		case batches <- handover{msgs: batch, paused: paused, blk: blk}:
		case <-stop:
			stopped = true
		}
		blk = nil
		// The Batcher gives back the slices it has copied out.
		select {
		case batch = <-spent:
		default:
			batch = make([]pending, 0, batchSize)
		}
	}
	var seq int64
	pool := newBlockPool()
	for i, in := range inputs {
		g.use(in.R)
		r := NewReader(g, in.Name, p.format)
		r.split.pool = pool
		// A regular file's reads do not wait: before them the batches
		// fill on, as the input has not paused.
		paused := !regularFile(in.R)
		r.split.beforeRead = func() { flush(paused) }
		for !stopped {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				var le *LineError
				// A failing schema registry is not the line's fault:
				// skipping would drop good input.
				skip := errors.As(err, &le) && p.opts.SkipInvalid && !errors.Is(err, codec.ErrRegistryFailed)
				if errors.As(err, &le) {
					// The line holds its place in --print-offsets.
					line := seq
					g.do(func() {
						p.invalid(line)
						if skip {
							p.skipped.Add(1)
							if p.opts.Invalid != nil {
								p.opts.Invalid(err)
							}
						}
					})
					seq++
				}
				if skip {
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
			if blk == nil {
				blk = r.split.cur.hold()
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

// regularFile says whether r reads a regular file, whose reads return at
// once (at its end, with io.EOF) rather than wait for more input.
func regularFile(r io.Reader) bool {
	f, ok := r.(interface{ Stat() (fs.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode().IsRegular()
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

// failedOffset is what Offsets gets for a line not delivered: a message
// that failed, or an invalid line.
const failedOffset = "-1 -1 ERROR\n"

// invalid holds the place of an invalid input line in Offsets.
func (p *Producer) invalid(seq int64) {
	if p.out != nil {
		p.settle(seq, -1, -1)
	}
}

// settle records the outcome of message seq and writes every outcome that
// is now next in input order; failed messages (partition -1) print
// failedOffset.
func (p *Producer) settle(seq int64, partition int32, offset int64) {
	p.omu.Lock()
	defer p.omu.Unlock()
	i := p.head + int(seq-p.next)
	for len(p.window) <= i {
		p.window = append(p.window, outcome{partition: unknown})
	}
	p.window[i] = outcome{partition: partition, offset: offset}
	for p.head < len(p.window) && p.window[p.head].partition != unknown {
		o := p.window[p.head]
		p.head++
		p.next++
		if o.partition < 0 {
			_, _ = p.out.WriteString(failedOffset)
			continue
		}
		var buf [48]byte
		b := strconv.AppendInt(buf[:0], int64(o.partition), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, o.offset, 10)
		b = append(b, '\n')
		_, _ = p.out.Write(b)
	}
	if p.head > len(p.window)/2 {
		// Move the rest down (each entry about once), and give back
		// what a stall made the window grow to.
		n := copy(p.window, p.window[p.head:])
		p.window, p.head = p.window[:n], 0
		if cap(p.window) > 4096 && n < cap(p.window)/4 {
			p.window = append(make([]outcome, 0, 2*n), p.window...)
		}
	}
	p.windowBytes.Store(int64(cap(p.window)) * int64(unsafe.Sizeof(outcome{})))
}

func (p *Producer) heldBytes() int64 { return p.windowBytes.Load() }

func (p *Producer) flushOffsets() {
	if p.out == nil {
		return
	}
	p.omu.Lock()
	_ = p.out.Flush()
	p.omu.Unlock()
}
