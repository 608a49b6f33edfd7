package consume

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkaconn"
	"github.com/streamctl/streamctl/internal/kafkaerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
	// err, when set, ends the run once msgs are written: a corrupt batch
	// after them.
	err error
	// buf is what msgs point into; the loop releases it once it is done
	// with them (nil: the garbage collector's).
	buf *fetchBuf
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

	conns *kafkaconn.Pool // the fetcher's own connections, set by run unless given

	// atOldest holds the partitions whose position, 0, stands for their
	// oldest offset, not asked yet: a loop asks for it together with its
	// first fetch (see askOldest), rather than a round trip before it.
	atOldest map[TopicPartition]bool
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

// The sizes of the fetches after the first. A fetch of 1 MB stays in a
// core's L2 cache from the socket read through the checksum to the output:
// 4 MB cost about a third more CPU draining 10 KB records on the built-in
// broker. A partition alone still gets what it got before, 1 MB a round
// trip. Variables, so that a test can have many small fetches.
var (
	fetchPartitionMax int32 = 1 << 20
	fetchMax          int32 = 1 << 20
)

// A broker far away bounds the rate by the round trip, not by the bytes:
// a fetch that came back full (at least half of what it asked for: the
// batch after the last one sent may not have fitted) after farFetch or
// longer doubles the next
// one, up to fetchMaxFar, and one that came back within half of it goes
// back to fetchMax. Fetches go one at a time per broker: 1 MB a round trip
// of 50 ms (another region) would be 20 MB/s; a broker nearby (the same
// zone, a millisecond or two) answers well within farFetch.
const (
	farFetch    = 25 * time.Millisecond
	fetchMaxFar = 8 << 20
)

// nextFetchMax is the total size of the fetch after one of size cur that
// brought got bytes in took.
func nextFetchMax(cur int32, got int, took time.Duration) int32 {
	switch {
	case took >= farFetch && got >= int(cur)/2:
		return min(2*cur, fetchMaxFar)
	case took < farFetch/2:
		return min(cur, fetchMax)
	}
	return cur
}

const (
	fetchMaxWait = 250 * time.Millisecond
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
	if f.conns == nil {
		f.conns = kafkaconn.NewPool(f.client.Config())
	}
	defer f.conns.Close()
	defer context.AfterFunc(ctx, f.conns.Interrupt)()
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
//
// Its Fetch requests are its own, on the fetcher's own connections, and
// read into buffers it reuses (see fetchBuf): the records are read where
// they lie in the response, with no allocation per fetch once the buffers
// are warm.
func (f *fetcher) loop(ctx, round context.Context, leader *sarama.Broker, tps []TopicPartition) error {
	// The first fetch asks for little, so that the first message shows
	// without waiting for megabytes to arrive and be decoded.
	partMax, total, first := int32(firstFetchPartitionMax), int32(firstFetchMax), true
	if f.r.o.Num == 1 && f.r.o.Filter == nil {
		// One message is wanted: the least a broker answers (the first
		// batch of the first partition holding records, whatever its
		// size) is enough, and is the least to send, read and parse.
		partMax, total = 1, 1
	}
	// In partition order at first (a topic's partitions side by side, the
	// topic named once); then toBack moves those a fetch served to the back.
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	req := kmsg.NewPtrFetchRequest()
	req.Version = 4
	req.MaxWaitMillis = int32(fetchMaxWait / time.Millisecond)
	req.MinBytes = 1
	req.IsolationLevel = int8(f.isolation)
	var resp kmsg.FetchResponse
	var served []TopicPartition
	for round.Err() == nil {
		if !first && !f.r.demand.await(round) {
			return nil // -n is met, or the round ends
		}
		req.MaxBytes = total
		if n := f.request(req, tps, partMax); n == 0 {
			return errFinished
		}
		conn, err := f.conns.Get(leader.Addr())
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted by the stop
			}
			return fmt.Errorf("fetching from broker %s: %w", leader.Addr(), err)
		}
		buf := f.r.fetchBuf()
		sent := time.Now()
		var stale map[TopicPartition]bool
		if ask := f.unasked(tps); len(ask) > 0 {
			stale, err = f.askOldest(conn, ask, req)
			if err == nil {
				buf.resp, err = conn.Read(&resp, buf.resp)
			}
		} else {
			buf.resp, err = conn.RoundTrip(req, &resp, buf.resp)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted by the stop
			}
			return fmt.Errorf("fetching from broker %s: %w", leader.Addr(), err)
		}
		f.setOK()
		if first {
			// A fetch from positions that moved (stale) leaves the next
			// one as small as this: it is the one that reads from them.
			if len(stale) == 0 {
				partMax, total, first = fetchPartitionMax, fetchMax, false
			}
		} else {
			total = nextFetchMax(total, len(buf.resp), time.Since(sent))
		}
		if legacy(&resp) {
			// A message set of the pre-0.11 formats: sarama reads
			// those, from the same positions.
			buf.release()
			if err := f.legacyFetch(ctx, leader, tps, partMax, total); err != nil {
				return err
			}
			continue
		}
		served, err = f.take(ctx, &resp, buf, served[:0], stale)
		buf.release() // the fetcher's own hold; deliveries hold theirs
		if err != nil {
			return err
		}
		tps = toBack(tps, served)
	}
	return nil
}

// unasked returns the partitions of tps whose oldest offset is still to
// be asked.
func (f *fetcher) unasked(tps []TopicPartition) []TopicPartition {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.atOldest) == 0 {
		return nil
	}
	var out []TopicPartition
	for _, tp := range tps {
		if f.atOldest[tp] {
			out = append(out, tp)
		}
	}
	return out
}

// askOldest sends a ListOffsets request for the oldest offsets of tps and
// then fetch, with both in flight together (one round trip where asking
// first took two), and reads the offsets' answer; the caller reads the
// fetch's. A partition whose oldest offset is 0 was fetched from the right
// place; one whose oldest offset is later moves there, and its answer to
// this fetch (out of range) is stale. A partition the answer has no offset
// for stays to be asked, with the next fetch: this one's answer says what
// is wrong with it, and the fetcher's retries deal with that.
func (f *fetcher) askOldest(conn *kafkaconn.Conn, tps []TopicPartition, fetch *kmsg.FetchRequest) (stale map[TopicPartition]bool, err error) {
	if err := conn.Write(offsetsRequest(tps, sarama.OffsetOldest, f.isolation)); err != nil {
		return nil, err
	}
	if err := conn.Write(fetch); err != nil {
		return nil, err
	}
	resp := kmsg.NewPtrListOffsetsResponse()
	if _, err := conn.Read(resp, nil); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		for j := range rt.Partitions {
			p := &rt.Partitions[j]
			tp := TopicPartition{rt.Topic, p.Partition}
			if !f.atOldest[tp] || !errors.Is(sarama.KError(p.ErrorCode), sarama.ErrNoError) || p.Offset < 0 {
				continue
			}
			delete(f.atOldest, tp)
			if p.Offset > 0 && f.pos[tp] == 0 {
				f.pos[tp] = p.Offset
				if stale == nil {
					stale = map[TopicPartition]bool{}
				}
				stale[tp] = true
			}
		}
	}
	return stale, nil
}

// toBack moves the partitions of served to the back of tps, the others
// keeping their order. A broker fills a fetch in the order of the request:
// partitions that keep filling it would starve those after them.
func toBack(tps, served []TopicPartition) []TopicPartition {
	if len(served) == 0 || len(served) == len(tps) {
		return tps
	}
	out := make([]TopicPartition, 0, len(tps))
	for _, tp := range tps {
		if !slices.Contains(served, tp) {
			out = append(out, tp)
		}
	}
	for _, tp := range tps {
		if slices.Contains(served, tp) {
			out = append(out, tp)
		}
	}
	return out
}

// request sets req's partitions to those of tps still fetched, at their
// positions, and returns how many there are.
func (f *fetcher) request(req *kmsg.FetchRequest, tps []TopicPartition, partMax int32) int {
	req.Topics = req.Topics[:0]
	n := 0
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tp := range tps {
		pos, ok := f.pos[tp]
		if !ok {
			continue
		}
		if len(req.Topics) == 0 || req.Topics[len(req.Topics)-1].Topic != tp.Topic {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = tp.Topic
			req.Topics = append(req.Topics, rt)
		}
		rt := &req.Topics[len(req.Topics)-1]
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = tp.Partition
		rp.FetchOffset = pos
		rp.PartitionMaxBytes = partMax
		rt.Partitions = append(rt.Partitions, rp)
		n++
	}
	return n
}

// legacy says a fetch response holds a message set of the pre-0.11 formats.
func legacy(resp *kmsg.FetchResponse) bool {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if hasLegacy(resp.Topics[i].Partitions[j].RecordBatches) {
				return true
			}
		}
	}
	return false
}

// take hands the records of a fetch response, read into buf, to the loop,
// partition by partition, and appends to served the partitions that moved.
//
// The partitions of stale were fetched from a position that moved since
// (0, which stood for an oldest offset found to be later): their answers
// are left out.
func (f *fetcher) take(ctx context.Context, resp *kmsg.FetchResponse, buf *fetchBuf, served []TopicPartition, stale map[TopicPartition]bool) ([]TopicPartition, error) {
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			tp := TopicPartition{rt.Topic, rp.Partition}
			if stale[tp] {
				continue
			}
			start, fetched := f.position(tp)
			if !fetched {
				continue
			}
			if ok, err := f.partitionErr(tp, sarama.KError(rp.ErrorCode)); !ok {
				if err != nil {
					return served, err
				}
				continue
			}
			var aborted []abortedTxn
			if len(rp.AbortedTransactions) > 0 {
				aborted = make([]abortedTxn, len(rp.AbortedTransactions))
				for k, a := range rp.AbortedTransactions {
					aborted[k] = abortedTxn{producerID: a.ProducerID, firstOffset: a.FirstOffset}
				}
				slices.SortFunc(aborted, func(a, b abortedTxn) int { return cmp.Compare(a.firstOffset, b.firstOffset) })
			}
			first := len(buf.msgs)
			next, werr := walkBatches(tp, rp.RecordBatches, start, aborted, f.isolation, buf)
			d := delivery{tp: tp, msgs: buf.msgs[first:len(buf.msgs):len(buf.msgs)], sess: f.sess, next: next, buf: buf}
			if werr != nil {
				// What came before the corrupt batch is written, then
				// the run stops: fetching again brings the same bytes.
				d.err = werr
				f.mu.Lock()
				delete(f.pos, tp)
				f.mu.Unlock()
			} else if next == start {
				continue // nothing new
			}
			served = append(served, tp)
			if !f.send(ctx, d) {
				return served, nil
			}
		}
	}
	return served, nil
}

// position is where tp's next fetch starts, and whether it is fetched.
func (f *fetcher) position(tp TopicPartition) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	pos, ok := f.pos[tp]
	return pos, ok
}

// partitionErr sorts out a partition's error in a fetch response: ok says
// its records are to be read; err, that the loop ends with it.
func (f *fetcher) partitionErr(tp TopicPartition, kerr sarama.KError) (ok bool, err error) {
	switch {
	case errors.Is(kerr, sarama.ErrNoError):
		return true, nil
	case errors.Is(kerr, sarama.ErrOffsetOutOfRange):
		return false, f.outOfRange(tp)
	case kafkaerr.Retriable(kerr):
		return false, fmt.Errorf("partition %s: %w", tp, kerr)
	default:
		return false, &fatalError{fmt.Errorf("partition %s: %w", tp, kerr)}
	}
}

// send hands d to the loop in parts of at most maxBatch messages, moving
// the partition's position as each goes, and stops partitions that reached
// their end (-e in a group). It reports false once ctx ended.
func (f *fetcher) send(ctx context.Context, d delivery) bool {
	for _, part := range d.split(maxBatch) {
		part.buf.hold()
		f.r.demand.hand(len(part.msgs))
		select {
		case f.r.msgs <- part:
			f.set(part.tp, part.next)
		case <-ctx.Done():
			part.buf.release()
			f.r.demand.hand(-len(part.msgs))
			return false
		}
	}
	if end, ok := f.ends[d.tp]; ok && d.next >= end {
		f.mu.Lock()
		delete(f.pos, d.tp)
		f.mu.Unlock()
	}
	return true
}

// legacyFetch fetches tps again with sarama's Fetch, which reads the
// message sets of the pre-0.11 formats, and hands their records to the
// loop. It goes to the client's connection to leader: the records are
// there, so the broker answers at once.
func (f *fetcher) legacyFetch(ctx context.Context, leader *sarama.Broker, tps []TopicPartition, partMax, total int32) error {
	req := &sarama.FetchRequest{
		Version:     4,
		MaxWaitTime: int32(fetchMaxWait / time.Millisecond),
		MinBytes:    1,
		MaxBytes:    total,
		Isolation:   f.isolation,
	}
	f.mu.Lock()
	for _, tp := range tps {
		if pos, ok := f.pos[tp]; ok {
			req.AddBlock(tp.Topic, tp.Partition, pos, partMax, -1)
		}
	}
	f.mu.Unlock()
	resp, err := leader.Fetch(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("fetching from broker %s: %w", leader.Addr(), err)
	}
	for _, tp := range tps {
		block := resp.GetBlock(tp.Topic, tp.Partition)
		if block == nil {
			continue
		}
		if ok, err := f.partitionErr(tp, block.Err); !ok {
			if err != nil {
				return err
			}
			continue
		}
		d, ok := f.parse(tp, f.get(tp), block)
		if !ok {
			continue
		}
		if !f.send(ctx, d) {
			return nil
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
	f.mu.Lock()
	pos, quiet := f.pos[tp], f.atOldest[tp]
	delete(f.atOldest, tp)
	f.mu.Unlock()
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
	if !quiet { // reading from the oldest offset, nothing was lost
		f.r.warn(fmt.Sprintf("partition %s: offset %d is no longer in the log; going on from %d", tp, pos, to))
	}
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
