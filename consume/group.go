package consume

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
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
		h := &groupHandler{r: r, ctx: gctx}
		for gctx.Err() == nil {
			if err := group.Consume(gctx, r.o.Topics, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) || gctx.Err() != nil {
					return
				}
				r.fail(fmt.Errorf("group %q: %w", r.o.Group, err))
				return
			}
		}
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

type groupHandler struct {
	r   *runner
	ctx context.Context
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
		committed, err := r.committed(tps)
		if err != nil {
			return err
		}
		oldest, newest, err := r.boundsAll(tps)
		if err != nil {
			return err
		}
		for _, tp := range tps {
			start, ok := committed[tp]
			if !ok {
				if start, err = r.resolve(tp, oldest[tp], newest[tp]); err != nil {
					return err
				}
				sess.MarkOffset(tp.Topic, tp.Partition, start, "")
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
// without one is absent from the result. A coordinator that is loading or
// moving is asked again, a few times: taking its silence for "nothing
// committed" would move the group past messages nobody printed.
func (r *runner) committed(tps []TopicPartition) (map[TopicPartition]int64, error) {
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		if attempt > 0 {
			time.Sleep(200 * time.Millisecond)
			_ = r.client.RefreshCoordinator(r.o.Group)
		}
		coord, err := r.client.Coordinator(r.o.Group)
		if err != nil {
			lastErr = err
			continue
		}
		req := &sarama.OffsetFetchRequest{Version: 5, ConsumerGroup: r.o.Group}
		for _, tp := range tps {
			req.AddPartition(tp.Topic, tp.Partition)
		}
		resp, err := coord.FetchOffset(req)
		if err != nil {
			lastErr = err
			continue
		}
		switch {
		case errors.Is(resp.Err, sarama.ErrNoError):
		case errors.Is(resp.Err, sarama.ErrOffsetsLoadInProgress), errors.Is(resp.Err, sarama.ErrNotCoordinatorForConsumer),
			errors.Is(resp.Err, sarama.ErrConsumerCoordinatorNotAvailable):
			lastErr = resp.Err
			continue
		default:
			return nil, fmt.Errorf("group %q offsets: %w", r.o.Group, resp.Err)
		}
		out := map[TopicPartition]int64{}
		for _, tp := range tps {
			b := resp.GetBlock(tp.Topic, tp.Partition)
			if b == nil {
				return nil, fmt.Errorf("group %q: no committed offset of %s in the answer", r.o.Group, tp)
			}
			if !errors.Is(b.Err, sarama.ErrNoError) {
				return nil, fmt.Errorf("group %q offset of %s: %w", r.o.Group, tp, b.Err)
			}
			if b.Offset >= 0 {
				out[tp] = b.Offset
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("group %q offsets: %w", r.o.Group, lastErr)
}
