// Package consume reads records from Kafka partitions and writes them,
// decoded and formatted, to an io.Writer. It owns start offsets, stop
// conditions and, in group mode, offset commits (only of what was written).
package consume

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/format"
	"github.com/streamctl/streamctl/internal/kafkaconn"
	"github.com/streamctl/streamctl/internal/kafkaerr"
)

// TimeoutError says a timeout cut short a stop condition asked for (a
// count, or the end of every partition). cmd words it with its flags and
// maps it to exit code 3.
type TimeoutError struct {
	// Idle says it was the idle timeout, not the deadline.
	Idle bool
	// After is how long the idle timeout waited (zero for the deadline).
	After time.Duration
	// Starting says the deadline passed before consuming began.
	Starting bool
	// Written and Num are the messages written and the count asked for
	// (Num 0: no count, the end was asked for).
	Written, Num int
	// Behind are the partitions short of their end, sorted; with no count
	// and none behind, no partition had been assigned yet.
	Behind []Position
	// Processing says every message counted had been handed to the
	// Processor, which was not done with them all by the deadline.
	Processing bool
}

// Position is where reading a partition stands against its end offset,
// or against its end time when that is still ahead.
type Position struct {
	TopicPartition
	Next, End int64
	// EndTime, when not zero, is the end (ms since the epoch): the first
	// message at or after it ends the partition, and End means nothing.
	EndTime int64
}

func (p Position) String() string {
	if p.EndTime != 0 {
		at := time.UnixMilli(p.EndTime).UTC().Format(time.RFC3339Nano)
		return fmt.Sprintf("%s at %d, waiting for a message at or after %s", p.TopicPartition, p.Next, at)
	}
	return fmt.Sprintf("%s at %d of %d", p.TopicPartition, p.Next, p.End)
}

func (e *TimeoutError) Error() string {
	why := "the deadline passed"
	if e.Idle {
		why = fmt.Sprintf("no message for %s", e.After)
	}
	return "timed out: " + why + " " + e.Short()
}

// Short says what the timeout cut short, for a message that words the
// timeout itself: "after 3 of 5 messages", "before the end of t/0 at 4 of 9".
func (e *TimeoutError) Short() string {
	switch {
	case e.Starting:
		return "before consuming began"
	case e.Processing:
		return "before every message was processed"
	case e.Num > 0:
		return fmt.Sprintf("after %d of %d messages", e.Written, e.Num)
	case len(e.Behind) == 0:
		return "before any partition was assigned"
	}
	behind := make([]string, len(e.Behind))
	for i, p := range e.Behind {
		behind[i] = p.String()
	}
	return "before the end of " + strings.Join(behind, ", ")
}

// PartitionError says a partition asked for does not exist.
type PartitionError struct {
	Topic     string
	Partition int32
	// Valid are the topic's partitions.
	Valid []int32
}

func (e *PartitionError) Error() string {
	return fmt.Sprintf("topic %q has no partition %d", e.Topic, e.Partition)
}

// DecodeError says a message's key or value does not decode with its codec.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Part is "key" or "value".
	Part string
	Err  error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("topic %q partition %d offset %d: cannot decode %s: %v", e.Topic, e.Partition, e.Offset, e.Part, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// errDeadline is the cause of the run's context ending at Options.Deadline.
var errDeadline = errors.New("deadline reached")

// Options say what to consume, how to print it and when to stop.
type Options struct {
	Topics []string
	// Partitions limits consuming to these partition numbers (nil: all).
	Partitions []int32
	// Start is where to begin where no group offset is committed.
	Start Offset
	// End, when set, is where each partition stops (exclusive), as -e's
	// end does: the run stops once every partition reached its end, and
	// partitions whose range has no end stop at the end they had at start.
	// An offset end, or a time end already past, is never beyond the end a
	// partition had at start; a time end still ahead waits for a message
	// at or after it. Outside a group only.
	End *Offset
	// PartitionRanges are ranges of their own for these partition
	// numbers, in place of Start and End. Outside a group only.
	PartitionRanges map[int32]Range
	// Num stops after this many messages were written (0: no limit).
	Num int
	// Exit stops once every partition reached the end offset it had at start.
	Exit bool
	// IdleTimeout stops after this long without a message (0: never).
	IdleTimeout time.Duration
	// Deadline stops the run, start-up included, at this time (zero:
	// never). The caller makes it once, from its own timeout, so that
	// connecting and consuming share one clock.
	Deadline time.Time
	// Group consumes as a member of this consumer group (empty: no group).
	Group string
	// Balancer is the group's partition assignor: "range" (the default
	// when empty), "roundrobin" or "sticky"; see Balancers.
	Balancer string
	// InstanceID makes the member static (group.instance.id, KIP-345): a
	// member that comes back under the same id within the session timeout
	// takes its partitions back without a rebalance, and stopping does not
	// leave the group.
	InstanceID string
	// KeyCodec and ValueCodec decode keys and values (nil: raw).
	KeyCodec, ValueCodec *codec.Chain
	// HideFaustMeta strips Faust's "__faust" model metadata from JSON keys
	// and values.
	HideFaustMeta bool
	// ReadUncommitted shows records of open and aborted transactions too;
	// by default (read_committed, as librdkafka and kcat) they are hidden
	// and -e ends at the last stable offset.
	ReadUncommitted bool
	// SkipInvalid reports undecodable messages through Warn and goes on;
	// without it the first one stops the run with an error.
	SkipInvalid bool
	// Discover, when set, is asked every DiscoverEvery (5 s when zero)
	// for the topics to read while the run follows (without Exit); topics
	// it adds are read from Start (in a group, where nothing is committed),
	// a group member rejoining with the wider subscription.
	Discover      func(ctx context.Context) ([]string, error)
	DiscoverEvery time.Duration
	// Format turns a record into output bytes.
	Format format.Formatter
	// Filter, when set, decides which messages are written (and counted
	// against Num); the others are only counted in Stats.Seen and, in a
	// group, still committed.
	Filter Filter
	// GiveUp is how long to go on retrying before the run fails (0: a
	// minute): fetching while no broker answers, a start-up lookup that
	// keeps failing, a group whose sessions cannot start.
	GiveUp time.Duration
	// Warn reports a problem that does not stop the run (on stderr). Run
	// calls it from one goroutine only, and only once the output written
	// before it is flushed.
	Warn func(string)
	// Processor, when set, takes the records in place of the output
	// (Format is unused) and says when each is done; see Processor.
	Processor Processor
	// Committer, when set in a group, commits in place of Run; see
	// Committer.
	Committer Committer
	// RevokeWait bounds how long a rebalance waits for the Processor's
	// records of the partitions that move (0: 20 s); what is not done by
	// then is not committed, and their next reader reads them again.
	RevokeWait time.Duration
}

func (o *Options) giveUp() time.Duration {
	if o.GiveUp > 0 {
		return o.GiveUp
	}
	return defaultGiveUp
}

func (o *Options) isolation() sarama.IsolationLevel {
	if o.ReadUncommitted {
		return sarama.ReadUncommitted
	}
	return sarama.ReadCommitted
}

// Stats count what a run did.
type Stats struct {
	Written, Skipped int
	// Seen counts the messages judged by Options.Filter, matched or not.
	Seen int
	// FilterErrors counts the messages the filter failed on (no match).
	FilterErrors int
}

// Filter decides which messages a run writes. Raw is asked first, on the
// bytes as they came, so that a message it leaves out is never decoded;
// Decoded is asked on the record about to be written. An error from
// Decoded counts as no match; Run reports the first through Warn.
type Filter interface {
	Raw(topic string, key, value []byte, headers []*sarama.RecordHeader) bool
	Decoded(rec *envelope.Record) (bool, error)
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// partState tracks one partition's position against its end offset.
type partState struct {
	next, end int64
	// endTime, when not zero, also ends the partition at the first
	// message at or after it (milliseconds): an end time no message had
	// reached at start.
	endTime int64
	done    bool
	last    time.Time // when it last moved
}

// message is one record as the loop handles it: lighter than sarama's
// ConsumerMessage, whose size shows when a topic is drained.
type message struct {
	offset     int64
	timestamp  int64 // milliseconds since the epoch
	hasTS      bool
	key, value []byte
	headers    []*sarama.RecordHeader
}

// assignment tells the loop which partitions it now reads and their ends.
type assignment struct {
	parts map[TopicPartition]*partState
	sess  sarama.ConsumerGroupSession
	ack   chan struct{}
}

type runner struct {
	o      Options
	client sarama.Client
	out    *bufio.Writer
	buf    []byte
	rec    envelope.Record
	// keyDec and valueDec are KeyCodec's and ValueCodec's decoders
	// (nil with no codec): this goroutine's alone, they may keep state
	// from one message to the next.
	keyDec, valueDec *codec.Decoder
	msgs             chan delivery
	// bufs are the fetch buffers free for reuse; see fetchBuf.
	bufs *bufPool
	// demand holds the fetcher back once -n is covered.
	demand *demand
	assign chan assignment
	revoke chan revocation
	errs   chan error
	warnc  chan string
	parts  map[TopicPartition]*partState
	// doneCount counts the partitions in parts that reached their end.
	doneCount int
	// assigned says parts is known: at start outside a group, after the
	// first assignment in one (which may be empty).
	assigned bool
	stats    Stats
	// pending holds, per partition, the offset to mark once the output
	// is flushed (a group's at-least-once).
	pending map[TopicPartition]int64
	run     runMark // the latest of pending, without a Processor; flush spills it
	sess    sarama.ConsumerGroupSession
	// flushed is when output was last flushed (and marked).
	flushed time.Time
	// ctx is the loop's, for a Processor that pushes back.
	ctx context.Context
	// sessCtx ends with the loop's or the group session's context: a
	// Processor pushing back lets go once the partitions move.
	sessCtx    context.Context
	sessCancel context.CancelFunc
	// due is sessCtx ending at dueAt too, the next mark time: a Processor
	// pushing back lets go then, so that what it finished meanwhile is
	// marked (and committed) while a fetched batch is being handed over.
	due       context.Context
	dueAt     time.Time
	dueCancel context.CancelFunc
	// comp, outstanding and taken track a Processor's completions:
	// offsets are marked over each partition's done prefix only.
	comp        *completions
	outstanding map[TopicPartition]*outstanding
	taken       []Ticket
	// lastTP and lastOut are the partition track saw last, and its
	// entry in outstanding (nil: none yet).
	lastTP  TopicPartition
	lastOut *outstanding
}

// flushEvery bounds how long written output waits to be flushed and, in a
// group, marked for the next commit while more records keep coming.
const flushEvery = 200 * time.Millisecond

// Run consumes until a stop condition is met, ctx is done (a clean stop), or
// an error occurs. Output is buffered and flushed whenever the consumer has
// nothing more in hand, so a follower sees each message promptly.
func Run(ctx context.Context, client sarama.Client, o Options, w io.Writer) (Stats, error) {
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	if o.Format == nil {
		o.Format = format.Plain{}
	}
	if o.Group == "" && (o.End != nil || (Ranges{Partitions: o.PartitionRanges}).HasEnd()) {
		o.Exit = true // a range ends as -e does
	}
	// A topic named twice is read once, as a partition is (see partitions).
	var topics []string
	for _, t := range o.Topics {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	o.Topics = topics
	r := &runner{
		o:       o,
		client:  client,
		out:     bufio.NewWriterSize(w, 64<<10),
		msgs:    make(chan delivery, 16),
		demand:  newDemand(o.Num),
		assign:  make(chan assignment),
		revoke:  make(chan revocation),
		errs:    make(chan error, 1),
		warnc:   make(chan string, 64),
		parts:   map[TopicPartition]*partState{},
		pending: map[TopicPartition]int64{},

		comp:        &completions{wake: make(chan struct{}, 1)},
		outstanding: map[TopicPartition]*outstanding{},
	}
	r.bufs = &bufPool{}
	if o.KeyCodec != nil {
		r.keyDec = o.KeyCodec.NewDecoder()
	}
	if o.ValueCodec != nil {
		r.valueDec = o.ValueCodec.NewDecoder()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !o.Deadline.IsZero() {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadlineCause(ctx, o.Deadline, errDeadline)
		defer cancelDeadline()
	}
	var stop func()
	var err error
	if o.Group != "" {
		stop, err = r.startGroup(ctx)
	} else {
		stop, err = r.startPartitions(ctx)
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), errDeadline) {
			// Start-up retried until the deadline: the deadline is why.
			if o.Num == 0 && !o.Exit {
				return r.stats, nil
			}
			return r.stats, &TimeoutError{Starting: true, Num: o.Num}
		}
		return r.stats, err
	}
	if o.Group == "" {
		r.setParts(r.parts)
	}
	err = r.loop(ctx)
	cancel()
	stop()
	return r.stats, err
}

// partitions lists the partitions of topic to read, checking requested ones exist.
func (r *runner) partitions(topic string) ([]int32, error) {
	all, err := r.client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("topic %q: %w", topic, err)
	}
	if len(r.o.Partitions) == 0 {
		return all, nil
	}
	var out []int32
	for _, p := range r.o.Partitions {
		if !slices.Contains(all, p) {
			return nil, &PartitionError{Topic: topic, Partition: p, Valid: all}
		}
		// A partition named twice is read once: a request that names
		// one twice is refused as malformed.
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func (r *runner) resolve(ctx context.Context, tp TopicPartition, oldest, newest int64) (int64, error) {
	return r.o.Start.resolve(oldest, newest, r.atTime(ctx, tp))
}

// atTime looks up the first offset of tp at or after a time.
func (r *runner) atTime(ctx context.Context, tp TopicPartition) func(ms int64) (int64, error) {
	return func(ms int64) (off int64, err error) {
		err = kafkaerr.Retry(ctx, r.o.giveUp(), func() { r.refreshMetadata([]TopicPartition{tp}) }, func() (err error) {
			off, err = r.client.GetOffset(tp.Topic, tp.Partition, ms)
			return err
		})
		return off, err
	}
}

// rangeFor is the range to read of partition p.
func (r *runner) rangeFor(p int32) Range {
	if rg, ok := r.o.PartitionRanges[p]; ok {
		return rg
	}
	return Range{Start: r.o.Start, End: r.o.End}
}

// startPartitions reads the chosen partitions directly, without a group.
func (r *runner) startPartitions(ctx context.Context) (func(), error) {
	var tps []TopicPartition
	for _, topic := range r.o.Topics {
		ps, err := r.partitions(topic)
		if err != nil {
			return nil, err
		}
		// A partition given its own range must be one of every topic's
		// partitions read: the error names the topic that lacks it.
		for _, p := range slices.Sorted(maps.Keys(r.o.PartitionRanges)) {
			if !slices.Contains(ps, p) {
				valid, _ := r.client.Partitions(topic)
				return nil, &PartitionError{Topic: topic, Partition: p, Valid: valid}
			}
		}
		for _, p := range ps {
			tps = append(tps, TopicPartition{topic, p})
		}
	}
	// The offsets are asked on the fetcher's connections, which it then
	// owns (and closes): a leader is dialled once for both.
	conns := kafkaconn.NewPool(r.client.Config())
	f := &fetcher{r: r, client: r.client, isolation: r.o.isolation(), pos: map[TopicPartition]int64{}, conns: conns}
	if r.fromOldest(tps) {
		// Nothing needs the end offsets, and the start is each
		// partition's oldest: the fetcher asks for that together with its
		// first fetch, from 0, which is where most logs start.
		f.atOldest = map[TopicPartition]bool{}
		for _, tp := range tps {
			r.parts[tp] = &partState{end: math.MaxInt64, last: time.Now()}
			f.pos[tp] = 0
			f.atOldest[tp] = true
		}
		return r.runFetcher(ctx, f), nil
	}
	oldest, newest, err := r.boundsOn(ctx, conns, tps)
	if err != nil {
		conns.Close()
		return nil, err
	}
	now := time.Now()
	for _, tp := range tps {
		rg := r.rangeFor(tp.Partition)
		start, err := rg.Start.resolve(oldest[tp], newest[tp], r.atTime(ctx, tp))
		if err != nil {
			conns.Close()
			return nil, fmt.Errorf("partition %s: %w", tp, err)
		}
		st := &partState{next: start, end: newest[tp], last: time.Now()}
		if rg.End != nil {
			if st.end, st.endTime, err = resolveEnd(*rg.End, start, oldest[tp], newest[tp], now, r.atTime(ctx, tp)); err != nil {
				conns.Close()
				return nil, fmt.Errorf("partition %s: end: %w", tp, err)
			}
		}
		r.parts[tp] = st
		if r.o.Exit && start >= st.end {
			st.done = true
			continue
		}
		f.pos[tp] = start
	}
	return r.runFetcher(ctx, f), nil
}

// fromOldest says that every partition of tps is read from its oldest
// offset with no end (no -e, no range's end): nothing but the oldest
// offsets is to be known before fetching.
func (r *runner) fromOldest(tps []TopicPartition) bool {
	if r.o.Exit {
		return false
	}
	for _, tp := range tps {
		if rg := r.rangeFor(tp.Partition); rg.Start.Kind != Start || rg.End != nil {
			return false
		}
	}
	return true
}

// runFetcher starts f, and r's discovery of new topics, and returns the
// function that stops them.
func (r *runner) runFetcher(ctx context.Context, f *fetcher) func() {
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.run(fctx)
	}()
	if r.o.Discover != nil && !r.o.Exit {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.discover(fctx, f, r.o.Topics)
		}()
	}
	// Stopping waits for the fetcher, which cuts off its fetch in flight
	// (its own connections): the caller closes the client once Run
	// returns, with no goroutine of Run's still using it.
	return func() {
		cancel()
		wg.Wait()
	}
}

// discover asks Options.Discover for the topics to read until ctx ends,
// and has f fetch the partitions of new ones. Failures are warnings: the
// topics being read go on.
func (r *runner) discover(ctx context.Context, f *fetcher, known []string) {
	r.discoverEach(ctx, known, func(fresh []string, tps []TopicPartition) bool {
		// Connections of their own: the fetcher's carry its fetches,
		// whose requests and answers must not interleave with these.
		conns := kafkaconn.NewPool(r.client.Config())
		oldest, newest, err := r.boundsOn(ctx, conns, tps)
		conns.Close()
		if err != nil {
			if ctx.Err() == nil {
				r.warn(fmt.Sprintf("new topics %s: %v", strings.Join(fresh, ", "), err))
			}
			return false
		}
		starts := map[TopicPartition]int64{}
		for _, tp := range tps {
			start, err := r.rangeFor(tp.Partition).Start.resolve(oldest[tp], newest[tp], r.atTime(ctx, tp))
			if err != nil {
				start = oldest[tp]
			}
			starts[tp] = start
		}
		f.add(starts)
		return true
	})
}

// discoverEach asks Options.Discover for the topics to read every
// DiscoverEvery until ctx ends, and hands take the topics not in known
// whose partitions are known, with those partitions; what take accepts
// counts as known from then on. Failures are warnings: the topics being
// read go on.
func (r *runner) discoverEach(ctx context.Context, known []string, take func(fresh []string, tps []TopicPartition) bool) {
	every := r.o.DiscoverEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	seen := map[string]bool{}
	for _, t := range known {
		seen[t] = true
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		topics, err := r.o.Discover(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.warn(fmt.Sprintf("looking for new topics: %v", err))
			}
			continue
		}
		var tps []TopicPartition
		var fresh []string
		for _, t := range topics {
			if seen[t] {
				continue
			}
			_ = r.client.RefreshMetadata(t)
			ps, err := r.partitions(t)
			if err != nil || len(ps) == 0 {
				continue // not ready yet: next time
			}
			fresh = append(fresh, t)
			for _, p := range ps {
				tps = append(tps, TopicPartition{t, p})
			}
		}
		if len(tps) == 0 || !take(fresh, tps) {
			continue
		}
		for _, t := range fresh {
			seen[t] = true
		}
	}
}

func (r *runner) loop(ctx context.Context) error {
	r.ctx = ctx
	var idleC, markC <-chan time.Time
	if r.o.Processor != nil {
		// Completions come on their own time: mark what they settled
		// regularly, not only when a delivery comes.
		mark := time.NewTicker(flushEvery)
		defer mark.Stop()
		markC = mark.C
	}
	var idle *time.Timer
	if r.o.IdleTimeout > 0 {
		idle = time.NewTimer(r.o.IdleTimeout)
		defer idle.Stop()
		idleC = idle.C
	}
	for {
		if r.finished() {
			return r.finish(nil)
		}
		select {
		case d := <-r.msgs:
			if err := r.deliver(d); err != nil {
				if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
					return r.stopped(ctx) // a Processor pushing back saw the stop
				}
				return r.finish(err) // d is not released: err may quote it
			}
			d.buf.release()
			r.demand.handled(len(d.msgs), r.o.Num-r.stats.Written)
			if r.finished() {
				return r.finish(nil)
			}
			if idle != nil {
				idle.Reset(r.o.IdleTimeout)
			}
			// Flush when nothing more is in hand, and regularly when the
			// queue never runs dry (a slow reader): a group commits only
			// what a flush marked.
			if len(r.msgs) == 0 || time.Since(r.flushed) >= flushEvery {
				if err := r.flush(); err != nil {
					return err
				}
			}
		case a := <-r.assign:
			r.setParts(a.parts)
			r.sess = a.sess
			r.watchSession(a.sess)
			close(a.ack)
		case rv := <-r.revoke:
			// The session ends: what it delivered is written and marked
			// before sarama's last commit for it, so a rebalance neither
			// repeats nor skips anything.
			err := r.drain(rv.sess)
			close(rv.ack)
			if err != nil {
				return r.finish(err)
			}
		case msg := <-r.warnc:
			if err := r.report(msg); err != nil {
				return r.finish(err)
			}
		case err := <-r.errs:
			return r.finish(err)
		case <-r.comp.wake:
			if err := r.settle(); err != nil {
				return r.finish(err)
			}
		case <-markC:
			if err := r.settle(); err != nil {
				return r.finish(err)
			}
			if err := r.flush(); err != nil {
				return r.finish(err)
			}
		case <-idleC:
			return r.finish(r.timedOut(true))
		case <-ctx.Done():
			return r.stopped(ctx)
		}
	}
}

// stopped is the end of a run whose context ended: a timeout, or a clean
// stop asked for.
func (r *runner) stopped(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errDeadline) {
		return r.finish(r.timedOut(false))
	}
	return r.finish(nil)
}

// deliver writes a delivery's messages, stopping as soon as -n is met, and
// moves its partition to the fetch position. Deliveries of a group session
// that has ended are dropped: the partition may be someone else's now.
func (r *runner) deliver(d delivery) error {
	if d.sess != nil && (d.sess != r.sess || r.o.Processor != nil && r.sessCtx.Err() != nil) {
		// A Processor starts nothing of a session that is ending: its
		// partitions are about to move.
		return nil
	}
	now := time.Now()
	st := r.parts[d.tp]
	for i := range d.msgs {
		if err := r.handle(&d.msgs[i], &d, st, now); err != nil {
			if errors.Is(err, errSessionEnded) {
				return nil // the rest is the partition's next owner's
			}
			return err
		}
		if r.finished() {
			return nil // finish drains the Processor, flushing it
		}
	}
	if r.o.Processor != nil {
		if err := r.push(&d, nil); err != nil {
			if r.sessionEnded(&d) {
				return nil
			}
			return err
		}
	}
	if st != nil && d.next > st.next {
		// Past markers and gaps: the fetch position is the truth. A
		// group commits past them too, as the Java consumer does, or a
		// topic ending in a transaction marker shows a lag of 1 for
		// ever; with -e not past the end taken at start, as what lies
		// beyond it was not handled.
		mark := d.next
		if r.o.Exit {
			mark = min(mark, st.end)
		}
		if mark > st.next && st.endTime == 0 {
			r.track(&d, mark-1, true)
		}
		st.next, st.last = d.next, now
		if st.next >= st.end {
			r.setDone(st)
		}
	}
	return d.err
}

// revocation asks the loop to finish with a group session before sarama
// commits its offsets for the last time.
type revocation struct {
	sess sarama.ConsumerGroupSession
	ack  chan struct{}
}

// drain ends the loop's part in a session: what was written is flushed
// and marked, before sarama's last commit for the session; what is still
// queued is dropped unprinted and unmarked, so that the partition's next
// owner reads it (nothing repeated, nothing skipped), and the rebalance
// does not wait for a slow output to work through the queue.
func (r *runner) drain(sess sarama.ConsumerGroupSession) error {
	var perr error
	if r.o.Processor != nil && r.sess == sess {
		// What the Processor started of the moving partitions finishes,
		// within a bound, and is marked before sarama's last commit.
		wait := r.o.RevokeWait
		if wait <= 0 {
			wait = 20 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		perr = r.drainProcessor(ctx, r.sessionParts(), true)
		cancel()
	}
	for {
		select {
		case d := <-r.msgs:
			d.buf.release()
			r.demand.handled(len(d.msgs), r.o.Num-r.stats.Written)
		default:
			err := r.flush()
			if perr != nil {
				err = perr
			}
			if r.sess == sess {
				r.sess = nil
				r.setParts(map[TopicPartition]*partState{})
				r.assigned = false
				clear(r.outstanding)
				r.lastOut = nil
			}
			return err
		}
	}
}

// report hands msg to Warn once what was written before it is flushed:
// on a terminal the two streams share a screen, and a warning must not
// show ahead of messages consumed before it.
func (r *runner) report(msg string) error {
	if err := r.flush(); err != nil {
		return err
	}
	r.o.Warn(msg)
	return nil
}

// warn reports from any goroutine; the loop prints it, so that stderr
// has one writer. A flood of warnings drops the excess.
func (r *runner) warn(msg string) {
	select {
	case r.warnc <- msg:
	default:
	}
}

// fail stops the run with err, from any goroutine.
func (r *runner) fail(err error) {
	select {
	case r.errs <- err:
	default:
	}
}

// finished reports whether -n or -e is satisfied.
func (r *runner) finished() bool {
	if r.o.Num > 0 && r.stats.Written >= r.o.Num {
		return true
	}
	return r.o.Exit && r.allDone()
}

func (r *runner) allDone() bool {
	return r.assigned && r.doneCount == len(r.parts)
}

// setDone marks a partition as at its end, counting it once.
func (r *runner) setDone(st *partState) {
	if !st.done {
		st.done = true
		r.doneCount++
	}
}

// setParts replaces the tracked partitions (at start, or a group's new
// assignment) and recounts those already at their end.
func (r *runner) setParts(parts map[TopicPartition]*partState) {
	r.parts, r.doneCount, r.assigned = parts, 0, true
	for _, st := range parts {
		if st.done {
			r.doneCount++
		}
	}
}

// timedOut is the stop of a timeout: an error (exit 3) only when it cut
// short a -n count or a -e end; otherwise the timeout was the stop wanted.
func (r *runner) timedOut(idle bool) error {
	if r.o.Num == 0 && !r.o.Exit {
		return nil
	}
	e := &TimeoutError{Idle: idle, Written: r.stats.Written, Num: r.o.Num}
	if idle {
		e.After = r.o.IdleTimeout
	}
	if r.o.Num == 0 {
		for tp, st := range r.parts {
			if !st.done {
				e.Behind = append(e.Behind, Position{tp, st.next, st.end, st.endTime})
			}
		}
		slices.SortFunc(e.Behind, func(a, b Position) int {
			return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
	}
	return e
}

// finish flushes what was written, commits it in group mode, and returns err.
// A Processor finishes first: everything it was handed when -n or -e was
// met or a message did not decode or was refused (bad input: what came
// before it is dealt with, as it is printed without a Processor), only what
// it started on any other stop.
func (r *runner) finish(err error) error {
	if r.sessCancel != nil {
		defer r.sessCancel()
	}
	if r.dueCancel != nil {
		defer r.dueCancel()
	}
	if r.o.Processor != nil {
		var de *DecodeError
		var ce *CorruptBatchError
		abandon := err == nil && !r.finished() || err != nil && !errors.As(err, &de) && !errors.As(err, &ce) && !errors.Is(err, ErrRefused)
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if !abandon && !r.o.Deadline.IsZero() {
			// The wait for what -n or -e counts is bounded by the
			// deadline too; past it, as on a signal, nothing more
			// starts and what runs finishes.
			ctx, cancel = context.WithDeadline(ctx, r.o.Deadline)
		}
		perr := r.drainProcessor(ctx, nil, abandon)
		if ctx.Err() != nil {
			perr = r.drainProcessor(context.Background(), nil, true)
			if err == nil {
				err = &TimeoutError{Written: r.stats.Written, Num: r.o.Num, Processing: true}
			}
		}
		cancel()
		if perr != nil && err == nil {
			err = perr
		}
	}
	if ferr := r.flush(); ferr != nil && err == nil {
		err = ferr
	}
	if r.sess != nil && r.o.Committer == nil {
		r.sess.Commit()
	}
	return err
}

// flush writes buffered output, then marks the written messages so that a
// group commits only what reached the output (at-least-once).
func (r *runner) flush() error {
	r.flushed = time.Now()
	if err := r.out.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if r.run.set {
		r.pending[r.run.tp] = r.run.off
		r.run = runMark{}
	}
	if r.o.Committer != nil && len(r.pending) > 0 && r.sess != nil {
		offsets := make(map[TopicPartition]int64, len(r.pending))
		for tp, off := range r.pending {
			offsets[tp] = off
		}
		clear(r.pending)
		return r.o.Committer.Commit(r.sess, offsets)
	}
	for tp, off := range r.pending {
		r.sess.MarkOffset(tp.Topic, tp.Partition, off, "")
		delete(r.pending, tp)
	}
	return nil
}

// handle decodes, formats and writes one message of the partition st
// tracks (nil when it is not tracked).
func (r *runner) handle(m *message, d *delivery, st *partState, now time.Time) error {
	if st != nil {
		if r.o.Exit && (st.done || m.offset >= st.end || st.endTime != 0 && m.hasTS && m.timestamp >= st.endTime) {
			r.setDone(st)
			return nil // past the end taken at start
		}
		st.next, st.last = m.offset+1, now
		if st.next >= st.end {
			r.setDone(st)
		}
	}
	if r.o.Filter != nil {
		r.stats.Seen++
		if !r.o.Filter.Raw(d.tp.Topic, m.key, m.value, m.headers) {
			return r.pass(m, d)
		}
	}
	rec := &r.rec
	*rec = envelope.Record{
		Topic: d.tp.Topic, Partition: d.tp.Partition, Offset: m.offset,
		Timestamp: m.timestamp, HasTimestamp: m.hasTS,
		Headers: rec.Headers[:0],
	}
	var err error
	if rec.Key, rec.KeySchemaID, err = decode(r.o.KeyCodec, r.keyDec, m.key, m.headers, codec.KeySchemaHeader); err != nil {
		return r.invalid(m, d, "key", err)
	}
	if rec.Value, rec.ValueSchemaID, err = decode(r.o.ValueCodec, r.valueDec, m.value, m.headers, codec.ValueSchemaHeader); err != nil {
		return r.invalid(m, d, "value", err)
	}
	rec.KeyJSON = r.o.KeyCodec != nil && r.o.KeyCodec.JSON()
	rec.ValueJSON = r.o.ValueCodec != nil && r.o.ValueCodec.JSON()
	// The codec checked or made the JSON: nothing downstream checks again.
	rec.KeyValid = rec.KeyJSON && len(rec.Key) > 0
	rec.ValueValid = rec.ValueJSON && len(rec.Value) > 0
	if r.o.HideFaustMeta {
		// Faust serializes Record keys as it does values.
		if rec.KeyJSON && rec.Key != nil {
			if k, err := codec.StripFaustMeta(rec.Key); err == nil {
				rec.Key = k
			}
		}
		if rec.ValueJSON && rec.Value != nil {
			if v, err := codec.StripFaustMeta(rec.Value); err == nil {
				rec.Value = v
			}
		}
	}
	for _, h := range m.headers {
		rec.Headers = append(rec.Headers, envelope.Header{Key: string(h.Key), Value: h.Value})
	}
	if r.o.Filter != nil {
		ok, err := r.o.Filter.Decoded(rec)
		if err != nil {
			r.stats.FilterErrors++
			if r.stats.FilterErrors == 1 {
				if err := r.report(fmt.Sprintf("filter failed on %s@%d, counted as no match (further failures are only counted): %v", d.tp, m.offset, err)); err != nil {
					return err
				}
			}
		}
		if !ok {
			return r.pass(m, d)
		}
	}
	if r.o.Processor != nil {
		// The ticket holds the buffer until the record is done. A
		// record not taken keeps its hold: the run or its session is
		// ending, and the buffer is left to the garbage collector.
		d.buf.hold()
		t := Ticket{TopicPartition: d.tp, Offset: m.offset, Session: d.sess, c: r.comp, buf: d.buf}
		pm := Message{Record: rec, RawKey: m.key, RawValue: m.value, RawHeaders: m.headers, Ticket: t}
		if err := r.push(d, &pm); err != nil {
			if r.sessionEnded(d) {
				return errSessionEnded
			}
			return err
		}
		r.stats.Written++
		r.track(d, m.offset, false)
		return nil
	}
	if err := r.write(rec); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	r.stats.Written++
	r.track(d, m.offset, true)
	return nil
}

// pass leaves out a message the filter did not match; a group still
// commits past it, once what came before it is flushed (and done).
func (r *runner) pass(m *message, d *delivery) error {
	r.track(d, m.offset, true)
	return nil
}

// write formats rec to the output. The pipe default, the bare value, goes
// straight to the buffered writer: no copy into a format buffer first,
// which shows when values are large.
func (r *runner) write(rec *envelope.Record) error {
	if _, plain := r.o.Format.(format.Plain); plain {
		if _, err := r.out.Write(rec.Value); err != nil {
			return err
		}
		return r.out.WriteByte('\n')
	}
	r.buf = r.o.Format.Append(r.buf[:0], rec)
	_, err := r.out.Write(r.buf)
	return err
}

// decode returns b's text form and the schema registry id it named (0
// without a schema codec); a schema codec finds the id in the bytes, or in
// the Confluent 8 header idHeader. dec is c's decoder.
func decode(c *codec.Chain, dec *codec.Decoder, b []byte, headers []*sarama.RecordHeader, idHeader string) ([]byte, int, error) {
	if b == nil || c == nil || c.Raw() {
		return b, 0, nil
	}
	if !c.Schema() {
		out, err := dec.Decode(b)
		return out, 0, err
	}
	var hv []byte
	for _, h := range headers {
		if string(h.Key) == idHeader {
			hv = h.Value
		}
	}
	return c.DecodeHeader(b, hv)
}

// invalid reports a message that does not decode, naming where it is:
// the run's error, or with SkipInvalid a warning, and the run goes on.
func (r *runner) invalid(m *message, d *delivery, what string, err error) error {
	de := &DecodeError{Topic: d.tp.Topic, Partition: d.tp.Partition, Offset: m.offset, Part: what, Err: err}
	if errors.Is(err, codec.ErrRegistryFailed) {
		// Not the message's fault: skipping (and committing past) it
		// would lose it.
		return de
	}
	if !r.o.SkipInvalid {
		return de
	}
	if err := r.report(de.Error() + "; skipped"); err != nil {
		return err
	}
	r.stats.Skipped++
	r.track(d, m.offset, true) // dealt with: the group moves past it
	return nil
}
