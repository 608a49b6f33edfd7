package consume

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
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
	group, err := sarama.NewConsumerGroupFromClient(r.o.Group, r.client)
	if err != nil {
		return nil, fmt.Errorf("group %q: %w", r.o.Group, err)
	}
	r.assigned = false // nothing is known until the first assignment
	gctx, gcancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		r.consumeGroup(gctx, group)
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
	}, nil
}

// consumeGroup takes part in the group's sessions, one after another,
// until ctx is done. A session that cannot start because the coordinator
// is away (its broker died, the group moved, the whole cluster is down) is
// tried again, with the coordinator looked up anew, until giveUp passes
// without a session starting; an error no retry cures stops the run.
func (r *runner) consumeGroup(ctx context.Context, group sarama.ConsumerGroup) {
	h := &groupHandler{r: r, ctx: ctx}
	giveUp := r.o.giveUp()
	var failing time.Time // since when no session could start
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		before := h.sessions.Load()
		err := group.Consume(ctx, r.o.Topics, h)
		if errors.Is(err, sarama.ErrClosedConsumerGroup) || ctx.Err() != nil {
			return
		}
		if h.sessions.Load() != before {
			failing, backoff = time.Time{}, 100*time.Millisecond
		}
		if err == nil {
			continue // the session ended (a rebalance): join the next
		}
		if !kafkaerr.Retriable(err) {
			r.fail(fmt.Errorf("group %q: %w", r.o.Group, err))
			return
		}
		if failing.IsZero() {
			failing = time.Now()
		} else if time.Since(failing) >= giveUp {
			r.fail(fmt.Errorf("group %q: no session could start for %s: %w", r.o.Group, giveUp, err))
			return
		}
		r.warn(fmt.Sprintf("group %q: %v; retrying", r.o.Group, err))
		t := time.NewTimer(backoff)
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

type groupHandler struct {
	r   *runner
	ctx context.Context
	// sessions counts the sessions that started (Setup ran to its end).
	sessions atomic.Int64
}

// Setup works out, for each claimed partition, where reading starts (the
// committed offset, or --offset where none is committed) and its end offset
// now, then hands both to the loop before any message flows.
func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	r := h.r
	var tps []TopicPartition
	for topic, ps := range sess.Claims() {
		for _, p := range ps {
			tps = append(tps, TopicPartition{topic, p})
		}
	}
	parts := map[TopicPartition]*partState{}
	if len(tps) > 0 {
		committed, err := r.committed(sess.Context(), tps)
		if err != nil {
			return err
		}
		oldest, newest, err := r.boundsAll(sess.Context(), tps)
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
			parts[tp] = &partState{next: start, end: newest[tp], last: time.Now(), done: start >= newest[tp]}
		}
	}
	ack := make(chan struct{})
	select {
	case r.assign <- assignment{parts: parts, sess: sess, ack: ack}:
		<-ack
	case <-h.ctx.Done():
	}
	h.sessions.Add(1)
	return nil
}

// Cleanup hands the loop what this session delivered and waits until it is
// written and marked: sarama commits right after Cleanup returns.
func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	ack := make(chan struct{})
	select {
	case h.r.revoke <- revocation{sess: sess, ack: ack}:
		<-ack
	case <-h.ctx.Done():
	}
	return nil
}

// ConsumeClaim implements sarama.ConsumerGroupHandler.
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	h.r.forward(sess.Context(), claim.Messages(), sess)
	return nil
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
