// Package kafkainfo answers read-only questions about a cluster: which
// topics there are and how they are laid out, and where each partition and
// a consumer group stand. It sends one metadata request, one ListOffsets
// request per leader and kind, and one OffsetFetch; it never creates
// anything.
package kafkainfo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkaerr"
	"golang.org/x/sync/errgroup"
)

// MissingTopicError is a topic the cluster does not have.
type MissingTopicError struct{ Topic string }

func (e *MissingTopicError) Error() string { return fmt.Sprintf("topic %q does not exist", e.Topic) }

// NoMatchError is a topic expression no topic name matches.
type NoMatchError struct{ Expr string }

func (e *NoMatchError) Error() string { return fmt.Sprintf("no topic matches %q", e.Expr) }

// Partition is one partition's layout.
type Partition struct {
	Partition int32   `json:"partition"`
	Leader    int32   `json:"leader"`
	Replicas  []int32 `json:"replicas"`
	ISR       []int32 `json:"isr"`
}

// Topic is one topic's layout.
type Topic struct {
	Topic             string      `json:"topic"`
	Partitions        []Partition `json:"partitions"`
	ReplicationFactor int         `json:"replication_factor"`
	Internal          bool        `json:"-"`
}

// Options bound the retries of every request.
type Options struct {
	// GiveUp is how long a retriable error may last before it is returned
	// (30 s when zero).
	GiveUp time.Duration
}

func (o Options) giveUp() time.Duration {
	if o.GiveUp > 0 {
		return o.GiveUp
	}
	return 30 * time.Second
}

// Topics returns the layout of topics (every topic when empty), sorted by
// name, with one metadata request. A named topic the cluster lacks is a
// *MissingTopicError.
func Topics(ctx context.Context, client sarama.Client, topics []string, o Options) ([]Topic, error) {
	var resp *sarama.MetadataResponse
	err := kafkaerr.Retry(ctx, o.giveUp(), func() { _ = client.RefreshMetadata() }, func() error {
		b := client.LeastLoadedBroker()
		if b == nil {
			return errors.New("no broker available for a metadata request")
		}
		req := sarama.NewMetadataRequest(client.Config().Version, topics)
		req.AllowAutoTopicCreation = false
		var err error
		if resp, err = b.GetMetadata(req); err != nil {
			return fmt.Errorf("reading metadata: %w", err)
		}
		for _, tm := range resp.Topics {
			if tm.Err == sarama.ErrNoError || errors.Is(tm.Err, sarama.ErrUnknownTopicOrPartition) && len(topics) > 0 {
				continue
			}
			return fmt.Errorf("topic %q: %w", tm.Name, tm.Err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Topic, 0, len(resp.Topics))
	for _, tm := range resp.Topics {
		if errors.Is(tm.Err, sarama.ErrUnknownTopicOrPartition) {
			return nil, &MissingTopicError{Topic: tm.Name}
		}
		t := Topic{Topic: tm.Name, Internal: tm.IsInternal}
		for _, pm := range tm.Partitions {
			t.Partitions = append(t.Partitions, Partition{Partition: pm.ID, Leader: pm.Leader, Replicas: orEmpty(pm.Replicas), ISR: orEmpty(pm.Isr)})
			t.ReplicationFactor = max(t.ReplicationFactor, len(pm.Replicas))
		}
		sort.Slice(t.Partitions, func(i, j int) bool { return t.Partitions[i].Partition < t.Partitions[j].Partition })
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out, nil
}

func orEmpty(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

// Match compiles expr as a whole-name topic expression: "a.*" matches
// "abc" but not "xabc".
func Match(expr string) (*regexp.Regexp, error) {
	// The expression is checked alone first: its error names it as
	// written, and one such as "a)|(.*" does not get out of the wrapping.
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// Literal reports whether expr names one topic and nothing else, which is
// the only way an internal topic is selected.
func Literal(expr string) bool { return regexp.QuoteMeta(expr) == expr }

// Select keeps the topics that match one of exprs (all when none), leaving
// internal topics out unless internal is set or an expression names them
// literally. An expression that matches nothing is a *NoMatchError.
func Select(all []Topic, exprs []string, internal bool) ([]Topic, error) {
	if len(exprs) == 0 {
		var out []Topic
		for _, t := range all {
			if internal || !t.Internal {
				out = append(out, t)
			}
		}
		return out, nil
	}
	keep := map[string]bool{}
	for _, e := range exprs {
		re, err := Match(e)
		if err != nil {
			return nil, err
		}
		found := false
		for _, t := range all {
			if re.MatchString(t.Topic) && (internal || !t.Internal || Literal(e)) {
				keep[t.Topic], found = true, true
			}
		}
		if !found {
			return nil, &NoMatchError{Expr: e}
		}
	}
	var out []Topic
	for _, t := range all {
		if keep[t.Topic] {
			out = append(out, t)
		}
	}
	return out, nil
}

// Offsets is where one partition stands. Committed and Lag are set when a
// group was asked about; Committed is nil when the group never committed
// there, and Lag then counts from Start. At is set when a time was asked
// about: the first offset at or after it, or End when nothing is that late.
type Offsets struct {
	Topic     string
	Partition int32
	Start     int64
	End       int64
	Committed *int64
	Lag       *int64
	At        *int64
}

// Query says what to ask Offsets.
type Query struct {
	Topics []string
	// Group, when set, adds the group's committed offsets and lag.
	Group string
	// At, when not zero, adds the first offset at or after it.
	At time.Time
	Options
}

// Stand returns where every partition of q.Topics stands, sorted by topic
// and partition. A topic the cluster lacks is a *MissingTopicError.
func Stand(ctx context.Context, client sarama.Client, q Query) ([]Offsets, error) {
	layout, err := Topics(ctx, client, q.Topics, q.Options)
	if err != nil {
		return nil, err
	}
	var tps []tp
	for _, t := range layout {
		for _, p := range t.Partitions {
			tps = append(tps, tp{t.Topic, p.Partition})
		}
	}
	return standOf(ctx, client, tps, q)
}

type tp struct {
	topic     string
	partition int32
}

// standOf asks the offsets of tps, whose leaders the client knows.
func standOf(ctx context.Context, client sarama.Client, tps []tp, q Query) ([]Offsets, error) {
	refresh := func() { _ = client.RefreshMetadata(q.Topics...) }
	list := func(ts int64) (map[tp]int64, error) {
		var out map[tp]int64
		err := kafkaerr.Retry(ctx, q.giveUp(), refresh, func() (err error) {
			out, err = listOffsets(client, tps, ts)
			return err
		})
		return out, err
	}
	// The questions are independent: asked at once, the answer takes one
	// round trip per broker, not one per question. Every goroutine ends
	// before Wait returns.
	var start, end, at, committed map[tp]int64
	var g errgroup.Group
	g.Go(func() (err error) {
		if start, err = list(sarama.OffsetOldest); err != nil {
			return fmt.Errorf("start offsets: %w", err)
		}
		return nil
	})
	g.Go(func() (err error) {
		if end, err = list(sarama.OffsetNewest); err != nil {
			return fmt.Errorf("end offsets: %w", err)
		}
		return nil
	})
	if !q.At.IsZero() {
		g.Go(func() (err error) {
			if at, err = list(q.At.UnixMilli()); err != nil {
				return fmt.Errorf("offsets at %s: %w", q.At.Format(time.RFC3339), err)
			}
			return nil
		})
	}
	if q.Group != "" {
		g.Go(func() error {
			err := kafkaerr.Retry(ctx, q.giveUp(), func() { _ = client.RefreshCoordinator(q.Group) }, func() (err error) {
				committed, err = fetchCommitted(client, q.Group, tps)
				return err
			})
			if err != nil {
				return fmt.Errorf("committed offsets of group %q: %w", q.Group, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make([]Offsets, 0, len(tps))
	for _, p := range tps {
		o := Offsets{Topic: p.topic, Partition: p.partition, Start: start[p], End: end[p]}
		if at != nil {
			a := at[p]
			if a < 0 {
				a = o.End
			}
			o.At = &a
		}
		if q.Group != "" {
			from := o.Start
			if c, ok := committed[p]; ok {
				o.Committed = &c
				from = max(c, o.Start)
			}
			lag := max(o.End-from, 0)
			o.Lag = &lag
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out, nil
}

// TotalLag is the sum of the lags in offs.
func TotalLag(offs []Offsets) int64 {
	var n int64
	for _, o := range offs {
		if o.Lag != nil {
			n += *o.Lag
		}
	}
	return n
}

// listOffsets asks each leader once for the offsets of its partitions at ts.
func listOffsets(client sarama.Client, tps []tp, ts int64) (map[tp]int64, error) {
	byLeader := map[*sarama.Broker][]tp{}
	for _, p := range tps {
		leader, err := client.Leader(p.topic, p.partition)
		if err != nil {
			return nil, fmt.Errorf("partition %s/%d: %w", p.topic, p.partition, err)
		}
		byLeader[leader] = append(byLeader[leader], p)
	}
	out := make(map[tp]int64, len(tps))
	for leader, group := range byLeader {
		req := &sarama.OffsetRequest{Version: 2, IsolationLevel: sarama.ReadUncommitted}
		for _, p := range group {
			req.AddBlock(p.topic, p.partition, ts, 1)
		}
		resp, err := leader.GetAvailableOffsets(req)
		if err != nil {
			return nil, fmt.Errorf("listing offsets at broker %s: %w", leader.Addr(), err)
		}
		for _, p := range group {
			b := resp.GetBlock(p.topic, p.partition)
			if b == nil {
				return nil, fmt.Errorf("partition %s/%d: no offset in the response", p.topic, p.partition)
			}
			if !errors.Is(b.Err, sarama.ErrNoError) {
				return nil, fmt.Errorf("partition %s/%d: %w", p.topic, p.partition, b.Err)
			}
			out[p] = b.Offset
		}
	}
	return out, nil
}

// fetchCommitted asks the group's coordinator for its committed offsets;
// partitions it never committed are left out.
func fetchCommitted(client sarama.Client, group string, tps []tp) (map[tp]int64, error) {
	coord, err := client.Coordinator(group)
	if err != nil {
		return nil, err
	}
	parts := map[string][]int32{}
	for _, p := range tps {
		if !slices.Contains(parts[p.topic], p.partition) {
			parts[p.topic] = append(parts[p.topic], p.partition)
		}
	}
	resp, err := coord.FetchOffset(sarama.NewOffsetFetchRequest(client.Config().Version, group, parts))
	if err != nil {
		return nil, err
	}
	out := map[tp]int64{}
	switch ge := resp.GroupError(); ge {
	case sarama.ErrNoError:
	case sarama.ErrGroupIDNotFound:
		return out, nil // a group that never committed anything
	default:
		return nil, ge
	}
	for _, p := range tps {
		b := resp.GetBlock(p.topic, p.partition)
		if b == nil {
			continue
		}
		if b.Err != sarama.ErrNoError {
			return nil, fmt.Errorf("partition %s/%d: %w", p.topic, p.partition, b.Err)
		}
		if b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out, nil
}
