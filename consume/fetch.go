package consume

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkaerr"
)

// delivery is what the loop receives: a partition's messages from one fetch
// and the fetch position after them. The position can be past the last
// message (transaction markers, aborted records, compacted gaps), which is
// what tells -e that a partition reached its end.
type delivery struct {
	tp   TopicPartition
	msgs []message
	// sess is the group session the messages came in (nil outside a group).
	sess sarama.ConsumerGroupSession
	// next is the offset the partition's next fetch starts at.
	next int64
}

// fetcher reads partitions, those chosen outside a group or a group
// session's claims, with Fetch requests of its own, one loop per leader:
// no channel send and no allocation per message, no fixed wait before the
// first fetch, and it sees the fetch position.
type fetcher struct {
	r         *runner
	client    sarama.Client
	isolation sarama.IsolationLevel
	// sess is the group session whose claims are fetched (nil outside a
	// group); its deliveries carry it.
	sess sarama.ConsumerGroupSession
	// ends, when set (-e in a group), are where partitions stop being
	// fetched: a member that reached the end of what it holds fetches no
	// more (a fetch at the end is a long poll for nothing).
	ends map[TopicPartition]int64

	mu     sync.Mutex
	pos    map[TopicPartition]int64 // next offset to fetch, advanced only once the loop has the records
	lastOK time.Time                // when a broker last answered a fetch
	// regroup ends the current round, so that partitions added meanwhile
	// are fetched.
	regroup context.CancelFunc

	conns *conns // the fetcher's own connections, set by run
}

// add starts fetching more partitions, at the given offsets.
func (f *fetcher) add(starts map[TopicPartition]int64) {
	f.mu.Lock()
	for tp, off := range starts {
		f.pos[tp] = off
	}
	regroup := f.regroup
	f.mu.Unlock()
	if regroup != nil {
		regroup()
	}
}

// count is the number of partitions being fetched.
func (f *fetcher) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pos)
}

// defaultGiveUp is how long the fetcher keeps retrying while no broker
// answers before it gives up (exit 1): a consumer that waits for ever for
// a cluster that went away is what kcat's users complain about.
const defaultGiveUp = time.Minute

const (
	fetchMaxWait      = 250 * time.Millisecond
	fetchPartitionMax = 1 << 20
	fetchMax          = 4 << 20
	// The first fetch of a loop: a record batch larger than this still
	// comes whole (brokers return at least one batch).
	firstFetchPartitionMax = 16 << 10
	firstFetchMax          = 128 << 10
	// leaderRetry is how long a partition without a leader waits before
	// the fetcher looks again.
	leaderRetry = 500 * time.Millisecond
)

// run fetches until ctx is done or a partition fails for good, moving
// partitions to their new leader when leadership changes.
func (f *fetcher) run(ctx context.Context) {
	// Stopping cuts off the fetches in flight rather than waiting for the
	// broker's answer to a long poll; the loops then see ctx done.
	f.conns = newConns(f.client.Config())
	defer f.conns.close()
	defer context.AfterFunc(ctx, f.conns.interrupt)()
	backoff := 100 * time.Millisecond
	f.setOK()
	for ctx.Err() == nil && f.count() > 0 {
		byLeader := map[*sarama.Broker][]TopicPartition{}
		leaderless := false
		f.mu.Lock()
		for tp := range f.pos {
			leader, err := f.client.Leader(tp.Topic, tp.Partition)
			if err != nil {
				leaderless = true
				continue
			}
			byLeader[leader] = append(byLeader[leader], tp)
		}
		round, cancel := context.WithCancel(ctx)
		f.regroup = cancel
		f.mu.Unlock()
		var again *time.Timer
		if leaderless {
			// Look again soon for the partitions left out of this round.
			again = time.AfterFunc(leaderRetry, cancel)
		}
		var wg sync.WaitGroup
		var once sync.Once
		var roundErr error
		for leader, tps := range byLeader {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := f.loop(ctx, round, leader, tps)
				if errors.Is(err, errFinished) {
					return // the others go on
				}
				if err != nil {
					once.Do(func() { roundErr = err })
				}
				cancel() // one leader's trouble: regroup everyone
			}()
		}
		wg.Wait()
		cancel()
		if again != nil {
			again.Stop()
		}
		if ctx.Err() != nil || f.count() == 0 {
			return
		}
		var fatal *fatalError
		if errors.As(roundErr, &fatal) {
			f.r.fail(fatal.err)
			return
		}
		if leaderless && len(byLeader) == 0 && roundErr == nil {
			roundErr = ErrNoLeader
		}
		if giveUp := f.r.o.giveUp(); roundErr != nil && f.sinceOK() > giveUp {
			f.r.fail(fmt.Errorf("no broker has answered for %s: %w", giveUp, roundErr))
			return
		}
		var wait time.Duration
		if roundErr != nil {
			f.r.warn(fmt.Sprintf("%v; retrying", roundErr))
			backoff = min(2*backoff, 5*time.Second)
			// The last try comes as the give-up bound ends, not a
			// whole backoff after it.
			wait = min(backoff, max(f.r.o.giveUp()-f.sinceOK(), 0))
		} else {
			backoff = 100 * time.Millisecond
			wait = backoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		topics := map[string]bool{}
		f.mu.Lock()
		for tp := range f.pos {
			topics[tp.Topic] = true
		}
		f.mu.Unlock()
		for t := range topics {
			_ = f.client.RefreshMetadata(t)
		}
	}
}

// errFinished says a leader's loop has no partition left to fetch.
var errFinished = errors.New("every partition is at its end")

// ErrNoLeader says no partition to read has a leader: the brokers may be
// down, or the cluster is electing.
var ErrNoLeader = errors.New("no partition has a leader")

// fatalError is an error retrying will not cure: the run stops with it.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }

// loop fetches tps from one leader until round is done (a regrouping) or
// an error. It sends with ctx, not round, so that a regrouping never drops
// records already fetched: the position advances only once they are sent.
func (f *fetcher) loop(ctx, round context.Context, leader *sarama.Broker, tps []TopicPartition) error {
	// The first fetch asks for little, so that the first message shows
	// without waiting for megabytes to arrive and be decoded.
	partMax, total := int32(firstFetchPartitionMax), int32(firstFetchMax)
	for round.Err() == nil {
		req := &sarama.FetchRequest{
			Version:     4,
			MaxWaitTime: int32(fetchMaxWait / time.Millisecond),
			MinBytes:    1,
			MaxBytes:    total,
			Isolation:   f.isolation,
		}
		n := 0
		f.mu.Lock()
		for _, tp := range tps {
			if pos, ok := f.pos[tp]; ok {
				req.AddBlock(tp.Topic, tp.Partition, pos, partMax, -1)
				n++
			}
		}
		f.mu.Unlock()
		if n == 0 {
			return errFinished
		}
		resp, err := f.conns.get(leader).Fetch(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted by the stop
			}
			return fmt.Errorf("fetching from broker %s: %w", leader.Addr(), err)
		}
		f.setOK()
		partMax, total = fetchPartitionMax, fetchMax
		for _, tp := range tps {
			block := resp.GetBlock(tp.Topic, tp.Partition)
			if block == nil {
				continue
			}
			switch {
			case errors.Is(block.Err, sarama.ErrNoError):
			case errors.Is(block.Err, sarama.ErrOffsetOutOfRange):
				if err := f.outOfRange(tp); err != nil {
					return err
				}
				continue
			case kafkaerr.Retriable(block.Err):
				return fmt.Errorf("partition %s: %w", tp, block.Err)
			default:
				return &fatalError{fmt.Errorf("partition %s: %w", tp, block.Err)}
			}
			d, ok := f.parse(tp, f.get(tp), block)
			if !ok {
				continue
			}
			for _, part := range d.split(maxBatch) {
				select {
				case f.r.msgs <- part:
					f.set(tp, part.next)
				case <-ctx.Done():
					return nil
				}
			}
			if end, ok := f.ends[tp]; ok && d.next >= end {
				f.mu.Lock()
				delete(f.pos, tp)
				f.mu.Unlock()
			}
		}
	}
	return nil
}

// maxBatch bounds the messages of one delivery, so that the loop turns to
// a revocation, a warning or a timer between batches instead of after a
// whole fetch (a megabyte a partition) went out through a slow output: a
// revoked session must not wait for that, and what it leaves queued goes
// to the partition's next owner.
const maxBatch = 256

// split cuts d into deliveries of at most n messages each, sharing d's
// messages; each but the last ends its position after its last message.
func (d delivery) split(n int) []delivery {
	if len(d.msgs) <= n {
		return []delivery{d}
	}
	out := make([]delivery, 0, (len(d.msgs)+n-1)/n)
	for msgs := d.msgs; len(msgs) > 0; {
		part := d
		part.msgs = msgs[:min(n, len(msgs))]
		msgs = msgs[len(part.msgs):]
		if len(msgs) > 0 {
			part.next = part.msgs[len(part.msgs)-1].offset + 1
		}
		out = append(out, part)
	}
	return out
}

// outOfRange moves a partition whose position left the log (retention
// deleted it, or the log was truncated) to the nearer end of the log.
func (f *fetcher) outOfRange(tp TopicPartition) error {
	pos := f.get(tp)
	oldest, err := f.client.GetOffset(tp.Topic, tp.Partition, sarama.OffsetOldest)
	if err != nil {
		return fmt.Errorf("partition %s: %w", tp, err)
	}
	to := oldest
	if pos > oldest {
		if to, err = f.client.GetOffset(tp.Topic, tp.Partition, sarama.OffsetNewest); err != nil {
			return fmt.Errorf("partition %s: %w", tp, err)
		}
	}
	f.r.warn(fmt.Sprintf("partition %s: offset %d is no longer in the log; going on from %d", tp, pos, to))
	f.set(tp, to)
	return nil
}

func (f *fetcher) setOK() {
	f.mu.Lock()
	f.lastOK = time.Now()
	f.mu.Unlock()
}

// answered is when a broker last answered a fetch (when run started, if
// none has).
func (f *fetcher) answered() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastOK
}

func (f *fetcher) sinceOK() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Since(f.lastOK)
}

func (f *fetcher) get(tp TopicPartition) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos[tp]
}

func (f *fetcher) set(tp TopicPartition, off int64) {
	f.mu.Lock()
	f.pos[tp] = off
	f.mu.Unlock()
}

// parse turns a fetch block read from offset start into a delivery. It
// reports false when the position would not move (nothing new).
func (f *fetcher) parse(tp TopicPartition, start int64, block *sarama.FetchResponseBlock) (delivery, bool) {
	n := 0
	for _, recs := range block.RecordsSet {
		if recs.RecordBatch != nil {
			n += len(recs.RecordBatch.Records)
		} else if recs.MsgSet != nil {
			n += len(recs.MsgSet.Messages)
		}
	}
	// One allocation for the block's messages, not one per message.
	msgs := make([]message, 0, n)
	next := walkRecords(block, start, f.isolation, func(m message) { msgs = append(msgs, m) })
	if next == start {
		return delivery{}, false
	}
	return delivery{tp: tp, msgs: msgs, sess: f.sess, next: next}, true
}

// walkRecords calls fn for each data record at or after offset start in a
// fetch block, in offset order, and returns the position after the block:
// past control batches, and under read_committed past aborted records,
// which it skips. Legacy (pre-0.11) message sets, compressed or not, are
// read too.
func walkRecords(block *sarama.FetchResponseBlock, start int64, isolation sarama.IsolationLevel, fn func(message)) int64 {
	next := start
	var aborted []*sarama.AbortedTransaction
	var abortedPIDs map[int64]bool // only a block with aborted transactions needs one
	if len(block.AbortedTransactions) > 0 {
		aborted = slices.Clone(block.AbortedTransactions)
		slices.SortFunc(aborted, func(a, b *sarama.AbortedTransaction) int { return cmp.Compare(a.FirstOffset, b.FirstOffset) })
		abortedPIDs = map[int64]bool{}
	}
	for _, recs := range block.RecordsSet {
		switch {
		case recs.RecordBatch != nil:
			b := recs.RecordBatch
			for len(aborted) > 0 && aborted[0].FirstOffset <= b.LastOffset() {
				abortedPIDs[aborted[0].ProducerID] = true
				aborted = aborted[1:]
			}
			switch {
			case b.Control:
				// The key of a control record says which marker it is:
				// version (int16), then type (int16, 0 = abort).
				for _, rec := range b.Records {
					if len(rec.Key) >= 4 && binary.BigEndian.Uint16(rec.Key[2:4]) == 0 {
						delete(abortedPIDs, b.ProducerID)
					}
				}
			case isolation == sarama.ReadCommitted && b.IsTransactional && abortedPIDs[b.ProducerID]:
				// Records of an aborted transaction: never shown.
			default:
				for _, rec := range b.Records {
					off := b.FirstOffset + rec.OffsetDelta
					if off < next {
						continue // compressed batches start before the fetch offset
					}
					ts := b.FirstTimestamp.Add(rec.TimestampDelta)
					if b.LogAppendTime {
						ts = b.MaxTimestamp
					}
					fn(message{offset: off, key: rec.Key, value: rec.Value, timestamp: ts.UnixMilli(), hasTS: !ts.IsZero(), headers: rec.Headers})
					next = off + 1
				}
			}
			if last := b.LastOffset() + 1; last > next && !b.PartialTrailingRecord {
				next = last
			}
		case recs.MsgSet != nil:
			for _, outer := range recs.MsgSet.Messages {
				inner := outer.Messages()
				// In compressed v1 sets inner offsets are relative to the
				// wrapper, whose offset is that of the last inner message.
				base := int64(0)
				if outer.Msg != nil && outer.Msg.Version >= 1 && len(inner) > 0 && outer.Msg.Set != nil {
					base = outer.Offset - inner[len(inner)-1].Offset
				}
				for _, mb := range inner {
					off := mb.Offset + base
					if off < next || mb.Msg == nil {
						continue
					}
					fn(message{offset: off, key: mb.Msg.Key, value: mb.Msg.Value, timestamp: mb.Msg.Timestamp.UnixMilli(), hasTS: !mb.Msg.Timestamp.IsZero()})
					next = off + 1
				}
			}
		}
	}
	return next
}

// boundsAll returns the oldest and end offsets of many partitions with one
// ListOffsets request per leader and kind, instead of two per partition.
// Under read_committed the end is the last stable offset: an open
// transaction's records are not part of what -e waits for.
func (r *runner) boundsAll(ctx context.Context, tps []TopicPartition) (oldest, newest map[TopicPartition]int64, err error) {
	if oldest, err = r.listOffsets(ctx, tps, sarama.OffsetOldest); err != nil {
		return nil, nil, fmt.Errorf("oldest offsets: %w", err)
	}
	if newest, err = r.listOffsets(ctx, tps, sarama.OffsetNewest); err != nil {
		return nil, nil, fmt.Errorf("end offsets: %w", err)
	}
	return oldest, newest, nil
}

// listOffsets is listOffsets asked again, with the leaders looked up anew,
// while the answer is retriable (a leader moved, a broker restarts), as
// the fetcher does: a rolling restart must not fail a start.
func (r *runner) listOffsets(ctx context.Context, tps []TopicPartition, ts int64) (map[TopicPartition]int64, error) {
	var out map[TopicPartition]int64
	err := kafkaerr.Retry(ctx, r.o.giveUp(), func() { r.refreshMetadata(tps) }, func() (err error) {
		out, err = listOffsets(r.client, tps, ts, r.o.isolation())
		return err
	})
	return out, err
}

// refreshMetadata asks for the leaders of tps' topics again.
func (r *runner) refreshMetadata(tps []TopicPartition) {
	var topics []string
	for _, tp := range tps {
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	_ = r.client.RefreshMetadata(topics...)
}

// ListOffsets asks each leader once for the offsets of its partitions at
// ts (sarama.OffsetOldest, sarama.OffsetNewest, or milliseconds), as a
// read_uncommitted consumer sees them.
func ListOffsets(client sarama.Client, tps []TopicPartition, ts int64) (map[TopicPartition]int64, error) {
	return listOffsets(client, tps, ts, sarama.ReadUncommitted)
}

func listOffsets(client sarama.Client, tps []TopicPartition, ts int64, isolation sarama.IsolationLevel) (map[TopicPartition]int64, error) {
	byLeader := map[*sarama.Broker][]TopicPartition{}
	for _, tp := range tps {
		leader, err := client.Leader(tp.Topic, tp.Partition)
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", tp, err)
		}
		byLeader[leader] = append(byLeader[leader], tp)
	}
	out := make(map[TopicPartition]int64, len(tps))
	for leader, group := range byLeader {
		req := &sarama.OffsetRequest{Version: 2, IsolationLevel: isolation}
		for _, tp := range group {
			req.AddBlock(tp.Topic, tp.Partition, ts, 1)
		}
		resp, err := leader.GetAvailableOffsets(req)
		if err != nil {
			return nil, fmt.Errorf("listing offsets at broker %s: %w", leader.Addr(), err)
		}
		for _, tp := range group {
			b := resp.GetBlock(tp.Topic, tp.Partition)
			if b == nil {
				return nil, fmt.Errorf("partition %s: no offset in the response", tp)
			}
			if !errors.Is(b.Err, sarama.ErrNoError) {
				return nil, fmt.Errorf("partition %s: %w", tp, b.Err)
			}
			out[tp] = b.Offset
		}
	}
	return out, nil
}
