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
	// parts holds each partition's bookkeeping; an item points to its own.
	parts map[consume.TopicPartition]*part
	// waiters counts the goroutines waiting on changed: without any, a
	// change closes nothing (a channel per record costs, in Line mode).
	waiters int
	// failed stops starting items after a failure that ends the run.
	failed bool
	// taken counts the items handed to the execer and not finished; the
	// loop waits while it is at queue (Line mode: plus a batch).
	taken, queue int
	// free holds finished Line mode items for reuse: a million records
	// are then not a million allocations.
	free []*item

	// held, spare and last belong to the consume loop (Process, Flush
	// and Drain come from one goroutine): held are Line mode's items not
	// yet handed over (a delivery's, passed on together), spare are free
	// items taken for reuse, last is the partition of the last record.
	held  []*item
	spare []*item
	last  *part
	// slab is where Line mode's lines are written, many to an
	// allocation; retiring are full ones whose last items are held still,
	// spareSlabs free ones taken for reuse (all three the loop's).
	slab       *slab
	retiring   []*slab
	spareSlabs []*slab
	// freeSlabs are retired slabs nothing refers to any more (under mu).
	freeSlabs []*slab

	exec  execer
	outMu sync.Mutex // streamctl's stdout and stderr: whole writes
	wg    sync.WaitGroup
	seed  maphash.Seed
	// stop is New's context: once it ends (a signal), nothing more is
	// started, while what runs finishes.
	stop    context.Context
	closing chan struct{}
}

// part is one partition's bookkeeping.
type part struct {
	tp consume.TopicPartition
	// pending counts the items handed over and not finished; epoch moves
	// on each abandon: items of an older one are not started (and a retry
	// waiting is given up). Both under Runner.mu.
	pending, epoch int
	seq            sequencer
	// lane is the partition's, worked out once (ByPartition); the loop's.
	lane    uint64
	hasLane bool
}

// lineBatch bounds the records Line mode holds before handing them over.
const lineBatch = 1024

// slab holds the lines of many items, so that a million records are not a
// million allocations. refs counts the items handed over that point to it
// and the writers reading it; a retired slab (full: no more lines go in)
// without any is free for reuse. Both under Runner.mu.
type slab struct {
	buf     []byte
	refs    int
	retired bool
}

// slabSize is a slab's usual size; a longer line gets one of its own.
const slabSize = 64 << 10

// execer runs items: per message, or through long-running commands.
type execer interface {
	// enqueue hands over items; each runs later, in its lane's order.
	// The execer keeps its own list: its is the caller's to reuse.
	enqueue(its []*item)
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
		parts:   map[consume.TopicPartition]*part{},
		queue:   queue,
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

// Process implements consume.Processor. Per message, it waits for room
// and hands the record over at once; in Line mode it holds the record
// until Flush (or a full batch), waiting for room before a batch only.
func (r *Runner) Process(ctx context.Context, m consume.Message) error {
	if err := r.oneLine(m); err != nil {
		return err
	}
	if r.o.Mode == PerMessage || len(r.held) >= lineBatch {
		r.handOver()
		if err := r.room(ctx); err != nil {
			return err
		}
	}
	it := r.newItem(m)
	p := r.last
	if p == nil || p.tp != m.Ticket.TopicPartition {
		p = r.partOf(m.Ticket.TopicPartition)
		r.last = p
	}
	it.part = p
	if r.o.Mode == Line {
		need := len(m.Record.Value) + 1
		if r.o.Envelope {
			need += 2*len(m.Record.Key) + 256 // a guess: Append grows a slab left short
		}
		if r.slab == nil || cap(r.slab.buf)-len(r.slab.buf) < need {
			r.newSlab(need)
		}
		sl := r.slab
		start := len(sl.buf)
		if r.o.Envelope {
			sl.buf = envelope.Append(sl.buf, m.Record)
		} else {
			sl.buf = append(sl.buf, m.Record.Value...)
		}
		sl.buf = append(sl.buf, '\n')
		it.line = sl.buf[start:len(sl.buf):len(sl.buf)]
		it.slab = sl
	}
	if r.o.Order == ByPartition {
		if !p.hasLane {
			p.lane, p.hasLane = r.lane(p.tp, nil), true
		}
		it.lane = p.lane
	} else {
		it.lane = r.lane(p.tp, m.Record.Key)
	}
	r.held = append(r.held, it)
	if r.o.Mode == PerMessage {
		r.handOver()
	}
	return nil
}

// Flush implements consume.Processor: the held records are handed over.
func (r *Runner) Flush(ctx context.Context) error {
	r.handOver()
	return r.room(ctx)
}

// newSlab starts a slab with room for need bytes, retiring the full one.
func (r *Runner) newSlab(need int) {
	if r.slab != nil {
		r.retiring = append(r.retiring, r.slab)
	}
	if n := len(r.spareSlabs); n > 0 && need <= slabSize {
		r.slab = r.spareSlabs[n-1]
		r.spareSlabs[n-1] = nil
		r.spareSlabs = r.spareSlabs[:n-1]
		return
	}
	r.slab = &slab{buf: make([]byte, 0, max(slabSize, need))}
}

// unref drops a reference to s, freeing it once retired and unused.
// r.mu is held.
func (r *Runner) unref(s *slab) {
	s.refs--
	if s.refs == 0 && s.retired {
		s.retired = false
		s.buf = s.buf[:0]
		if cap(s.buf) == slabSize {
			r.freeSlabs = append(r.freeSlabs, s)
		}
	}
}

// pin holds the slabs of its while a writer reads their lines (an item
// acknowledged ahead of its line, by a command answering early, must not
// free its slab under the writer), adding them to pinned.
func (r *Runner) pin(its []*item, pinned []*slab) []*slab {
	var last *slab
	r.mu.Lock()
	for _, it := range its {
		if it.slab != nil && it.slab != last {
			last = it.slab
			last.refs++
			pinned = append(pinned, last)
		}
	}
	r.mu.Unlock()
	return pinned
}

// unpin lets go of what pin held.
func (r *Runner) unpin(pinned []*slab) {
	r.mu.Lock()
	for _, s := range pinned {
		r.unref(s)
	}
	r.mu.Unlock()
}

// partOf returns tp's bookkeeping, made on first use.
func (r *Runner) partOf(tp consume.TopicPartition) *part {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.parts[tp]
	if p == nil {
		p = &part{tp: tp, seq: sequencer{ready: map[int64]*item{}}}
		r.parts[tp] = p
	}
	return p
}

// handOver passes the held items to the execer, counting them taken, and
// takes the items freed since for reuse.
func (r *Runner) handOver() {
	if len(r.held) == 0 {
		return
	}
	r.mu.Lock()
	for _, it := range r.held {
		p := it.part
		p.pending++
		it.epoch = p.epoch
		it.seq = p.seq.taken
		p.seq.taken++
		if it.slab != nil {
			it.slab.refs++
		}
	}
	r.taken += len(r.held)
	// Retired only now: their items are counted above.
	for _, s := range r.retiring {
		s.retired = true
		s.refs++
		r.unref(s)
	}
	clear(r.retiring)
	r.retiring = r.retiring[:0]
	if len(r.spare) == 0 && len(r.free) > 0 {
		r.spare, r.free = r.free, r.spare
	}
	if len(r.spareSlabs) == 0 && len(r.freeSlabs) > 0 {
		r.spareSlabs, r.freeSlabs = r.freeSlabs, r.spareSlabs
	}
	r.mu.Unlock()
	r.exec.enqueue(r.held)
	clear(r.held)
	r.held = r.held[:0]
}

// room waits until fewer than queue items are taken.
func (r *Runner) room(ctx context.Context) error {
	for {
		r.mu.Lock()
		if r.taken < r.queue {
			r.mu.Unlock()
			return nil
		}
		ch := r.waitLocked()
		r.mu.Unlock()
		if err := r.await(ctx, ch); err != nil {
			return err
		}
	}
}

// lane is what orders an item: its partition, or its key (nil: null)
// within it.
func (r *Runner) lane(tp consume.TopicPartition, key []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(tp.Topic)
	p := uint32(tp.Partition)
	h.Write([]byte{byte(p >> 24), byte(p >> 16), byte(p >> 8), byte(p)})
	if r.o.Order == ByKey {
		if key == nil {
			h.WriteByte(0)
		} else {
			h.WriteByte(1)
			h.Write(key)
		}
	}
	return h.Sum64()
}

// Drain implements consume.Processor. Held records are handed over
// first, to be waited for (or dropped) with the others.
func (r *Runner) Drain(ctx context.Context, tps []consume.TopicPartition, abandon bool) error {
	r.handOver()
	var set map[consume.TopicPartition]bool
	if tps != nil {
		set = map[consume.TopicPartition]bool{}
		for _, tp := range tps {
			set[tp] = true
		}
	}
	if abandon {
		r.mu.Lock()
		for tp, p := range r.parts {
			if set == nil || set[tp] {
				p.epoch++
			}
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
		for tp, p := range r.parts {
			if set == nil || set[tp] {
				n += p.pending
			}
		}
		if n == 0 {
			r.mu.Unlock()
			return nil
		}
		ch := r.waitLocked()
		r.mu.Unlock()
		if err := r.await(ctx, ch); err != nil {
			return err
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
		if stopped || it.part.epoch != it.epoch {
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
	return r.failed || r.stop.Err() != nil || it.part.epoch != it.epoch
}

// waitLocked counts the caller as waiting for a change and returns the
// channel the next change closes; r.mu is held, so that no change comes
// between the caller's look at the state and this (watch, unlocked).
func (r *Runner) waitLocked() <-chan struct{} {
	r.waiters++
	return r.changed
}

// await waits for ch, which waitLocked returned, or for ctx.
func (r *Runner) await(ctx context.Context, ch <-chan struct{}) error {
	defer r.unwait()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
	taken int64      // under Runner.mu, as next and ready are
	next  int64
	ready map[int64]*item
}

// settle records how it ended and releases what is now in order. Line
// mode has nothing to keep in order (no output: the command's stdout is
// its acknowledgements, and consume takes completions in any order), so
// an item is released at once.
func (r *Runner) settle(it *item, res result, err error) {
	it.res, it.err = res, err
	if res == resultFailed {
		r.mu.Lock()
		r.failed = true
		r.mu.Unlock()
	}
	if r.o.Mode == Line {
		r.release(it)
		return
	}
	s := &it.part.seq
	s.emit.Lock()
	defer s.emit.Unlock()
	r.mu.Lock()
	if it.seq == s.next && len(s.ready) == 0 {
		// In order already.
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

// settleOK settles Line mode items acknowledged with "ok": their tickets
// reported in one go, then counted finished under one lock.
func (r *Runner) settleOK(its []*item, tickets []consume.Ticket) []consume.Ticket {
	tickets = tickets[:0]
	for _, it := range its {
		tickets = append(tickets, it.ticket)
	}
	consume.DoneAll(tickets)
	r.mu.Lock()
	for _, it := range its {
		it.part.pending--
		if it.slab != nil {
			r.unref(it.slab)
		}
		*it = item{}
	}
	r.taken -= len(its)
	r.free = append(r.free, its...)
	r.broadcast()
	r.mu.Unlock()
	return tickets
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
			r.o.Output.Emit(context.Background(), it.src(), splitLines(it.msg.stdout), func(err error) {
				it.ticket.Done(err)
				r.finished(it)
			})
			return
		}
		if it.msg != nil && len(it.msg.stdout) > 0 {
			r.outMu.Lock()
			_, err := r.o.Stdout.Write(it.msg.stdout)
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

// finished counts an item settled for Drain; a Line mode item is kept
// for reuse (nothing refers to it any more).
func (r *Runner) finished(it *item) {
	r.mu.Lock()
	it.part.pending--
	r.taken--
	if it.slab != nil {
		r.unref(it.slab)
	}
	if r.o.Mode == Line {
		*it = item{}
		r.free = append(r.free, it)
	}
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
