package cmd

import (
	"fmt"
	"github.com/IBM/sarama"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

func numbered(n int) []string {
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprint(i)
	}
	return vs
}

func TestConsumeRange(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values(numbered(10)...)...)
	for _, tc := range []struct{ o, want string }{
		{"3:6", "3\n4\n5\n"},
		{"3:+2", "3\n4\n"},
		{"-4:-1", "6\n7\n8\n"},
		{":end", strings.Join(numbered(10), "\n") + "\n"},
		{"+8:end", "8\n9\n"},
		{"5:5", ""},
		{"7:3", ""}, // an end before the start is an empty range
	} {
		r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", tc.o)
		if r.Stdout != tc.want {
			t.Errorf("-o %s: stdout %q, want %q", tc.o, r.Stdout, tc.want)
		}
	}
}

func TestConsumeRangeTime(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var ms []kafkatest.Message
	for i := range 6 {
		ms = append(ms, kafkatest.Message{Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * 10 * time.Minute)})
	}
	kafkatest.Produce(t, addr, topic, ms...)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", "@2026-12-01T10:10:00Z:@2026-12-01T10:40:00Z")
	if r.Stdout != "1\n2\n3\n" {
		t.Errorf("time window: stdout %q, want 1-3 (the end is exclusive)", r.Stdout)
	}
	// An end time no message has reached waits, and --timeout says so.
	r = mustRun(t, 3, "", "consume", topic, "-b", addr, "-o", "4:@2027-01-01", "--timeout", "1s")
	if r.Stdout != "4\n5\n" {
		t.Errorf("future end: stdout %q", r.Stdout)
	}
	// The timeout names the end time it waited for, not an offset.
	if want := "at 6, waiting for a message at or after 2027-01-01T00:00:00Z"; !strings.Contains(r.Stderr, want) {
		t.Errorf("future end: stderr %q, want it to say %q", r.Stderr, want)
	}
}

func TestConsumeRangePerPartition(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 3)
	var ms []kafkatest.Message
	for p := range int32(3) {
		for i := range 4 {
			ms = append(ms, kafkatest.Message{Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))})
		}
	}
	kafkatest.Produce(t, addr, topic, ms...)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", "0=2,1=end,2=1:3", "-e")
	got := sortLines(r.Stdout)
	want := []string{"p0-2", "p0-3", "p2-1", "p2-2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per partition (-want +got):\n%s", diff)
	}
	// Partitions not named start at the default; a range ends the run.
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", "1=3:end")
	got = sortLines(r.Stdout)
	want = []string{"p0-0", "p0-1", "p0-2", "p0-3", "p1-3", "p2-0", "p2-1", "p2-2", "p2-3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default start (-want +got):\n%s", diff)
	}
}

func TestConsumeRangeUsage(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	for _, o := range []string{"3:x", "x=1", "0=1,0=2", "1:2:3"} {
		r := mustRun(t, 2, "", "consume", topic, "-b", addr, "-o", o, "-e")
		if !strings.Contains(r.Stderr, "--offset") {
			t.Errorf("-o %s: stderr %q does not name --offset", o, r.Stderr)
		}
	}
	mustRun(t, 2, "", "consume", topic, "-b", addr, "-o", "1:5", "-g", topic+"-g")
	// A partition -o names that -p leaves out exists: the error is the
	// two flags disagreeing, not a missing partition.
	r := mustRun(t, 2, "", "consume", topic, "-b", addr, "-p", "0", "-o", "0=1,3=2", "-e")
	if !strings.Contains(r.Stderr, "--offset names partition 3, which -p/--partitions 0 leaves out") {
		t.Errorf("-p 0 -o 0=1,3=2: stderr %q", r.Stderr)
	}
	r = mustRun(t, 1, "", "consume", topic, "-b", addr, "-o", "0=1,4=2", "-e")
	if !strings.Contains(r.Stderr, "partition 4") || !strings.Contains(r.Stderr, "hint: it has only partition 0") {
		t.Errorf("-o 4=2 on a one-partition topic: stderr %q", r.Stderr)
	}
}

func TestConsumeRangeTransactional(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	produceTxn(t, addr, topic, true, "a", "b")  // offsets 0, 1, marker 2
	produceTxn(t, addr, topic, false, "x", "y") // aborted 3, 4, marker 5
	produceTxn(t, addr, topic, true, "c")       // 6, marker 7
	for _, tc := range []struct{ o, want string }{
		{"1:4", "b\n"},         // ends inside the aborted transaction
		{"2:7", "c\n"},         // starts on a marker, ends before the last
		{"0:end", "a\nb\nc\n"}, // ends after a marker
		{"3:+3", ""},           // only aborted records and a marker
	} {
		r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", tc.o, "--timeout", "20s")
		if r.Stdout != tc.want {
			t.Errorf("-o %s: stdout %q, want %q (stderr %s)", tc.o, r.Stdout, tc.want, r.Stderr)
		}
	}
}

// TestConsumeRangeCompacted reads ranges whose ends fall in gaps that
// compaction left: offsets that are never delivered end a partition as
// -e's end does.
func TestConsumeRangeCompacted(t *testing.T) {
	if kafkatest.Real() {
		t.Skip("compaction timing is the broker's; kfake is told to compact at once")
	}
	addr := kafkatest.Broker(t)
	c := kafkatest.Client(t, addr)
	admin, err := sarama.NewClusterAdminFromClient(c)
	if err != nil {
		t.Fatal(err)
	}
	backoff := "50"
	if err := admin.AlterConfig(sarama.BrokerResource, "0", map[string]*string{"log.cleaner.backoff.ms": &backoff}, false); err != nil {
		t.Fatalf("broker config: %v", err)
	}
	topic := kafkatest.Topic(t)
	compact := "compact"
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"cleanup.policy": &compact}}, false); err != nil {
		t.Fatal(err)
	}
	// One batch each: offsets 0-5, keys x a a b b c; compaction keeps 0,
	// 2, 4 and 5, leaving gaps at 1 and 3.
	for i, k := range []string{"x", "a", "a", "b", "b", "c"} {
		kafkatest.Produce(t, addr, topic, kafkatest.Message{Key: []byte(k), Value: []byte(fmt.Sprint(i))})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e")
		if r.Stdout == "0\n2\n4\n5\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not compacted in 30s: %q", r.Stdout)
		}
		time.Sleep(50 * time.Millisecond) // polling the broker's state with a deadline
	}
	for _, tc := range []struct{ o, want string }{
		{"1:2", ""},         // a range that is only a gap
		{"1:4", "2\n"},      // starts in a gap, ends on a kept record (exclusive)
		{"0:+4", "0\n2\n"},  // +N counts offsets, gaps included
		{"3:end", "4\n5\n"}, // starts in a gap
	} {
		r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", tc.o, "--timeout", "20s")
		if r.Stdout != tc.want {
			t.Errorf("-o %s: stdout %q, want %q (stderr %s)", tc.o, r.Stdout, tc.want, r.Stderr)
		}
	}
}

// A numeric end is bounded by what a partition holds at start, as -e is:
// -o 0:2 stops each partition at min(2, its end), so partitions shorter
// than the range (or empty) do not keep the run waiting.
func TestConsumeRangeEndPastWhatIsThere(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 3)
	kafkatest.Produce(t, addr, topic,
		kafkatest.Message{Partition: 0, Value: []byte("p0-0")}, kafkatest.Message{Partition: 0, Value: []byte("p0-1")},
		kafkatest.Message{Partition: 0, Value: []byte("p0-2")}, kafkatest.Message{Partition: 1, Value: []byte("p1-0")})
	for _, tc := range []struct {
		o    string
		want []string
	}{
		{"0:2", []string{"p0-0", "p0-1", "p1-0"}},
		{"0:+5", []string{"p0-0", "p0-1", "p0-2", "p1-0"}},
		{"1=0:9", []string{"p0-0", "p0-1", "p0-2", "p1-0"}},
	} {
		// --timeout only keeps a defect from hanging the test: exit 3.
		r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", tc.o, "--timeout", "20s")
		if diff := cmp.Diff(tc.want, sortLines(r.Stdout)); diff != "" {
			t.Errorf("-o %s (-want +got):\n%s", tc.o, diff)
		}
	}
}

// A time end is a bound on the clock: one already past stops at what is
// there, even when no message is that late; one still ahead waits for a
// message at or after it (TestConsumeRangeTime), bounded by --timeout.
func TestConsumeRangeTimeEndPast(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	kafkatest.Produce(t, addr, topic,
		kafkatest.Message{Value: []byte("a"), Timestamp: base},
		kafkatest.Message{Value: []byte("b"), Timestamp: base.Add(time.Minute)})
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-o", "@2026-11-01T09:00:00Z:@2026-11-01T11:00:00Z", "--timeout", "20s")
	if r.Stdout != "a\nb\n" {
		t.Errorf("past window: stdout %q, want both", r.Stdout)
	}
}

// -o P=START names a partition of every topic read: a topic without it is
// the error, named, even when another topic has it.
func TestConsumeRangePartitionOnEveryTopic(t *testing.T) {
	addr := kafkatest.Broker(t)
	two, one := kafkatest.Topic(t)+"-two", kafkatest.Topic(t)+"-one"
	kafkatest.CreateTopic(t, addr, two, 2)
	kafkatest.CreateTopic(t, addr, one, 1)
	r := mustRun(t, 1, "", "consume", two, one, "-b", addr, "-o", "1=0", "-e")
	if !strings.Contains(r.Stderr, `topic "`+one+`" has no partition 1`) || !strings.Contains(r.Stderr, "hint: it has only partition 0") {
		t.Errorf("stderr %q does not name the topic without partition 1", r.Stderr)
	}
	r = mustRun(t, 1, "", "consume", one, two, "-b", addr, "-o", "1=0", "-e")
	if !strings.Contains(r.Stderr, `topic "`+one+`" has no partition 1`) {
		t.Errorf("topics the other way round: stderr %q", r.Stderr)
	}
}
