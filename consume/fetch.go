package consume

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// delivery is what the loop receives: a partition's messages from one fetch
// and the fetch position after them. The position can be past the last
// message (transaction markers, compacted gaps), which is what tells -e
// that a partition reached its end.
type delivery struct {
	tp    TopicPartition
	items []item
	// next is the offset the partition's next fetch starts at, or -1 when
	// the sender does not know it (sarama's partition consumers).
	next int64
}

// fetcher reads partitions outside a group with Fetch requests of its own,
// one loop per leader: no channel send and no allocation per message, no
// fixed wait before the first fetch, and it sees the fetch position.
type fetcher struct {
	r      *runner
	client sarama.Client

	mu  sync.Mutex
	pos map[TopicPartition]int64 // next offset to fetch per partition
}

const (
	fetchMaxWait      = 250 * time.Millisecond
	fetchPartitionMax = 1 << 20
	fetchMax          = 16 << 20
)

// run fetches until ctx is done, moving partitions to their new leader
// when leadership changes.
func (f *fetcher) run(ctx context.Context) {
	for ctx.Err() == nil && len(f.pos) > 0 {
		byLeader := map[*sarama.Broker][]TopicPartition{}
		var leaderErr error
		f.mu.Lock()
		for tp := range f.pos {
			leader, err := f.client.Leader(tp.Topic, tp.Partition)
			if err != nil {
				leaderErr = fmt.Errorf("partition %s: %w", tp, err)
				continue
			}
			byLeader[leader] = append(byLeader[leader], tp)
		}
		f.mu.Unlock()
		if leaderErr != nil {
			f.r.o.Warn(leaderErr.Error())
		}
		lctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for leader, tps := range byLeader {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f.loop(lctx, leader, tps); err != nil && lctx.Err() == nil {
					f.r.o.Warn(fmt.Sprintf("fetching from broker %s: %v; retrying", leader.Addr(), err))
				}
				cancel() // one leader's trouble: regroup everyone
			}()
		}
		wg.Wait()
		cancel()
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		topics := map[string]bool{}
		for tp := range f.pos {
			topics[tp.Topic] = true
		}
		for t := range topics {
			_ = f.client.RefreshMetadata(t)
		}
	}
}

// loop fetches tps from one leader until ctx is done or something asks for
// a regrouping (an error, or a partition that moved).
func (f *fetcher) loop(ctx context.Context, leader *sarama.Broker, tps []TopicPartition) error {
	for ctx.Err() == nil {
		req := &sarama.FetchRequest{
			Version:     4,
			MaxWaitTime: int32(fetchMaxWait / time.Millisecond),
			MinBytes:    1,
			MaxBytes:    fetchMax,
			Isolation:   sarama.ReadUncommitted,
		}
		f.mu.Lock()
		for _, tp := range tps {
			req.AddBlock(tp.Topic, tp.Partition, f.pos[tp], fetchPartitionMax, -1)
		}
		f.mu.Unlock()
		resp, err := leader.Fetch(req)
		if err != nil {
			return err
		}
		for _, tp := range tps {
			block := resp.GetBlock(tp.Topic, tp.Partition)
			if block == nil {
				continue
			}
			switch {
			case errors.Is(block.Err, sarama.ErrNoError):
			case errors.Is(block.Err, sarama.ErrOffsetOutOfRange):
				oldest, err := f.client.GetOffset(tp.Topic, tp.Partition, sarama.OffsetOldest)
				if err != nil {
					return err
				}
				f.r.o.Warn(fmt.Sprintf("partition %s: offset %d is out of range (deleted by retention?); going on from %d", tp, f.get(tp), oldest))
				f.set(tp, oldest)
				continue
			default:
				return fmt.Errorf("partition %s: %w", tp, block.Err)
			}
			d, ok := f.parse(tp, block)
			if !ok {
				continue
			}
			select {
			case f.r.msgs <- d:
			case <-ctx.Done():
				return nil
			}
		}
	}
	return nil
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

// parse turns a fetch block into a delivery and advances the position.
// It reports false when the position did not move (nothing new).
func (f *fetcher) parse(tp TopicPartition, block *sarama.FetchResponseBlock) (delivery, bool) {
	start := f.get(tp)
	next := start
	n := 0
	for _, recs := range block.RecordsSet {
		if recs.RecordBatch != nil {
			n += len(recs.RecordBatch.Records)
		} else if recs.MsgSet != nil {
			n += len(recs.MsgSet.Messages)
		}
	}
	// One allocation for the batch's messages, not one per message.
	msgs := make([]sarama.ConsumerMessage, 0, n)
	for _, recs := range block.RecordsSet {
		switch {
		case recs.RecordBatch != nil:
			b := recs.RecordBatch
			if !b.Control {
				for _, rec := range b.Records {
					off := b.FirstOffset + rec.OffsetDelta
					if off < next {
						continue // compressed batches start before the fetch offset
					}
					ts := b.FirstTimestamp.Add(rec.TimestampDelta)
					if b.LogAppendTime {
						ts = b.MaxTimestamp
					}
					msgs = append(msgs, sarama.ConsumerMessage{
						Topic: tp.Topic, Partition: tp.Partition, Offset: off,
						Key: rec.Key, Value: rec.Value, Timestamp: ts, Headers: rec.Headers,
					})
					next = off + 1
				}
			}
			if last := b.FirstOffset + int64(b.LastOffsetDelta) + 1; last > next && !b.PartialTrailingRecord {
				next = last
			}
		case recs.MsgSet != nil:
			for _, mb := range recs.MsgSet.Messages {
				if mb.Offset < next || mb.Msg == nil {
					continue
				}
				msgs = append(msgs, sarama.ConsumerMessage{
					Topic: tp.Topic, Partition: tp.Partition, Offset: mb.Offset,
					Key: mb.Msg.Key, Value: mb.Msg.Value, Timestamp: mb.Msg.Timestamp,
				})
				next = mb.Offset + 1
			}
		}
	}
	if next == start {
		return delivery{}, false
	}
	f.set(tp, next)
	items := make([]item, len(msgs))
	for i := range msgs {
		items[i].msg = &msgs[i]
	}
	return delivery{tp: tp, items: items, next: next}, true
}

// boundsAll returns the oldest and end offsets of many partitions with one
// ListOffsets request per leader and kind, instead of two per partition.
func (r *runner) boundsAll(tps []TopicPartition) (oldest, newest map[TopicPartition]int64, err error) {
	if oldest, err = ListOffsets(r.client, tps, sarama.OffsetOldest); err != nil {
		return nil, nil, fmt.Errorf("oldest offsets: %w", err)
	}
	if newest, err = ListOffsets(r.client, tps, sarama.OffsetNewest); err != nil {
		return nil, nil, fmt.Errorf("end offsets: %w", err)
	}
	return oldest, newest, nil
}

// ListOffsets asks each leader once for the offsets of its partitions at
// time (sarama.OffsetOldest, sarama.OffsetNewest, or milliseconds).
func ListOffsets(client sarama.Client, tps []TopicPartition, time int64) (map[TopicPartition]int64, error) {
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
		req := &sarama.OffsetRequest{Version: 1}
		for _, tp := range group {
			req.AddBlock(tp.Topic, tp.Partition, time, 1)
		}
		resp, err := leader.GetAvailableOffsets(req)
		if err != nil {
			return nil, err
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
