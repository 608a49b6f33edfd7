package produce

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/streamctl/streamctl/internal/kafkatest"
)

func senderConfig() SenderConfig {
	bc := batcherConfig(0)
	bc.Topic, bc.Partitions = "", 0
	return SenderConfig{Batch: bc}
}

// newSender is a Sender closed at cleanup.
func newSender(t *testing.T, client sarama.Client, cfg SenderConfig) *Sender {
	t.Helper()
	s, err := NewSender(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// results collects a Sender's outcomes by the value of their record.
type results struct {
	mu  sync.Mutex
	got map[string]Result
}

func (r *results) done(value string) func(Result) {
	return func(res Result) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.got == nil {
			r.got = map[string]Result{}
		}
		if _, twice := r.got[value]; twice {
			panic("outcome told twice for " + value)
		}
		r.got[value] = res
	}
}

func (r *results) all() map[string]Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got
}

// TestSenderReportsEachRecord: every record's outcome names the partition
// and offset it was written at, with its key and headers, to the
// partition asked for or the key's.
func TestSenderReportsEachRecord(t *testing.T) {
	_, client := fakeCluster(t, 3)
	s := newSender(t, client, senderConfig())
	var rs results
	ctx := context.Background()
	for i := 0; i < 60; i++ {
		m := Message{Topic: "t", Key: []byte(fmt.Sprintf("k%d", i%7)), Value: []byte(fmt.Sprintf("v%d", i)), Partition: -1,
			Headers: []sarama.RecordHeader{{Key: []byte("n"), Value: []byte(fmt.Sprint(i))}}}
		if i%10 == 0 {
			m.Partition = 2
		}
		if err := s.Send(ctx, m, rs.done(string(m.Value))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := rs.all()
	if len(got) != 60 {
		t.Fatalf("%d outcomes, want 60", len(got))
	}
	read := map[string]kafkatest.Record{}
	for _, r := range kafkatest.ReadAll(t, client.Brokers()[0].Addr(), "t") {
		read[string(r.Value)] = r
	}
	keyPart := map[string]int32{}
	for i := 0; i < 60; i++ {
		v := fmt.Sprintf("v%d", i)
		res, r := got[v], read[v]
		if res.Err != nil {
			t.Fatalf("%s: %v", v, res.Err)
		}
		if res.Partition != r.Partition || res.Offset != r.Offset {
			t.Errorf("%s: told %d@%d, written at %d@%d", v, res.Partition, res.Offset, r.Partition, r.Offset)
		}
		if want := []sarama.RecordHeader{{Key: []byte("n"), Value: []byte(fmt.Sprint(i))}}; !cmp.Equal(r.Headers, want) {
			t.Errorf("%s: headers %v, want %v", v, r.Headers, want)
		}
		if i%10 == 0 {
			if r.Partition != 2 {
				t.Errorf("%s: partition %d, want 2", v, r.Partition)
			}
			continue
		}
		if p, seen := keyPart[string(r.Key)]; seen && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		keyPart[string(r.Key)] = r.Partition
	}
}

// TestSenderRetries: the Batcher's retries apply: a moved leader costs no
// record.
func TestSenderRetries(t *testing.T) {
	c, client := fakeCluster(t, 1)
	answerProduce(c, 2, func(int32) bool { return false }, 0)
	s := newSender(t, client, senderConfig())
	var rs results
	for i := 0; i < 3; i++ {
		if err := s.Send(context.Background(), Message{Topic: "t", Value: []byte(fmt.Sprint(i)), Partition: 0}, rs.done(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, r := range rs.all() {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		offs = append(offs, r.Offset)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	if diff := cmp.Diff([]int64{0, 1, 2}, offs); diff != "" {
		t.Errorf("offsets (-want +got):\n%s", diff)
	}
}

// TestSenderFailures: a partition the topic lacks is refused at Send; a
// record never acknowledged fails at the delivery timeout.
func TestSenderFailures(t *testing.T) {
	c, client := fakeCluster(t, 1)
	cfg := senderConfig()
	cfg.Batch.DeliveryTimeout = 300 * time.Millisecond
	cfg.Batch.Retries = 0
	s := newSender(t, client, cfg)
	var pe *PartitionError
	if err := s.Send(context.Background(), Message{Topic: "t", Partition: 3}, func(Result) { t.Error("told an outcome") }); !errors.As(err, &pe) || pe.Partition != 3 || pe.Partitions != 1 {
		t.Fatalf("got %v, want a PartitionError for 3 of 1", err)
	}
	answerProduce(c, -1, func(int32) bool { return true }, kerr.NotLeaderForPartition.Code)
	var rs results
	if err := s.Send(context.Background(), Message{Topic: "t", Value: []byte("x"), Partition: -1}, rs.done("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var te *DeliveryTimeoutError
	if err := rs.all()["x"].Err; !errors.As(err, &te) {
		t.Fatalf("got %v, want a delivery timeout", err)
	}
}

// txnSender is a transactional Sender with id.
func txnSender(t *testing.T, client sarama.Client, id string) *Sender {
	t.Helper()
	cfg := senderConfig()
	cfg.TransactionalID = id
	return newSender(t, client, cfg)
}

func sendValues(t *testing.T, s *Sender, vals ...string) {
	t.Helper()
	for _, v := range vals {
		if err := s.Send(context.Background(), Message{Topic: "t", Value: []byte(v), Partition: -1}, func(Result) {}); err != nil {
			t.Fatal(err)
		}
	}
}

// committedValues are the values a read_committed reader sees in "t".
func committedValues(t *testing.T, client sarama.Client) []string {
	t.Helper()
	var got []string
	for _, r := range kafkatest.ReadCommitted(t, client.Brokers()[0].Addr(), "t") {
		got = append(got, string(r.Value))
	}
	sort.Strings(got)
	return got
}

// groupOffset is group's committed offset of t/0, or -1.
func groupOffset(t *testing.T, client sarama.Client, group string) int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{"t": {0}})
	if err != nil {
		t.Fatal(err)
	}
	if b := resp.GetBlock("t", 0); b != nil {
		return b.Offset
	}
	return -1
}

// TestSenderTxn: a committed transaction's records and group offsets are
// seen together; an aborted one's are never seen, nor its offsets.
func TestSenderTxn(t *testing.T) {
	_, client := fakeCluster(t, 2)
	s := txnSender(t, client, "w1")
	ctx := context.Background()
	commit := func(off int64, vals ...string) {
		t.Helper()
		if err := s.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		sendValues(t, s, vals...)
		if err := s.CommitTxn(ctx, &TxnOffsets{Group: "g", GenerationID: -1,
			Offsets: map[string]map[int32]int64{"t": {0: off}}}); err != nil {
			t.Fatal(err)
		}
	}
	commit(2, "a", "b")
	if err := s.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	sendValues(t, s, "aborted-1", "aborted-2")
	if err := s.AbortTxn(ctx); err != nil {
		t.Fatal(err)
	}
	if got := groupOffset(t, client, "g"); got != 2 {
		t.Errorf("group offset %d after the abort, want 2", got)
	}
	commit(3, "c")
	if diff := cmp.Diff([]string{"a", "b", "c"}, committedValues(t, client)); diff != "" {
		t.Errorf("read_committed (-want +got):\n%s", diff)
	}
	if got := groupOffset(t, client, "g"); got != 3 {
		t.Errorf("group offset %d, want 3", got)
	}
}

// TestSenderTxnFences: a new Sender with the same transactional id aborts
// what the old one left open (as after a crash) and fences it: its
// commit fails, and readers are not held back.
func TestSenderTxnFences(t *testing.T) {
	_, client := fakeCluster(t, 2)
	old := txnSender(t, client, "w1")
	if err := old.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	sendValues(t, old, "left-open-1", "left-open-2")
	if err := old.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := txnSender(t, client, "w1")
	if err := s.BeginTxn(); err != nil {
		t.Fatal(err)
	}
	sendValues(t, s, "new")
	if err := s.CommitTxn(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var fe *FencedError
	if err := old.CommitTxn(context.Background(), nil); !errors.As(err, &fe) {
		t.Errorf("the old sender's commit: got %v, want a FencedError", err)
	}
	if diff := cmp.Diff([]string{"new"}, committedValues(t, client)); diff != "" {
		t.Errorf("read_committed (-want +got):\n%s", diff)
	}
}

// TestFencedErrorText: a fence Kafka answers with PRODUCER_FENCED (code
// 90) is worded, not sarama's "Unknown error, how did this happen? Error
// code = 90", which is what two workers sharing a transactional id printed
// against Kafka 4.4 before.
func TestFencedErrorText(t *testing.T) {
	got := (&FencedError{ID: "w1", Err: sarama.ErrProducerFenced}).Error()
	if want := `transactional id "w1" is in use by a newer producer: kafka server: the producer was fenced (PRODUCER_FENCED)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
