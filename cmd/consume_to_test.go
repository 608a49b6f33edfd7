package cmd

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// outValues are the values in topic as "partition:value", sorted.
func outValues(t *testing.T, addr, topic string) []string {
	t.Helper()
	var got []string
	for _, r := range kafkatest.ReadAll(t, addr, topic) {
		got = append(got, fmt.Sprintf("%d:%s", r.Partition, r.Value))
	}
	sort.Strings(got)
	return got
}

// TestExecToTopic: each line CMD writes is a record of the --to topic,
// which is created; two lines per input make two records per input, and
// the inputs are committed: a second run writes nothing.
func TestExecToTopic(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b", "c")...)
	out := kafkatest.Topic(t) + "-out"
	group := kafkatest.Topic(t) + "-g"
	args := []string{"consume", topic, "-b", addr, "-g", group, "-e", "--create-partitions", "1", "--to", out,
		"--exec", `v=$(cat); echo "$v-1"; echo "$v-2 at $STREAMCTL_OFFSET"`}
	r := mustRun(t, 0, "", args...)
	if r.Stdout != "" {
		t.Errorf("stdout %q: with --to, CMD's output is produced, not printed", r.Stdout)
	}
	want := []string{"0:a-1", "0:a-2 at 0", "0:b-1", "0:b-2 at 1", "0:c-1", "0:c-2 at 2"}
	if diff := cmp.Diff(want, outValues(t, addr, out)); diff != "" {
		t.Fatalf("--to topic (-want +got):\n%s", diff)
	}
	mustRun(t, 0, "", args...)
	if diff := cmp.Diff(want, outValues(t, addr, out)); diff != "" {
		t.Fatalf("after a second run (-want +got):\n%s", diff)
	}
}

// TestExecToJSON: with --to-json each line is a -J envelope whose key,
// headers and partition the record gets.
func TestExecToJSON(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("x")...)
	out := seed(t, addr, 3)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--to", out, "--to-json",
		"--exec", `printf '{"key":"k%s","value":"%s","headers":[{"key":"h","value":"hv"}],"partition":2}\n\n' "$STREAMCTL_OFFSET" "$(cat)"`)
	recs := kafkatest.ReadAll(t, addr, out)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1; stderr %s", len(recs), r.Stderr)
	}
	got := recs[0]
	if got.Partition != 2 || string(got.Key) != "k0" || string(got.Value) != "x" || len(got.Headers) != 1 ||
		string(got.Headers[0].Key) != "h" || string(got.Headers[0].Value) != "hv" {
		t.Fatalf("got partition %d key %q value %q headers %v, want 2 k0 x [h=hv]", got.Partition, got.Key, got.Value, got.Headers)
	}
}

// TestExecToFailureCommitsNothing: an output line that cannot be produced
// (a partition the topic lacks) stops the run with exit 1 and leaves its
// input uncommitted: the next run does it again.
func TestExecToFailureCommitsNothing(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("0", "1", "2")...)
	out := seed(t, addr, 1)
	group := kafkatest.Topic(t) + "-g"
	bad := `if [ "$STREAMCTL_OFFSET" = 1 ]; then p=7; else p=0; fi; printf '{"value":"%s","partition":%s}\n' "$(cat)" $p`
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e", "--to", out, "--to-json", "--exec", bad)
	if r.Code != ExitError {
		t.Fatalf("exit %d, want %d; stderr %s", r.Code, ExitError, r.Stderr)
	}
	for _, want := range []string{topic + "/0@1: output line 1", "partition 7 does not exist", "hint: nothing from " + topic + "/0@1 on"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q lacks %q", r.Stderr, want)
		}
	}
	if got := groupOffset(t, addr, group, topic); got != 1 {
		t.Fatalf("committed offset %d, want 1: offset 1's output failed", got)
	}
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--to", out, "--exec", "cat; echo")
	got := outValues(t, addr, out)
	if !slices.Contains(got, "0:1") || got[0] != "0:0" || len(got) > 4 {
		t.Fatalf("--to topic holds %v, want 0 once, then 1 and 2 (2 perhaps twice: it ran before the run stopped)", got)
	}
}

// groupOffset is group's committed offset of topic's partition 0 (-1: none).
func groupOffset(t *testing.T, addr, group, topic string) int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil {
		t.Fatal(err)
	}
	if b := resp.GetBlock(topic, 0); b != nil {
		return b.Offset
	}
	return -1
}

// TestExecExactlyOnce: outputs and offsets commit together; a
// read_committed reader sees each input's two lines once, and a second
// run writes nothing more.
func TestExecExactlyOnce(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 2, kafkatest.Message{Partition: 0, Value: []byte("a")}, kafkatest.Message{Partition: 1, Value: []byte("b")},
		kafkatest.Message{Partition: 0, Value: []byte("c")})
	out := seed(t, addr, 1)
	group := kafkatest.Topic(t) + "-g"
	args := []string{"consume", topic, "-b", addr, "-g", group, "-e", "--to", out, "--exactly-once", "--instance-id", "w1",
		"--exec", `v=$(cat); echo "$v-1"; echo "$v-2"`}
	mustRun(t, 0, "", args...)
	// Kafka writes the transaction's markers, which make its offsets
	// visible, just after it commits.
	for deadline := time.Now().Add(30 * time.Second); groupOffset(t, addr, group, topic) != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("committed offset of partition 0: %d after 30s, want 2", groupOffset(t, addr, group, topic))
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
	mustRun(t, 0, "", args...)
	var got []string
	for _, r := range kafkatest.ReadCommitted(t, addr, out) {
		got = append(got, string(r.Value))
	}
	sort.Strings(got)
	if diff := cmp.Diff([]string{"a-1", "a-2", "b-1", "b-2", "c-1", "c-2"}, got); diff != "" {
		t.Fatalf("read_committed (-want +got):\n%s", diff)
	}
}

// TestExecToUsage: the --to flags that need others say so.
func TestExecToUsage(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "o"}, "--to goes with --exec"},
		{[]string{"--exec", "cat", "--exactly-once"}, "--exactly-once goes with --to"},
		{[]string{"--exec", "cat", "--to", "o", "--exactly-once"}, "needs -g/--group"},
		{[]string{"--exec", "cat", "--to", "o", "--exactly-once", "-g", "g"}, "hint: give --instance-id NAME"},
		{[]string{"--exec", "cat", "--to", "o", "-g", "g", "--transactional-id", "x"}, "--transactional-id goes with --exactly-once"},
		{[]string{"--exec", "cat", "--exec-mode", "line", "--to", "o"}, "in line mode its output is its acknowledgements"},
	} {
		r := run(t, "", append([]string{"consume", topic, "-b", addr, "-e"}, c.args...)...)
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, r.Code, r.Stderr, ExitUsage, c.want)
		}
	}
}
