package consume

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkaconn"
	"github.com/streamctl/streamctl/internal/kafkaerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// boundsOn returns the oldest and end offsets of tps, asked on conns
// (the connections the fetcher then fetches on, at start-up and at a group
// session's start) while the answer is retriable, with the leaders looked
// up anew each time (a rolling restart must not fail a start). Each
// leader gets one ListOffsets request per kind, the two in flight
// together on one connection: one dial, one ApiVersions, one round trip.
// Under read_committed the end is the last stable offset: an open
// transaction's records are not part of what -e waits for.
func (r *runner) boundsOn(ctx context.Context, conns *kafkaconn.Pool, tps []TopicPartition) (oldest, newest map[TopicPartition]int64, err error) {
	// A stop cuts off the requests in flight, as it does the fetches.
	defer context.AfterFunc(ctx, conns.Interrupt)()
	err = kafkaerr.Retry(ctx, r.o.giveUp(), func() { r.refreshMetadata(tps) }, func() (err error) {
		oldest, newest, err = listBounds(r.client, conns, tps, r.o.isolation())
		return err
	})
	if err != nil && ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	return oldest, newest, err
}

// listBounds asks each leader of tps, on conns, for their oldest and end
// offsets: both requests are written before either answer is read.
func listBounds(client sarama.Client, conns *kafkaconn.Pool, tps []TopicPartition, isolation sarama.IsolationLevel) (oldest, newest map[TopicPartition]int64, err error) {
	byLeader := map[string][]TopicPartition{}
	var order []string
	for _, tp := range tps {
		leader, err := client.Leader(tp.Topic, tp.Partition)
		if err != nil {
			return nil, nil, fmt.Errorf("oldest offsets: partition %s: %w", tp, err)
		}
		addr := leader.Addr()
		if _, ok := byLeader[addr]; !ok {
			order = append(order, addr)
		}
		byLeader[addr] = append(byLeader[addr], tp)
	}
	oldest = make(map[TopicPartition]int64, len(tps))
	newest = make(map[TopicPartition]int64, len(tps))
	type sent struct {
		conn *kafkaconn.Conn
		tps  []TopicPartition
	}
	// Every leader's requests go out before any answer is awaited.
	var all []sent
	for _, addr := range order {
		group := byLeader[addr]
		conn, err := conns.Get(addr)
		if err != nil {
			return nil, nil, fmt.Errorf("oldest offsets: listing offsets at broker %s: %w", addr, err)
		}
		for _, ts := range []int64{sarama.OffsetOldest, sarama.OffsetNewest} {
			if err := conn.Write(offsetsRequest(group, ts, isolation)); err != nil {
				return nil, nil, fmt.Errorf("%s: listing offsets at broker %s: %w", kindOf(ts), addr, err)
			}
		}
		all = append(all, sent{conn, group})
	}
	var buf []byte
	for _, s := range all {
		for _, ts := range []int64{sarama.OffsetOldest, sarama.OffsetNewest} {
			out := oldest
			if ts == sarama.OffsetNewest {
				out = newest
			}
			resp := kmsg.NewPtrListOffsetsResponse()
			if buf, err = s.conn.Read(resp, buf); err != nil {
				return nil, nil, fmt.Errorf("%s: listing offsets at broker %s: %w", kindOf(ts), s.conn.Addr(), err)
			}
			got := map[TopicPartition]*kmsg.ListOffsetsResponseTopicPartition{}
			for i := range resp.Topics {
				t := &resp.Topics[i]
				for j := range t.Partitions {
					got[TopicPartition{t.Topic, t.Partitions[j].Partition}] = &t.Partitions[j]
				}
			}
			for _, tp := range s.tps {
				p := got[tp]
				if p == nil {
					return nil, nil, fmt.Errorf("%s: partition %s: no offset in the response", kindOf(ts), tp)
				}
				if kerr := sarama.KError(p.ErrorCode); !errors.Is(kerr, sarama.ErrNoError) {
					return nil, nil, fmt.Errorf("%s: partition %s: %w", kindOf(ts), tp, kerr)
				}
				out[tp] = p.Offset
			}
		}
	}
	return oldest, newest, nil
}

// offsetsRequest is a ListOffsets request (version 2, as sarama's) for
// tps at ts.
func offsetsRequest(tps []TopicPartition, ts int64, isolation sarama.IsolationLevel) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 2
	req.IsolationLevel = int8(isolation)
	for _, tp := range tps {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != tp.Topic {
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = tp.Topic
			req.Topics = append(req.Topics, t)
		}
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Partition = tp.Partition
		p.Timestamp = ts
		t := &req.Topics[len(req.Topics)-1]
		t.Partitions = append(t.Partitions, p)
	}
	return req
}

// kindOf names the offsets asked at ts, for errors.
func kindOf(ts int64) string {
	if ts == sarama.OffsetNewest {
		return "end offsets"
	}
	return "oldest offsets"
}
