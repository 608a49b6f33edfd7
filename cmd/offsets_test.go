package cmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// partLines are n messages for each of partitions 0..parts-1.
func partMessages(parts int32, n int) []kafkatest.Message {
	var ms []kafkatest.Message
	for p := range parts {
		for i := 0; i < n; i++ {
			ms = append(ms, kafkatest.Message{Partition: p, Value: []byte("v")})
		}
	}
	return ms
}

func TestOffsetsJSONWithGroup(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 2)
	kafkatest.Produce(t, addr, topic, append(partMessages(1, 3), kafkatest.Message{Partition: 1, Value: []byte("x")})...)
	group := topic + "-g"
	// The group reads partition 0 only: partition 1 stays uncommitted.
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-n", "2")
	r := mustRun(t, 0, "", "offsets", topic, "-b", addr, "-g", group, "-J")
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, m)
	}
	// Which of partitions 0 and 1 the group read first is the broker's
	// choice; the total lag is not.
	var lag float64
	for _, m := range got {
		if _, ok := m["committed"]; !ok {
			t.Errorf("%v: no committed field", m)
		}
		if m["committed"] == nil {
			if m["lag"] != m["end"].(float64)-m["start"].(float64) {
				t.Errorf("%v: lag of an uncommitted partition is not end-start", m)
			}
		}
		lag += m["lag"].(float64)
	}
	if len(got) != 2 || lag != 2 {
		t.Fatalf("got %v, want 2 partitions with a total lag of 2 (4 messages, 2 read)", got)
	}
}

func TestOffsetsTable(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 2)
	kafkatest.Produce(t, addr, topic, partMessages(2, 3)...)
	r := mustRun(t, 0, "", "offsets", topic, "-b", addr, "-g", topic+"-none")
	want := []string{
		"TOPIC PARTITION START END MESSAGES COMMITTED LAG",
		topic + " 0 0 3 3 - 3",
		topic + " 1 0 3 3 - 3",
		"total 2 6 6",
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		got = append(got, strings.Join(strings.Fields(line), " "))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table (-want +got):\n%s\n%s", diff, r.Stdout)
	}
}

// -J prints the README's fields in the README's order, committed null
// where the group committed nothing.
func TestOffsetsJSONFieldOrder(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	kafkatest.Produce(t, addr, topic, partMessages(1, 3)...)
	group := topic + "-g"
	head := `{"topic":"` + topic + `","partition":0,"start":0,"end":3`
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, head + `}`},
		{[]string{"-g", topic + "-none"}, head + `,"committed":null,"lag":3}`},
		{[]string{"-g", topic + "-none", "--at", "@2000-01-01"}, head + `,"committed":null,"lag":3,"at":0}`},
		{[]string{"--at", "@2000-01-01"}, head + `,"at":0}`},
	} {
		r := mustRun(t, 0, "", append([]string{"offsets", topic, "-b", addr, "-J"}, tc.args...)...)
		if got := strings.TrimSuffix(r.Stdout, "\n"); got != tc.want {
			t.Errorf("-J %s:\n got %s\nwant %s", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-n", "1")
	r := mustRun(t, 0, "", "offsets", topic, "-b", addr, "-J", "-g", group, "--at", "@2000-01-01")
	if want := head + `,"committed":1,"lag":2,"at":0}` + "\n"; r.Stdout != want {
		t.Errorf("-J -g --at:\n got %s\nwant %s", r.Stdout, want)
	}
}

func TestOffsetsAt(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var ms []kafkatest.Message
	for i := range 4 {
		ms = append(ms, kafkatest.Message{Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Minute)})
	}
	kafkatest.Produce(t, addr, topic, ms...)
	for at, want := range map[string]string{
		"@2026-12-01T10:01:30Z": `"at":2`,
		"2026-12-01T10:01:00Z":  `"at":1`,
		"@2026-12-01T11:00:00Z": `"at":4`, // none that late: the end
	} {
		r := mustRun(t, 0, "", "offsets", topic, "-b", addr, "--at", at, "-J")
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("--at %s: %s, want %s", at, r.Stdout, want)
		}
	}
	mustRun(t, 2, "", "offsets", topic, "-b", addr, "--at", "yesterday")
}

func TestOffsetsMissingTopicIsExit1AndCreatesNothing(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	r := mustRun(t, 1, "", "offsets", topic, "-b", addr)
	if !strings.Contains(r.Stderr, topic) {
		t.Errorf("stderr %q does not name %s", r.Stderr, topic)
	}
	r = mustRun(t, 1, "", "topics", topic, "-b", addr)
	if !strings.Contains(r.Stderr, topic) {
		t.Errorf("topics: stderr %q does not name %s", r.Stderr, topic)
	}
	mustRun(t, 1, "", "offsets", topic, "-b", addr)
}

func TestOffsetsUsage(t *testing.T) {
	addr := kafkatest.Broker(t)
	for _, args := range [][]string{
		{"offsets", "-b", addr},
		{"offsets", "t", "-b", addr, "--wait-lag", "0"},
		{"offsets", "t", "-b", addr, "-g", "g", "--wait-lag", "-2"},
		{"offsets", "bad/name", "-b", addr},
		{"topics", "(", "-b", addr},
	} {
		mustRun(t, 2, "", args...)
	}
}

func TestOffsetsWaitLag(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b", "c")...)
	group := topic + "-g"
	r := mustRun(t, 3, "", "offsets", topic, "-b", addr, "-g", group, "--wait-lag", "0", "--timeout", "1s")
	if !strings.Contains(r.Stderr, "total lag of 3") {
		t.Errorf("stderr %q does not give the last lag", r.Stderr)
	}
	mustRun(t, 0, "", "offsets", topic, "-b", addr, "-g", group, "--wait-lag", "3", "--timeout", "10s")

	// A wait that the group's progress ends.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := newSignalWriter()
	done := runInBackground(ctx, out, "offsets", topic, "-b", addr, "-g", group, "--wait-lag", "1", "--timeout", "50s", "-J")
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-n", "2")
	if code := exitCode(t, done, "offsets --wait-lag"); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if !strings.Contains(out.String(), `"lag":1`) {
		t.Errorf("stdout %q, want the lag of 1 it waited for", out.String())
	}
}

func TestTopics(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic+".a", 2)
	kafkatest.CreateTopic(t, addr, topic+".b", 1)
	r := mustRun(t, 0, "", "topics", topic+`\..*`, "-b", addr, "-J")
	var got []kafkainfoTopic
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var tp kafkainfoTopic
		if err := json.Unmarshal([]byte(line), &tp); err != nil {
			t.Fatal(err)
		}
		got = append(got, tp)
	}
	if len(got) != 2 || got[0].Topic != topic+".a" || len(got[0].Partitions) != 2 || got[0].ReplicationFactor != 1 || got[1].Topic != topic+".b" {
		t.Fatalf("got %+v", got)
	}
	if p := got[0].Partitions[1]; p.Partition != 1 || len(p.Replicas) != 1 || len(p.ISR) != 1 || p.Leader != p.Replicas[0] {
		t.Errorf("partition %+v", p)
	}
	// Whole names only: a prefix is no match.
	r = mustRun(t, 1, "", "topics", topic, "-b", addr)
	if !strings.Contains(r.Stderr, "no topic matches") {
		t.Errorf("stderr %q", r.Stderr)
	}
	r = mustRun(t, 0, "", "topics", "-b", addr)
	if !strings.Contains(r.Stdout, topic+".b") || strings.Contains(r.Stdout, "__consumer_offsets") {
		t.Errorf("all topics: %s", r.Stdout)
	}
}

type kafkainfoTopic struct {
	Topic      string `json:"topic"`
	Partitions []struct {
		Partition int32   `json:"partition"`
		Leader    int32   `json:"leader"`
		Replicas  []int32 `json:"replicas"`
		ISR       []int32 `json:"isr"`
	} `json:"partitions"`
	ReplicationFactor int `json:"replication_factor"`
}

// TestTopicExpressionErrors: a bad expression is named as the user wrote
// it, and one that is only valid once wrapped in ^(?:...)$ is refused
// rather than let out of the whole-name match. Before, `topics '['` said
// "missing closing ]: `[)$`" (the wrapping showing), and `a)|(.*` matched
// every topic.
func TestTopicExpressionErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"topics", "["}, "topic expression \"[\": error parsing regexp: missing closing ]: `[`\n"},
		{[]string{"topics", "a)|(.*"}, `topic expression "a)|(.*": error parsing regexp: unexpected ): `},
		{[]string{"consume", "-r", "a)|(.*", "-e"}, `-r: topic expression "a)|(.*": error parsing regexp: unexpected ): `},
	} {
		r := run(t, "", append(c.args, "-b", "127.0.0.1:1")...)
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, r.Code, r.Stderr, ExitUsage, c.want)
		}
	}
}
