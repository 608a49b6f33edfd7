package consume

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestStartAsksEachKindOfOffsetOnce: outside a group, start-up asks the
// leader for the oldest and the end offsets of all its partitions in one
// request of each kind, and a partition's refusal names the partition and
// the kind of offset.
func TestStartAsksEachKindOfOffsetOnce(t *testing.T) {
	c, addr := seedCluster(t, 1, 3, 0)
	kafkatest.Produce(t, addr, "t", kafkatest.Message{Partition: 0, Value: []byte("a")})
	client := kafkatest.Client(t, addr)

	var mu sync.Mutex
	asked := map[int64][]int32{} // timestamp: partitions, over every request
	requests := 0
	refuse := false
	c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		lr := req.(*kmsg.ListOffsetsRequest)
		mu.Lock()
		defer mu.Unlock()
		requests++
		for _, rt := range lr.Topics {
			for _, rp := range rt.Partitions {
				asked[rp.Timestamp] = append(asked[rp.Timestamp], rp.Partition)
			}
		}
		if !refuse || lr.Topics[0].Partitions[0].Timestamp != sarama.OffsetNewest {
			return nil, nil, false
		}
		resp := lr.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range lr.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				if rp.Partition == 2 {
					sp.ErrorCode = kerr.UnknownServerError.Code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	st, err := Run(ctx, client, Options{Topics: []string{"t"}, Start: Offset{Kind: Start}, Exit: true, GiveUp: 5 * time.Second}, &out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if st.Written != 1 || out.String() != "a\n" {
		t.Fatalf("wrote %d (%q), want the one record", st.Written, out.String())
	}
	mu.Lock()
	if requests != 2 || len(asked[sarama.OffsetOldest]) != 3 || len(asked[sarama.OffsetNewest]) != 3 {
		t.Errorf("%d ListOffsets requests asking %v, want one of each kind for the 3 partitions", requests, asked)
	}
	refuse = true
	mu.Unlock()

	_, err = Run(ctx, client, Options{Topics: []string{"t"}, Start: Offset{Kind: Start}, Exit: true, GiveUp: 5 * time.Second}, &out)
	if err == nil || !strings.Contains(err.Error(), "end offsets: partition t/2:") {
		t.Fatalf("Run with partition 2's end refused: %v, want the kind and the partition named", err)
	}
}
