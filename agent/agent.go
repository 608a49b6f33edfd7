// Package agent turns a command into a Kafka agent: it takes the records
// consume decodes (as a consume.Processor), runs the command for each (or
// feeds one long-running command a line per record), and reports each
// record done only once the command succeeded for it, so that consume
// commits what was processed and nothing else. It owns running commands,
// acknowledgements, retries, dead letters, ordering under concurrency and
// where the commands' stdout and stderr go. It joins the two halves of the
// project: records come from consume, dead letters (and outputs) go out
// through the interfaces below, implemented on produce's engine by cmd.
package agent

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/envelope"
)

// Mode is how the command is run.
type Mode int

const (
	// PerMessage runs the command once per record, the value on its stdin.
	PerMessage Mode = iota
	// Line keeps one command running, writes a line per record to its
	// stdin and reads one acknowledgement line per record from its stdout.
	Line
)

// Order is what runs one at a time under concurrency.
type Order int

const (
	// ByPartition keeps each partition's records in order.
	ByPartition Order = iota
	// ByKey keeps each key's records (within a partition) in order.
	ByKey
)

// Source names the input record a command ran for.
type Source struct {
	consume.TopicPartition
	Offset int64
	// Session is the group session the record came from (nil outside a
	// group): its MemberID and GenerationID name the member to Kafka.
	Session sarama.ConsumerGroupSession
}

func (s Source) String() string { return fmt.Sprintf("%s/%d@%d", s.Topic, s.Partition, s.Offset) }

// Output takes what a command wrote to its stdout, one slice per line
// (without the newline), in place of printing it (--to). The core calls
// Emit in record order within each partition, from any goroutine, and
// takes the input record as done only once done(nil) is called; done with
// an error ends the run (the record is not committed). Emit may block to
// push back. It must call done exactly once.
type Output interface {
	Emit(ctx context.Context, in Source, lines [][]byte, done func(error))
}

// DeadLetter is a record written to the dead-letter topic: the input's
// own key, value and headers (nil Key: null), with the streamctl.error.*
// headers already appended.
type DeadLetter struct {
	Key, Value []byte
	Headers    []sarama.RecordHeader
}

// DeadLetters sends dead letters; Send returns once the broker
// acknowledged (or refused) the record.
type DeadLetters interface {
	Send(ctx context.Context, m DeadLetter) error
}

// Options say what to run and how.
type Options struct {
	// Command is run with sh -c.
	Command string
	Mode    Mode
	// Envelope, in Line mode, writes the -J envelope of each record as its
	// line (default: the value).
	Envelope bool
	// Concurrency runs up to this many at once (0: 1); in Line mode it is
	// the number of commands kept running.
	Concurrency int
	Order       Order
	// Retries is how often a failed record is tried again, waiting
	// Backoff (0: 1 s) first, doubling up to MaxBackoff (0: 30 s).
	Retries             int
	Backoff, MaxBackoff time.Duration
	// DeadLetters, when set, takes a record that failed for good and the
	// run goes on; without it the failure ends the run.
	DeadLetters DeadLetters
	// Output, when set, takes the commands' stdout in place of Stdout
	// (PerMessage mode).
	Output Output
	// Stdout and Stderr are streamctl's own.
	Stdout, Stderr io.Writer
	// Env is the environment commands start with (the record's facts are
	// added to it).
	Env []string
	// Stopping, when set, is called once New's context ends (a signal):
	// from then on nothing more is started, and the caller may say so.
	Stopping func()
}

// CommandError says the command failed for a record, after its retries.
type CommandError struct {
	Source
	// ExitCode is the command's exit status (-1 when it did not start or
	// was killed by a signal; 0 in Line mode, where the text says why).
	ExitCode int
	// Message is the first line of its stderr, or the acknowledgement
	// text in Line mode.
	Message  string
	Attempts int
}

func (e *CommandError) Error() string {
	why := e.Message
	switch {
	case why == "" && e.ExitCode >= 0:
		why = fmt.Sprintf("exit status %d", e.ExitCode)
	case why == "":
		why = "did not run to its end"
	case e.ExitCode > 0:
		why = fmt.Sprintf("exit status %d: %s", e.ExitCode, why)
	}
	tries := ""
	if e.Attempts > 1 {
		tries = fmt.Sprintf(" (%d attempts)", e.Attempts)
	}
	return fmt.Sprintf("command failed for %s%s: %s", e.Source, tries, why)
}

// DeadLetterError says a record that failed could not be dead-lettered.
type DeadLetterError struct {
	Failure *CommandError
	Err     error
}

func (e *DeadLetterError) Error() string {
	return fmt.Sprintf("%v; writing the dead letter: %v", e.Failure, e.Err)
}

func (e *DeadLetterError) Unwrap() error { return e.Err }

// AgentExitError says the long-running command of Line mode ended (or
// stopped reading) while records were waiting for its acknowledgement.
type AgentExitError struct {
	// Waiting is the first record left without an acknowledgement.
	Waiting Source
	Err     error
}

func (e *AgentExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("the command ended before acknowledging %s", e.Waiting)
	}
	return fmt.Sprintf("the command ended before acknowledging %s: %v", e.Waiting, e.Err)
}

func (e *AgentExitError) Unwrap() error { return e.Err }

// Runner is a consume.Processor running Options.Command.
type Runner struct {
	o Options

	mu sync.Mutex
	// changed is closed and replaced whenever an item settles or is
	// dropped, so that waiters look again.
	changed chan struct{}
	// pending counts per partition the items taken and not settled.
	pending map[consume.TopicPartition]int
	// epoch per partition moves on each abandon: items of an older one
	// are not started (and a retry waiting is given up).
	epoch map[consume.TopicPartition]int
	seqs  map[consume.TopicPartition]*sequencer
	// waiters counts the goroutines waiting on changed: without any, a
	// change closes nothing (a channel per record costs, in Line mode).
	waiters int
	// failed stops starting items after a failure that ends the run.
	failed bool
	closed bool

	space chan struct{} // one token per item taken, bounding the queue
	exec  execer
	outMu sync.Mutex // streamctl's stdout and stderr: whole writes
	wg    sync.WaitGroup
	seed  maphash.Seed
	// stop is New's context: once it ends (a signal), nothing more is
	// started, while what runs finishes.
	stop    context.Context
	closing chan struct{}
}

// execer runs items: per message, or through long-running commands.
type execer interface {
	// enqueue hands over an item; it runs later, in its lane's order.
	enqueue(it *item)
	// drop removes the items of the partitions in tps (nil: all) not yet
	// started, returning them.
	drop(tps map[consume.TopicPartition]bool) []*item
	// close ends the execer's goroutines once the items are settled.
	close() error
}

var _ consume.Processor = (*Runner)(nil)

// New makes a Runner; Close ends it. Once ctx ends, no command is
// started (those under way finish): ctx is the signal's, not a deadline.
func New(ctx context.Context, o Options) (*Runner, error) {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	queue := 16 * o.Concurrency
	if o.Mode == Line {
		queue = 4096 * o.Concurrency // pipelined: acks come back in a stream
	}
	r := &Runner{
		o:       o,
		changed: make(chan struct{}),
		pending: map[consume.TopicPartition]int{},
		epoch:   map[consume.TopicPartition]int{},
		seqs:    map[consume.TopicPartition]*sequencer{},
		space:   make(chan struct{}, queue),
		seed:    maphash.MakeSeed(),
		stop:    ctx,
		closing: make(chan struct{}),
	}
	var err error
	if o.Mode == Line {
		r.exec, err = newLineExec(r)
	} else {
		r.exec = newMessageExec(r)
	}
	if err != nil {
		return nil, err
	}
	if o.Stopping != nil {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			select {
			case <-ctx.Done():
				o.Stopping()
			case <-r.closing:
			}
		}()
	}
	return r, nil
}

// Process implements consume.Processor.
func (r *Runner) Process(ctx context.Context, m consume.Message) error {
	if err := r.oneLine(m); err != nil {
		return err
	}
	select {
	case r.space <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	it := r.newItem(m)
	if r.o.Mode == Line {
		if r.o.Envelope {
			it.line = envelope.Append(nil, m.Record)
		} else {
			it.line = append(it.line, m.Record.Value...)
		}
		it.line = append(it.line, '\n')
	}
	r.mu.Lock()
	tp := it.src.TopicPartition
	r.pending[tp]++
	it.epoch = r.epoch[tp]
	s := r.seqs[tp]
	if s == nil {
		s = &sequencer{ready: map[int64]*item{}}
		r.seqs[tp] = s
	}
	it.seq = s.taken
	s.taken++
	if r.o.Order == ByPartition {
		if !s.hasLane {
			s.lane, s.hasLane = r.lane(it), true
		}
		it.lane = s.lane
	} else {
		it.lane = r.lane(it)
	}
	r.mu.Unlock()
	r.exec.enqueue(it)
	return nil
}

// lane is what orders an item: its partition, or its key within it.
func (r *Runner) lane(it *item) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(it.src.Topic)
	p := uint32(it.src.Partition)
	h.Write([]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
	if r.o.Order == ByKey {
		if it.key == nil {
			h.WriteByte(0)
		} else {
			h.WriteByte(1)
			h.Write(it.key)
		}
	}
	return h.Sum64()
}

// Drain implements consume.Processor.
func (r *Runner) Drain(ctx context.Context, tps []consume.TopicPartition, abandon bool) error {
	var set map[consume.TopicPartition]bool
	if tps != nil {
		set = map[consume.TopicPartition]bool{}
		for _, tp := range tps {
			set[tp] = true
		}
	}
	if abandon {
		r.mu.Lock()
		if set == nil {
			r.closed = true
			for tp := range r.pending {
				r.epoch[tp]++
			}
		}
		for tp := range set {
			r.epoch[tp]++
		}
		r.broadcast()
		r.mu.Unlock()
		for _, it := range r.exec.drop(set) {
			r.settle(it, resultDropped, nil)
		}
	}
	for {
		r.mu.Lock()
		n := 0
		for tp, c := range r.pending {
			if set == nil || set[tp] {
				n += c
			}
		}
		r.waiters++
		ch := r.changed
		r.mu.Unlock()
		if n == 0 {
			r.unwait()
			return nil
		}
		select {
		case <-ch:
			r.unwait()
		case <-ctx.Done():
			r.unwait()
			return ctx.Err()
		}
	}
}

// Close stops the commands still running (Line mode's agents get EOF on
// their stdin and are waited for) and ends every goroutine. Call it after
// consume.Run returned.
func (r *Runner) Close() error {
	close(r.closing)
	err := r.exec.close()
	r.wg.Wait()
	return err
}

func (r *Runner) broadcast() {
	if r.waiters == 0 {
		return
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// watch returns the channel closed at the next change, counting the
// caller as a waiter until it calls the returned func.
func (r *Runner) watch() (<-chan struct{}, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waiters++
	return r.changed, func() {
		r.mu.Lock()
		r.waiters--
		r.mu.Unlock()
	}
}

// startable settles as dropped the items of batch that are abandoned (a
// stop: not started) and returns the others, taking the lock once.
func (r *Runner) startable(batch []*item) []*item {
	live := batch[:0]
	var gone []*item
	r.mu.Lock()
	stopped := r.failed || r.stop.Err() != nil
	for _, it := range batch {
		if stopped || r.epoch[it.src.TopicPartition] != it.epoch {
			gone = append(gone, it)
		} else {
			live = append(live, it)
		}
	}
	r.mu.Unlock()
	for _, it := range gone {
		r.settle(it, resultDropped, nil)
	}
	return live
}

// abandoned reports whether it should not be started (or retried).
func (r *Runner) abandoned(it *item) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed || r.stop.Err() != nil || r.epoch[it.src.TopicPartition] != it.epoch
}

func (r *Runner) unwait() {
	r.mu.Lock()
	r.waiters--
	r.mu.Unlock()
}

// result is how an item ended.
type result int

const (
	resultOK result = iota
	// resultDeadLettered went to the dead-letter topic: done, no output.
	resultDeadLettered
	// resultFailed ends the run.
	resultFailed
	// resultDropped was abandoned: never done, never committed.
	resultDropped
)

// sequencer releases a partition's items in the order they were taken:
// output is printed (or emitted) and tickets done in record order.
type sequencer struct {
	emit  sync.Mutex // held while releasing, so releases do not overtake
	taken int64
	next  int64
	ready map[int64]*item
	// lane is the partition's, worked out once (ByPartition).
	lane    uint64
	hasLane bool
}

// settle records how it ended and releases what is now in order.
func (r *Runner) settle(it *item, res result, err error) {
	it.res, it.err = res, err
	tp := it.src.TopicPartition
	r.mu.Lock()
	s := r.seqs[tp]
	if res == resultFailed {
		r.failed = true
	}
	r.mu.Unlock()
	s.emit.Lock()
	defer s.emit.Unlock()
	r.mu.Lock()
	if it.seq == s.next && len(s.ready) == 0 {
		// In order already (always so in Line mode with one lane).
		s.next++
		r.mu.Unlock()
		r.release(it)
		return
	}
	s.ready[it.seq] = it
	var out []*item
	for {
		n, ok := s.ready[s.next]
		if !ok {
			break
		}
		delete(s.ready, s.next)
		s.next++
		out = append(out, n)
	}
	r.mu.Unlock()
	for _, n := range out {
		r.release(n)
	}
}

// release prints or emits an item's output and reports its ticket.
func (r *Runner) release(it *item) {
	switch it.res {
	case resultDropped:
		r.finished(it)
	case resultFailed:
		it.ticket.Done(it.err)
		r.finished(it)
	case resultDeadLettered:
		it.ticket.Done(nil)
		r.finished(it)
	case resultOK:
		if r.o.Output != nil && r.o.Mode == PerMessage {
			r.o.Output.Emit(context.Background(), it.src, splitLines(it.stdout), func(err error) {
				it.ticket.Done(err)
				r.finished(it)
			})
			return
		}
		if len(it.stdout) > 0 {
			r.outMu.Lock()
			_, err := r.o.Stdout.Write(it.stdout)
			r.outMu.Unlock()
			if err != nil {
				it.ticket.Done(fmt.Errorf("writing output: %w", err))
				r.finished(it)
				return
			}
		}
		it.ticket.Done(nil)
		r.finished(it)
	}
}

// finished counts an item settled for Drain.
func (r *Runner) finished(it *item) {
	it.stdout = nil
	<-r.space
	r.mu.Lock()
	r.pending[it.src.TopicPartition]--
	r.broadcast()
	r.mu.Unlock()
}

// splitLines cuts b into lines without their newlines; a last line
// without one counts too.
func splitLines(b []byte) [][]byte {
	if len(b) == 0 {
		return nil
	}
	s := strings.TrimSuffix(string(b), "\n")
	parts := strings.Split(s, "\n")
	out := make([][]byte, len(parts))
	for i, p := range parts {
		out[i] = []byte(p)
	}
	return out
}

// backoff is the wait before attempt n+1 (n from 1).
func (r *Runner) backoff(n int) time.Duration {
	d := r.o.Backoff
	for i := 1; i < n && d < r.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, r.o.MaxBackoff)
}

// wait waits d before a retry; false says the item was abandoned first.
func (r *Runner) wait(it *item, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		ch, done := r.watch()
		if r.abandoned(it) {
			done()
			return false
		}
		select {
		case <-t.C:
			done()
			return !r.abandoned(it)
		case <-ch:
		case <-r.stop.Done():
		}
		done()
	}
}

// fail deals with a record that failed for good: a dead letter, or the
// end of the run.
func (r *Runner) fail(it *item, ce *CommandError) {
	if r.o.DeadLetters == nil {
		r.settle(it, resultFailed, ce)
		return
	}
	if err := r.o.DeadLetters.Send(context.Background(), it.deadLetter(ce)); err != nil {
		r.settle(it, resultFailed, &DeadLetterError{Failure: ce, Err: err})
		return
	}
	r.settle(it, resultDeadLettered, nil)
}

// stderrLine writes one line of a command's stderr, prefixed with where
// it came from.
func (r *Runner) stderrLine(prefix string, line []byte) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	buf := make([]byte, 0, len(prefix)+len(line)+1)
	buf = append(append(append(buf, prefix...), line...), '\n')
	_, _ = r.o.Stderr.Write(buf)
}
