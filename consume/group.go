package consume

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkaconn"
	"github.com/streamctl/streamctl/internal/kafkaerr"
)

// startGroup joins the consumer group and feeds the loop from its claims.
//
// The group runs under a context of its own, not ctx: a stop (a signal,
// -n, -e, a timeout) ends the loop first, which flushes, marks and commits
// what it wrote while the session still holds its partitions; only then
// does the returned stop end the session and leave the group. Sharing ctx
// let sarama release the partitions, and make its last commit, before the
// loop's last flush was marked.
func (r *runner) startGroup(ctx context.Context) (func(), error) {
	for _, topic := range r.o.Topics {
		if _, err := r.partitions(topic); err != nil {
			return nil, err
		}
	}
	member, err := r.memberClient()
	if err != nil {
		return nil, err
	}
	group, err := sarama.NewConsumerGroupFromClient(r.o.Group, member)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", r.o.Group, err)
	}
	r.assigned = false // nothing is known until the first assignment
	gctx, gcancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	h := &groupHandler{r: r, ctx: gctx, group: group}
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.consumeGroup(gctx, group, h)
	}()
	go func() {
		defer wg.Done()
		for err := range group.Errors() {
			r.warn(fmt.Sprintf("group %q: %v", r.o.Group, err))
		}
	}()
	return func() {
		gcancel()
		group.Close()
		wg.Wait()
		h.endFetch()
	}, nil
}

// Balancers are the partition assignors a group member can use (Kafka's
// names). Cooperative rebalancing (cooperative-sticky) is not among them:
// sarama keeps one session across cooperative rebalances and revokes
// partitions one claim at a time, while commits of exactly what was
// printed rest on a session's Setup and Cleanup bracketing its partitions.
var Balancers = []string{"range", "roundrobin", "sticky"}

// BalancerError says Options.Balancer names no assignor of Balancers.
type BalancerError struct{ Name string }

func (e *BalancerError) Error() string {
	return fmt.Sprintf("no partition assignor %q (there are %s)", e.Name, strings.Join(Balancers, ", "))
}

func balanceStrategy(name string) (sarama.BalanceStrategy, error) {
	switch name {
	case "", "range":
		return sarama.NewBalanceStrategyRange(), nil
	case "roundrobin":
		return sarama.NewBalanceStrategyRoundRobin(), nil
	case "sticky":
		return sarama.NewBalanceStrategySticky(), nil
	}
	return nil, &BalancerError{Name: name}
}

// memberClient is the run's client as the group sees it: a configuration
// of its own carries the assignor and the static membership of Options,
// so that they are decided here, once, and not in every caller's config.
func (r *runner) memberClient() (sarama.Client, error) {
	strategy, err := balanceStrategy(r.o.Balancer)
	if err != nil {
		return nil, err
	}
	conf := *r.client.Config()
	conf.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	conf.Consumer.Group.InstanceId = r.o.InstanceID
	if r.o.InstanceID != "" && !conf.Version.IsAtLeast(sarama.V2_3_0_0) {
		return nil, fmt.Errorf("static membership (group instance id %q) needs Kafka protocol 2.3 or later, not %s", r.o.InstanceID, conf.Version)
	}
	if err := conf.Validate(); err != nil {
		return nil, fmt.Errorf("group %q: %w", r.o.Group, err)
	}
	return configured{Client: r.client, conf: &conf}, nil
}

// configured is a client with another configuration.
type configured struct {
	sarama.Client
	conf *sarama.Config
}

func (c configured) Config() *sarama.Config { return c.conf }

// consumeGroup takes part in the group's sessions, one after another,
// until ctx is done. A session that cannot start because the coordinator
// is away (its broker died, the group moved, the whole cluster is down) is
// tried again, with the coordinator looked up anew, until giveUp passes
// without a session starting; an error no retry cures stops the run.
//
// With Options.Discover, a new topic ends the session and the member joins
// again with the wider list: sarama subscribes once per Consume.
func (r *runner) consumeGroup(ctx context.Context, group sarama.ConsumerGroup, h *groupHandler) {
	giveUp := r.o.giveUp()
	var failing time.Time // since when no session could start
	backoff := 100 * time.Millisecond
	topics := r.o.Topics
	widen, stopDiscover := r.discoverGroup(ctx, topics)
	defer stopDiscover()
	for ctx.Err() == nil {
		before := h.sessions.Load()
		wider, err := consumeRound(ctx, group, topics, h, widen)
		if errors.Is(err, sarama.ErrClosedConsumerGroup) || ctx.Err() != nil {
			return
		}
		if h.sessions.Load() != before {
			failing, backoff = time.Time{}, 100*time.Millisecond
		}
		if wider != nil {
			topics = wider
			continue // join again, subscribed to the new topics too
		}
		if err == nil {
			continue // the session ended (a rebalance): join the next
		}
		if errors.Is(err, context.Canceled) {
			// ctx is live, so the context that ended is a session's:
			// a rebalance began while Setup still asked for its
			// offsets (members started together do that). Not a
			// failure: join the next session, as above.
			continue
		}
		if !kafkaerr.Retriable(err) {
			r.fail(fmt.Errorf("group %q: %w", r.o.Group, err))
			return
		}
		if failing.IsZero() {
			// A session ends some time after its brokers stopped
			// answering (its heartbeats fail first): the give-up
			// bound counts from their last answer.
			failing = h.sinceHeard()
		}
		if time.Since(failing) >= giveUp {
			r.fail(fmt.Errorf("group %q: no session could start for %s: %w", r.o.Group, giveUp, err))
			return
		}
		r.warn(fmt.Sprintf("group %q: %v; retrying", r.o.Group, err))
		// The last try comes as the give-up bound ends, not a whole
		// backoff after it.
		t := time.NewTimer(min(backoff, giveUp-time.Since(failing)))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, 5*time.Second)
		// The coordinator sarama knows may be the broker that died.
		_ = r.client.RefreshCoordinator(r.o.Group)
	}
}

// consumeRound is one group.Consume, ended early when widen brings a
// wider topic list, which it returns.
func consumeRound(ctx context.Context, group sarama.ConsumerGroup, topics []string, h sarama.ConsumerGroupHandler, widen <-chan []string) ([]string, error) {
	if widen == nil {
		return nil, group.Consume(ctx, topics, h)
	}
	rctx, cancel := context.WithCancel(ctx)
	var wider []string
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case wider = <-widen:
			cancel()
		case <-rctx.Done():
		}
	}()
	err := group.Consume(rctx, topics, h)
	cancel()
	<-watched
	return wider, err
}

// discoverGroup looks for new topics while a group member follows, and
// sends the whole list to read each time it grows. stop ends the search
// and waits for it.
func (r *runner) discoverGroup(ctx context.Context, known []string) (widen <-chan []string, stop func()) {
	if r.o.Discover == nil || r.o.Exit {
		return nil, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan []string)
	done := make(chan struct{})
	all := slices.Clone(known)
	go func() {
		defer close(done)
		r.discoverEach(ctx, known, func(fresh []string, _ []TopicPartition) bool {
			next := append(slices.Clone(all), fresh...)
			select {
			case ch <- next:
				all = next
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	return ch, func() {
		cancel()
		<-done
	}
}

type groupHandler struct {
	r     *runner
	ctx   context.Context
	group sarama.ConsumerGroup
	// sessions counts the sessions that started (Setup ran to its end).
	sessions atomic.Int64

	// stopFetch ends the running session's fetcher and waits for it (nil
	// when none runs). Setup sets it, Cleanup and the group's stop call it.
	mu        sync.Mutex
	stopFetch func()
	// heard is when the brokers last answered the session that ended
	// last: its fetcher's last answer, or the session's end if it was
	// fetching nothing. A run of failed joins after it is dated from it.
	heard time.Time
}

// Setup works out, for each claimed partition, where reading starts (the
// committed offset, or --offset where none is committed) and its end offset
// now, hands both to the loop, and then starts the project's fetcher on the
// claims at those offsets: records of a group come the way they come
// outside one, and sarama's partition consumers stay paused (ConsumeClaim).
func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	r := h.r
	var tps []TopicPartition
	for topic, ps := range sess.Claims() {
		for _, p := range ps {
			tps = append(tps, TopicPartition{topic, p})
		}
	}
	parts := map[TopicPartition]*partState{}
	f := &fetcher{r: r, client: r.client, isolation: r.o.isolation(), pos: map[TopicPartition]int64{}, sess: sess}
	fetching := false // f.run took f.conns over
	if r.o.Exit {
		f.ends = map[TopicPartition]int64{}
	}
	if len(tps) > 0 {
		committed, err := r.committed(sess.Context(), tps)
		if err != nil {
			return err
		}
		// The offsets are asked on the session fetcher's connections,
		// as at start-up outside a group; the fetcher then owns them.
		f.conns = kafkaconn.NewPool(r.client.Config())
		defer func() {
			if !fetching {
				f.conns.Close()
			}
		}()
		oldest, newest, err := r.boundsOn(sess.Context(), f.conns, tps)
		if err != nil {
			return err
		}
		for _, tp := range tps {
			start, ok := committed[tp]
			if !ok {
				if start, err = r.resolve(sess.Context(), tp, oldest[tp], newest[tp]); err != nil {
					return err
				}
				if r.o.Committer == nil {
					// A Committer commits in transactions: sarama's
					// own commit of this mark would land after
					// them and move the group back.
					sess.MarkOffset(tp.Topic, tp.Partition, start, "")
				}
			}
			st := &partState{next: start, end: newest[tp], last: time.Now(), done: start >= newest[tp]}
			parts[tp] = st
			if !(r.o.Exit && st.done) {
				f.pos[tp] = start
			}
			if r.o.Exit {
				f.ends[tp] = st.end
			}
		}
	}
	ack := make(chan struct{})
	select {
	case r.assign <- assignment{parts: parts, sess: sess, ack: ack}:
		<-ack
	case <-h.ctx.Done():
		h.sessions.Add(1)
		return nil
	}
	h.startFetch(sess.Context(), f)
	fetching = true
	h.sessions.Add(1)
	return nil
}

// startFetch runs f until the session ends or stopFetch is called. Its
// deliveries carry the session, so that the loop drops any that arrive
// after the session ended.
func (h *groupHandler) startFetch(ctx context.Context, f *fetcher) {
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.run(fctx)
	}()
	h.mu.Lock()
	h.stopFetch = func() {
		cancel()
		<-done
		heard := time.Now()
		if f.count() > 0 {
			heard = f.answered()
		}
		h.mu.Lock()
		h.heard = heard
		h.mu.Unlock()
	}
	h.mu.Unlock()
}

// sinceHeard takes when the brokers last answered the session that ended
// last (now when none did).
func (h *groupHandler) sinceHeard() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	heard := h.heard
	h.heard = time.Time{}
	if now := time.Now(); heard.IsZero() || heard.After(now) {
		return now
	}
	return heard
}

// endFetch stops the running session's fetcher, if any, and waits for it:
// a fetch in flight ends before the caller goes on (the revocation commit,
// or Run closing the client).
func (h *groupHandler) endFetch() {
	h.mu.Lock()
	stop := h.stopFetch
	h.stopFetch = nil
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Cleanup stops the session's fetcher, so that nothing more of its
// partitions is read, then hands the loop what the session delivered and
// waits until it is written and marked: sarama commits right after Cleanup
// returns.
func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	h.endFetch()
	ack := make(chan struct{})
	select {
	case h.r.revoke <- revocation{sess: sess, ack: ack}:
		<-ack
	case <-h.ctx.Done():
	}
	return nil
}

// ConsumeClaim keeps sarama's partition consumer of the claim from
// fetching, then closes it: the session's fetcher reads the partition.
// sarama starts that consumer after Setup and batches new subscriptions
// for 100 ms before its first fetch, so pausing here comes first. Paused,
// it would still keep a broker consumer that naps 100 ms at a time while
// it has nothing to fetch, and the session's end waits for the nap;
// closed, it is gone, and sarama opens a new one for the next session.
// Closing it does not end the claim: the session does.
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	h.group.Pause(map[string][]int32{claim.Topic(): {claim.Partition()}})
	if pc, ok := claim.(interface{ AsyncClose() }); ok { // sarama's claim embeds its PartitionConsumer
		pc.AsyncClose()
	}
	msgs := claim.Messages()
	for {
		select {
		case _, ok := <-msgs: // a response that still came is discarded unread
			if !ok {
				msgs = nil
			}
		case <-sess.Context().Done():
			return nil
		}
	}
}

// committed fetches the group's committed offsets of tps; a partition
// without one is absent from the result. A coordinator that is loading,
// moving or away is asked again (kafkaerr decides what is worth it) until
// ctx is done or the give-up bound passes: taking its silence for "nothing
// committed" would move the group past messages nobody printed.
func (r *runner) committed(ctx context.Context, tps []TopicPartition) (map[TopicPartition]int64, error) {
	var out map[TopicPartition]int64
	err := kafkaerr.Retry(ctx, r.o.giveUp(), func() { _ = r.client.RefreshCoordinator(r.o.Group) }, func() error {
		coord, err := r.client.Coordinator(r.o.Group)
		if err != nil {
			return err
		}
		req := &sarama.OffsetFetchRequest{Version: 5, ConsumerGroup: r.o.Group}
		for _, tp := range tps {
			req.AddPartition(tp.Topic, tp.Partition)
		}
		resp, err := coord.FetchOffset(req)
		if err != nil {
			_ = coord.Close() // a broken connection is opened anew
			return err
		}
		if !errors.Is(resp.Err, sarama.ErrNoError) {
			return resp.Err
		}
		out = map[TopicPartition]int64{}
		for _, tp := range tps {
			b := resp.GetBlock(tp.Topic, tp.Partition)
			if b == nil {
				return fmt.Errorf("no committed offset of %s in the answer", tp)
			}
			if !errors.Is(b.Err, sarama.ErrNoError) {
				return fmt.Errorf("offset of %s: %w", tp, b.Err)
			}
			if b.Offset >= 0 {
				out[tp] = b.Offset
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("group %q offsets: %w", r.o.Group, err)
	}
	return out, nil
}
