// Package kafkatest gives tests a Kafka broker: the in-process one by
// default, or a real Apache Kafka when STREAMCTL_TEST_KAFKA names its
// address (as `make test-kafka` does). The same tests run against both.
package kafkatest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/broker"
)

// Env names the environment variable that points the tests at a real broker.
const Env = "STREAMCTL_TEST_KAFKA"

// Real reports whether the tests run against an external (real) broker.
func Real() bool { return os.Getenv(Env) != "" }

// Broker returns the address of a broker for t: the real one named by
// STREAMCTL_TEST_KAFKA, or a fresh in-process broker closed at cleanup.
// Tests must use unique topic names (see Topic) so that they can share a
// real broker.
func Broker(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv(Env); addr != "" {
		return addr
	}
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		t.Fatalf("starting in-process broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b.Addr()
}

// Topic returns a topic name unique to this test run.
func Topic(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	// Kafka allows [A-Za-z0-9._-] in topic names; subtest names have more.
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		case r == '/':
			return '-'
		}
		return '_'
	}, t.Name())
	if len(name) > 150 {
		name = name[:150]
	}
	return name + "-" + hex.EncodeToString(b[:])
}

// Config is a sarama configuration for test helpers talking to addr.
func Config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.Metadata.AllowAutoTopicCreation = false
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Net.DialTimeout = 5 * time.Second
	// Reading back should not wait out the default 500 ms fetch wait.
	c.Consumer.MaxWaitTime = 20 * time.Millisecond
	return c
}

// Client opens a sarama client to addr, closed at cleanup.
func Client(t testing.TB, addr string) sarama.Client {
	t.Helper()
	c, err := sarama.NewClient([]string{addr}, Config())
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// CreateTopic creates topic with n partitions and waits for its leaders.
func CreateTopic(t testing.TB, addr, topic string, n int32) {
	t.Helper()
	c := Client(t, addr)
	admin, err := sarama.NewClusterAdminFromClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: n, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_ = c.RefreshMetadata(topic)
		parts, err := c.Partitions(topic)
		ok := err == nil && len(parts) == int(n)
		for _, p := range parts {
			// A real broker names a leader a moment before it serves the
			// partition; asking for an offset proves it does.
			if _, err := c.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: no leaders after 30s: %v", topic, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Message is a record to seed a topic with. Nil Key or Value is null.
type Message struct {
	Partition int32
	Key       []byte
	Value     []byte
	Headers   []sarama.RecordHeader
	Timestamp time.Time
}

// Produce writes msgs to topic, each to its Partition, and fails t on error.
func Produce(t testing.TB, addr, topic string, msgs ...Message) {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, Config())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	batch := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		pm := &sarama.ProducerMessage{Topic: topic, Partition: m.Partition, Headers: m.Headers, Timestamp: m.Timestamp}
		if m.Key != nil {
			pm.Key = sarama.ByteEncoder(m.Key)
		}
		if m.Value != nil {
			pm.Value = sarama.ByteEncoder(m.Value)
		}
		batch[i] = pm
	}
	if err := p.SendMessages(batch); err != nil {
		t.Fatalf("producing to %s: %v", topic, err)
	}
}

// Record is a record read back from a topic.
type Record struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []sarama.RecordHeader
	Timestamp time.Time
}

// ReadAll reads every record of topic up to the end offsets at the time of
// the call, partition by partition, in offset order.
func ReadAll(t testing.TB, addr, topic string) []Record {
	t.Helper()
	c := Client(t, addr)
	cons, err := sarama.NewConsumerFromClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var out []Record
	for _, p := range parts {
		end, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		start, err := c.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		if start >= end {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, start)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(30 * time.Second)
	loop:
		for {
			select {
			case m := <-pc.Messages():
				var hs []sarama.RecordHeader
				for _, h := range m.Headers {
					hs = append(hs, *h)
				}
				out = append(out, Record{Partition: p, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: hs, Timestamp: m.Timestamp})
				if m.Offset+1 >= end {
					break loop
				}
			case <-timeout:
				t.Fatalf("reading %s/%d: timed out before offset %d", topic, p, end)
			}
		}
		pc.Close()
	}
	return out
}

// endMark is the value of the records ReadCommitted writes to find the
// end of what is committed.
const endMark = "streamctl-kafkatest-end"

// ReadCommitted reads topic as a read_committed consumer would, every
// partition from its start: the records of committed transactions and
// those written outside one, in offset order, without those of aborted
// transactions. To know where the committed records end, it first writes a
// marker record (outside any transaction) to every partition and reads up
// to it: a transaction left open before the marker holds the reader back,
// and then ReadCommitted fails after 30s, as a reader would wait.
func ReadCommitted(t testing.TB, addr, topic string) []Record {
	t.Helper()
	c := Client(t, addr)
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	marks := make([]Message, len(parts))
	for i, p := range parts {
		marks[i] = Message{Partition: p, Value: []byte(endMark)}
	}
	Produce(t, addr, topic, marks...)
	conf := Config()
	conf.Consumer.IsolationLevel = sarama.ReadCommitted
	cons, err := sarama.NewConsumer([]string{addr}, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var out []Record
	for _, p := range parts {
		end, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		timeout := time.After(30 * time.Second)
	loop:
		for {
			select {
			case m := <-pc.Messages():
				if string(m.Value) == endMark {
					if m.Offset+1 >= end {
						break loop
					}
					continue
				}
				var hs []sarama.RecordHeader
				for _, h := range m.Headers {
					hs = append(hs, *h)
				}
				out = append(out, Record{Partition: p, Offset: m.Offset, Key: m.Key, Value: m.Value, Headers: hs, Timestamp: m.Timestamp})
			case <-timeout:
				pc.Close()
				t.Fatalf("reading %s/%d as read_committed: no end mark (offset %d) after 30s: a transaction is left open", topic, p, end-1)
			}
		}
		pc.Close()
	}
	return out
}
