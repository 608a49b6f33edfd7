package consume

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// startGroup joins the consumer group and feeds the loop from its claims.
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
	done := make(chan struct{})
	go func() {
		defer close(done)
		h := &groupHandler{r: r, ctx: ctx}
		for ctx.Err() == nil {
			if err := group.Consume(ctx, r.o.Topics, h); err != nil {
				if errors.Is(err, sarama.ErrClosedConsumerGroup) || ctx.Err() != nil {
					return
				}
				select {
				case r.errs <- fmt.Errorf("group %q: %w", r.o.Group, err):
				case <-ctx.Done():
				}
				return
			}
		}
	}()
	go func() {
		for err := range group.Errors() {
			r.o.Warn(fmt.Sprintf("group %q: %v", r.o.Group, err))
		}
	}()
	return func() {
		group.Close()
		<-done
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
	committed, err := r.committed(sess.Claims())
	if err != nil {
		return err
	}
	parts := map[TopicPartition]*partState{}
	for topic, ps := range sess.Claims() {
		for _, p := range ps {
			if len(r.o.Partitions) > 0 && !containsPartition(r.o.Partitions, p) {
				continue
			}
			tp := TopicPartition{topic, p}
			oldest, newest, err := r.bounds(tp)
			if err != nil {
				return err
			}
			start, ok := committed[tp]
			if !ok {
				if start, err = r.resolve(tp, oldest, newest); err != nil {
					return err
				}
				sess.MarkOffset(topic, p, start, "")
			}
			st := &partState{next: start, end: newest, last: time.Now()}
			st.done = start >= newest
			parts[tp] = st
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

func containsPartition(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

// ConsumeClaim implements sarama.ConsumerGroupHandler.
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	if len(h.r.o.Partitions) > 0 && !containsPartition(h.r.o.Partitions, claim.Partition()) {
		return nil
	}
	h.r.forward(sess.Context(), claim.Messages(), sess)
	return nil
}

// committed fetches the group's committed offsets for the claimed partitions.
func (r *runner) committed(claims map[string][]int32) (map[TopicPartition]int64, error) {
	coord, err := r.client.Coordinator(r.o.Group)
	if err != nil {
		return nil, fmt.Errorf("group %q coordinator: %w", r.o.Group, err)
	}
	req := &sarama.OffsetFetchRequest{Version: 5, ConsumerGroup: r.o.Group}
	for topic, ps := range claims {
		for _, p := range ps {
			req.AddPartition(topic, p)
		}
	}
	resp, err := coord.FetchOffset(req)
	if err != nil {
		return nil, fmt.Errorf("group %q offsets: %w", r.o.Group, err)
	}
	out := map[TopicPartition]int64{}
	for topic, ps := range claims {
		for _, p := range ps {
			b := resp.GetBlock(topic, p)
			if b == nil {
				continue
			}
			if !errors.Is(b.Err, sarama.ErrNoError) {
				return nil, fmt.Errorf("group %q offset of %s/%d: %w", r.o.Group, topic, p, b.Err)
			}
			if b.Offset >= 0 {
				out[TopicPartition{topic, p}] = b.Offset
			}
		}
	}
	return out, nil
}
