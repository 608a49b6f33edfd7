package consume

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/envelope"
)

// Processor, when set in Options, takes the records Run would write, and
// says when each is done: a group then commits a record only once it and
// every record before it in its partition are done (the records the filter
// left out or --skip-invalid skipped count as done at once). Run stays the
// one place that fetches, decodes, filters, stops and keeps the group; the
// Processor owns what happens to a record. Run owns the contiguous-prefix
// tracking: a Processor reports completions in any order. Run calls
// Process, Flush and Drain from one goroutine, one call at a time.
type Processor interface {
	// Process takes one record. It may block to push back, and returns
	// ctx's error when ctx ends first, having taken nothing (Run may hand
	// the record over again: it does so after marking what was done
	// while Process pushed back); any other error ends the run. m's
	// Record is valid during the call only (Run reuses it); its raw bytes
	// until m.Ticket.Done is called (Run then reuses the fetch buffer they
	// point into), or for good when Drain abandons the record. Process
	// must see to it that m.Ticket.Done is called once, from any
	// goroutine, unless Drain abandons the record.
	Process(ctx context.Context, m Message) error
	// Flush says the records of one delivery (what one fetch brought of
	// a partition) were all handed over: a Processor that holds records
	// to pass them on together passes them on now. It may block to push
	// back, as Process may; the records are handed over all the same.
	Flush(ctx context.Context) error
	// Drain returns once the records handed over of the partitions tps
	// (nil: all) are done. With abandon, those not started yet are
	// dropped (their tickets are never done, so they are not committed
	// and their partition's next reader reads them) and only those
	// started are waited for. ctx bounds the wait.
	Drain(ctx context.Context, tps []TopicPartition, abandon bool) error
}

// ErrRefused, matched (errors.Is) by an error Process returns, says the
// record itself cannot be processed, as a message that does not decode
// cannot: the run ends there, once what was handed over before it is done.
var ErrRefused = errors.New("the record cannot be processed")

// Committer, when set in Options, takes over a group's commits: where Run
// would mark offsets it hands them to Commit (the next offset to read per
// partition, done prefixes only) and it never marks or commits itself. It
// is the seam for a transactional commit of offsets with outputs
// (sess.MemberID and sess.GenerationID name the member to Kafka); the
// caller turns sarama's auto-commit off. An error ends the run.
type Committer interface {
	Commit(sess sarama.ConsumerGroupSession, offsets map[TopicPartition]int64) error
}

// Message is what a Processor is handed: the decoded record, the bytes as
// they came (a dead letter keeps them), and the ticket to report it done.
type Message struct {
	Record     *envelope.Record
	RawKey     []byte
	RawValue   []byte
	RawHeaders []*sarama.RecordHeader
	Ticket     Ticket
}

// Ticket reports one record done. It is a small value: copy it freely.
type Ticket struct {
	TopicPartition
	Offset int64
	// Session is the group session the record came from (nil outside a
	// group); a ticket of a session that has ended is ignored.
	Session sarama.ConsumerGroupSession
	c       *completions
	// buf is the fetch buffer the record's raw bytes point into; Done
	// lets go of the ticket's hold on it.
	buf *fetchBuf
}

// Done reports the record dealt with: err nil lets it be committed; an
// error ends the run (nothing from this record on in its partition is
// committed) and is what Run returns.
func (t Ticket) Done(err error) {
	if t.c == nil {
		return
	}
	t.c.mu.Lock()
	if err == nil {
		t.c.done = append(t.c.done, t)
	} else {
		t.c.failed = append(t.c.failed, completion{t: t, err: err})
	}
	t.c.mu.Unlock()
	t.buf.release()
	select {
	case t.c.wake <- struct{}{}:
	default:
	}
}

// DoneAll reports every record of ts dealt with, as Done(nil) on each
// would, taking the lock once: for a Processor that finishes records in
// batches.
func DoneAll(ts []Ticket) {
	if len(ts) == 0 {
		return
	}
	c := ts[0].c
	for _, t := range ts {
		if t.c != c {
			for _, t := range ts {
				t.Done(nil)
			}
			return
		}
	}
	if c == nil {
		return
	}
	c.mu.Lock()
	c.done = append(c.done, ts...)
	c.mu.Unlock()
	releaseAll(ts)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

type completion struct {
	t   Ticket
	err error
}

// completions collects Done calls from any goroutine for the loop, which
// alone applies them: Process may block the loop, so a Done must never
// wait on it. The records done are kept apart from those that failed:
// the many are then a plain list of tickets.
type completions struct {
	mu     sync.Mutex
	done   []Ticket
	failed []completion
	wake   chan struct{}
}

// take swaps the records done for into (emptied), and returns those
// failed since last time, if any.
func (c *completions) take(into []Ticket) ([]Ticket, []completion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	done, failed := c.done, c.failed
	c.done, c.failed = into[:0], nil
	return done, failed
}

// outstanding is one partition's records, in offset order, since the last
// marked offset: the first ones not done hold the mark back.
type outstanding struct {
	head  int
	items []outItem
}

type outItem struct {
	offset int64
	done   bool
}

// track adds a record of partition tp to the prefix tracking; a record
// done at once (filtered out, skipped) with nothing before it outstanding
// is marked straight away.
func (r *runner) track(d *delivery, offset int64, done bool) {
	if d.sess == nil {
		return
	}
	if r.o.Processor == nil {
		// Written is done: only the run's last offset matters, and a
		// partition's messages come in runs. The map (a string hash per
		// write) takes it when the run ends or flush needs it.
		if r.run.set && r.run.tp.Partition == d.tp.Partition && r.run.tp.Topic == d.tp.Topic {
			r.run.off = offset + 1 // the run goes on: one store per message
			return
		}
		if r.run.set {
			r.pending[r.run.tp] = r.run.off
		}
		r.run = runMark{tp: d.tp, off: offset + 1, set: true}
		return
	}
	o := r.lastOut
	if o == nil || r.lastTP != d.tp {
		o = r.outstanding[d.tp]
		r.lastTP, r.lastOut = d.tp, o
	}
	if done && (o == nil || o.head == len(o.items)) {
		r.pending[d.tp] = offset + 1
		return
	}
	if o == nil {
		o = &outstanding{}
		r.outstanding[d.tp] = o
		r.lastTP, r.lastOut = d.tp, o
	}
	o.items = append(o.items, outItem{offset: offset, done: done})
}

// settle applies the completions reported since last time, moving each
// partition's mark over its done prefix. The first error is returned.
// Completions mostly come in runs of one partition, in offset order: the
// partition is looked up once per run, and its mark set once.
func (r *runner) settle() error {
	var failed []completion
	r.taken, failed = r.comp.take(r.taken)
	var first error
	if len(failed) > 0 {
		first = failed[0].err
	}
	var o *outstanding
	var tp TopicPartition
	head := 0 // o.head when the run began
	for _, t := range r.taken {
		if t.Session == nil || t.Session != r.sess {
			continue // outside a group, or a session that ended
		}
		if o == nil || t.TopicPartition != tp {
			r.advanced(tp, o, head)
			tp = t.TopicPartition
			if o = r.outstanding[tp]; o == nil {
				continue
			}
			head = o.head
		}
		live := o.items[o.head:]
		i := 0
		if len(live) == 0 || live[0].offset != t.Offset {
			i = sort.Search(len(live), func(i int) bool { return live[i].offset >= t.Offset })
		}
		if i < len(live) && live[i].offset == t.Offset {
			live[i].done = true
		}
		for o.head < len(o.items) && o.items[o.head].done {
			o.head++
		}
	}
	r.advanced(tp, o, head)
	return first
}

// advanced marks tp's done prefix once its head moved past from, and
// drops what the head left behind once it is most of the list.
func (r *runner) advanced(tp TopicPartition, o *outstanding, from int) {
	if o == nil || o.head == from {
		return
	}
	r.pending[tp] = o.items[o.head-1].offset + 1
	if o.head > 1024 && o.head*2 > len(o.items) {
		o.items = append(o.items[:0], o.items[o.head:]...)
		o.head = 0
	}
}

// drainProcessor waits for the Processor's records of tps (nil: all), then
// applies what completed. Its error is the first a record failed with.
func (r *runner) drainProcessor(ctx context.Context, tps []TopicPartition, abandon bool) error {
	if r.o.Processor == nil {
		return nil
	}
	if err := r.o.Processor.Drain(ctx, tps, abandon); err != nil && ctx.Err() == nil {
		return err
	}
	return r.settle()
}

// errSessionEnded stops handing a delivery's records to the Processor
// once their session ended.
var errSessionEnded = errors.New("group session ended")

// sessionEnded says a Processor's error for d comes from d's session
// ending (a rebalance) while the run goes on.
func (r *runner) sessionEnded(d *delivery) bool {
	return d.sess != nil && r.ctx.Err() == nil && d.sess.Context().Err() != nil
}

// watchSession makes sessCtx for a new session, ending the last one's.
func (r *runner) watchSession(sess sarama.ConsumerGroupSession) {
	if r.o.Processor == nil {
		return
	}
	if r.sessCancel != nil {
		r.sessCancel()
	}
	ctx, cancel := context.WithCancel(r.ctx)
	stop := context.AfterFunc(sess.Context(), cancel)
	r.sessCtx = ctx
	r.sessCancel = func() { stop(); cancel() }
	r.due = nil
}

// errMarkDue is the cause that ends the context of a Process pushing back
// when it is time to mark what was done.
var errMarkDue = errors.New("time to mark what was done")

// processCtx is the context a record of d is processed under; in a group,
// it also ends (with errMarkDue) when the done prefixes are due to be
// marked, so that a Processor pushing back through a long fetched batch
// does not hold the group's commits back until the batch's end.
func (r *runner) processCtx(d *delivery) context.Context {
	if d.sess == nil || r.sessCtx == nil {
		return r.ctx
	}
	at := r.flushed.Add(flushEvery)
	if r.due == nil || !at.Equal(r.dueAt) {
		if r.dueCancel != nil {
			r.dueCancel()
		}
		r.due, r.dueCancel = context.WithDeadlineCause(r.sessCtx, at, errMarkDue)
		r.dueAt = at
	}
	return r.due
}

// mark applies the completions reported so far and marks (or, with a
// Committer, commits) the done prefixes.
func (r *runner) mark() error {
	if err := r.settle(); err != nil {
		return err
	}
	return r.flush()
}

// sessionParts lists the partitions the loop tracks.
func (r *runner) sessionParts() []TopicPartition {
	tps := make([]TopicPartition, 0, len(r.parts))
	for tp := range r.parts {
		tps = append(tps, tp)
	}
	return tps
}

// push hands m (nil: the end of a delivery, Flush) to the Processor. One
// that pushes back past the mark time lets go (its context ends with
// errMarkDue) having taken nothing: what was done meanwhile is marked, and
// the hand-over is made again.
func (r *runner) push(d *delivery, m *Message) error {
	for {
		ctx := r.processCtx(d)
		var err error
		if m != nil {
			err = r.o.Processor.Process(ctx, *m)
		} else {
			err = r.o.Processor.Flush(ctx)
		}
		if err == nil || !errors.Is(context.Cause(ctx), errMarkDue) {
			return err
		}
		if err := r.mark(); err != nil {
			return err
		}
	}
}

// runMark is the offset to mark of the partition whose messages the loop
// is writing, not yet in runner.pending.
type runMark struct {
	tp  TopicPartition
	off int64
	set bool
}
