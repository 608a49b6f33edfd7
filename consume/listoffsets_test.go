package consume

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
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
		return refusedListOffsets(lr, func(p int32) int16 {
			if p == 2 {
				return kerr.UnknownServerError.Code
			}
			return 0
		}), nil, true
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

// wireLog is a dialer that logs, per connection, the API key of each
// request written ("w1" a Fetch) and each read ("r").
type wireLog struct {
	mu    sync.Mutex
	conns [][]string
}

func (d *wireLog) Dial(network, addr string) (net.Conn, error) {
	c, err := net.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns = append(d.conns, nil)
	return &loggedConn{Conn: c, d: d, i: len(d.conns) - 1}, nil
}

type loggedConn struct {
	net.Conn
	d *wireLog
	i int
}

func (c *loggedConn) log(ev string) {
	c.d.mu.Lock()
	c.d.conns[c.i] = append(c.d.conns[c.i], ev)
	c.d.mu.Unlock()
}

func (c *loggedConn) Write(p []byte) (int, error) {
	if len(p) >= 6 {
		c.log(fmt.Sprintf("w%d", binary.BigEndian.Uint16(p[4:6])))
	}
	return c.Conn.Write(p)
}

func (c *loggedConn) Read(p []byte) (int, error) {
	c.log("r")
	return c.Conn.Read(p)
}

// TestOldestAskedWithTheFirstFetch: reading from the oldest offsets with
// no end, the fetcher's connection carries the ListOffsets request and the
// first Fetch together, both written before either answer is read: one
// round trip to the first message, not two. Before, the offsets' answers
// were read before the Fetch was written.
func TestOldestAskedWithTheFirstFetch(t *testing.T) {
	_, addr := seedCluster(t, 1, 3, 5)
	conf := kafkatest.Config()
	d := &wireLog{}
	conf.Net.Proxy.Enable, conf.Net.Proxy.Dialer = true, d
	client, err := sarama.NewClient([]string{addr}, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	if _, err := Run(ctx, client, Options{Topics: []string{"t"}, Num: 1}, &out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if out.Len() == 0 {
		t.Fatal("no record written")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var found bool
	for _, evs := range d.conns {
		i := slices.Index(evs, fmt.Sprint("w", int(kmsg.ListOffsets)))
		if i < 0 {
			continue
		}
		found = true
		fetch := slices.Index(evs, fmt.Sprint("w", int(kmsg.Fetch)))
		read := slices.Index(evs[i:], "r") + i
		if fetch < 0 || fetch > read {
			t.Errorf("on the fetcher's connection: %v, want the Fetch (w1) written before the first read", evs)
		}
	}
	if !found {
		t.Errorf("no connection carried a ListOffsets request: %v", d.conns)
	}
}

// TestOldestOfATruncatedLog: a partition whose log starts past 0 (records
// deleted) is read from where it starts, with no warning that offset 0 is
// gone: 0 only stood for the oldest offset until the broker said which.
func TestOldestOfATruncatedLog(t *testing.T) {
	_, addr := seedCluster(t, 1, 1, 0)
	var seed []kafkatest.Message
	for i := 0; i < 10; i++ {
		seed = append(seed, kafkatest.Message{Value: []byte(fmt.Sprint("v", i))})
	}
	kafkatest.Produce(t, addr, "t", seed...)
	admin, err := sarama.NewClusterAdmin([]string{addr}, kafkatest.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.DeleteRecords("t", map[int32]int64{0: 7}); err != nil {
		t.Fatalf("deleting records: %v", err)
	}
	var warnings []string
	var mu sync.Mutex
	warn := func(msg string) { mu.Lock(); warnings = append(warnings, msg); mu.Unlock() }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	if _, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Num: 2, Warn: warn}, &out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got, want := out.String(), "v7\nv8\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warnings) > 0 {
		t.Errorf("warnings %q, want none", warnings)
	}
}

// refusedListOffsets answers each partition lr asks about with the error
// code code gives it (0: none, and offset 0).
func refusedListOffsets(lr *kmsg.ListOffsetsRequest, code func(partition int32) int16) *kmsg.ListOffsetsResponse {
	resp := lr.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range lr.Topics {
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code(rp.Partition)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
