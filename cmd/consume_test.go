package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// seed creates topic with n partitions and writes msgs to it.
func seed(t *testing.T, addr string, n int32, msgs ...kafkatest.Message) string {
	t.Helper()
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, n)
	if len(msgs) > 0 {
		kafkatest.Produce(t, addr, topic, msgs...)
	}
	return topic
}

func values(vs ...string) []kafkatest.Message {
	var ms []kafkatest.Message
	for _, v := range vs {
		ms = append(ms, kafkatest.Message{Value: []byte(v)})
	}
	return ms
}

func TestConsumeExitAtEndPrintsValues(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("one", "two", "three")...)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e")
	if diff := cmp.Diff("one\ntwo\nthree\n", r.Stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

func TestConsumeFlagsAnywhere(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b", "c")...)
	for _, args := range [][]string{
		{"-b", addr, "consume", "-e", "-n", "2", topic},
		{"consume", topic, "-b", addr, "-e", "-n", "2"},
		{"consume", "-n", "2", topic, "-e", "--brokers=" + addr},
		{"consume", "-e", "-b", addr, "-n", "2", "--", topic},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := mustRun(t, 0, "", args...)
			if got, want := r.Stdout, "a\nb\n"; got != want {
				t.Errorf("stdout = %q, want %q", got, want)
			}
		})
	}
}

func TestConsumeUnknownFlagIsUsageError(t *testing.T) {
	r := mustRun(t, ExitUsage, "", "consume", "t", "--no-such-flag")
	if !strings.Contains(r.Stderr, "no-such-flag") {
		t.Errorf("stderr does not name the flag:\n%s", r.Stderr)
	}
	if r.Stdout != "" {
		t.Errorf("stdout = %q, want nothing on a usage error", r.Stdout)
	}
}

func TestConsumeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"consume"},
		{"consume", "t", "-o", "sideways"},
		{"consume", "t", "-s", "nope"},
		{"consume", "t", "-J", "-f", "%s"},
		{"consume", "t", "-f", "%z"},
		{"consume", "t", "-p", "x"},
		{"consume", "t", "--color", "purple"},
		{"consume", "t", "--kafka-version", "0.10.2.0"},
		{"frobnicate"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := mustRun(t, ExitUsage, "", args...)
			if !strings.HasPrefix(r.Stderr, "streamctl: ") {
				t.Errorf("stderr = %q, want a streamctl: error", r.Stderr)
			}
		})
	}
}

// TestKafkaVersionsBefore1 are spelt with three or two numbers as often as
// with Kafka's four: 0.11.0 and 0.11 are 0.11.0.0 (found by the README
// trial: 0.11.0 was refused as an invalid version).
func TestKafkaVersionsBefore1(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("1")...)
	for _, v := range []string{"0.11.0.0", "0.11.0", "0.11"} {
		r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--kafka-version", v)
		if r.Stdout != "1\n" {
			t.Errorf("--kafka-version %s: stdout %q, want 1", v, r.Stdout)
		}
	}
}

func TestConsumeNum(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("1", "2", "3", "4")...)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-n", "3")
	if got, want := r.Stdout, "1\n2\n3\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
}

func TestConsumeExitOnEmptyTopicDoesNotHang(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 3)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e")
	if r.Stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.Stdout)
	}
}

func TestConsumeExitManyPartitionsSomeEmpty(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 4,
		kafkatest.Message{Partition: 0, Value: []byte("p0")},
		kafkatest.Message{Partition: 2, Value: []byte("p2a")},
		kafkatest.Message{Partition: 2, Value: []byte("p2b")},
	)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-f", "%p:%o:%s\n")
	got := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	want := []string{"0:0:p0", "2:0:p2a", "2:1:p2b"}
	if diff := cmp.Diff(want, sortedLines(got)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func sortedLines(ls []string) []string {
	out := slices.Clone(ls)
	slices.Sort(out)
	return out
}

func TestConsumeOffsets(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("0", "1", "2", "3", "4")...)
	for _, tc := range []struct {
		offset string
		want   string
	}{
		{"start", "0 1 2 3 4"},
		{"beginning", "0 1 2 3 4"},
		{"2", "2 3 4"},
		{"+1", "1 2 3 4"},
		{"-2", "3 4"},
		{"99", ""},
		{"end", ""},
		{"@0", "0 1 2 3 4"},
		{"@2999-01-01", ""},
		{"@-1h", "0 1 2 3 4"},
	} {
		t.Run(tc.offset, func(t *testing.T) {
			r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-o", tc.offset)
			if got := strings.Join(strings.Fields(r.Stdout), " "); got != tc.want {
				t.Errorf("-o %s: got %q, want %q", tc.offset, got, tc.want)
			}
		})
	}
}

func TestConsumeTimestampOffset(t *testing.T) {
	addr := kafkatest.Broker(t)
	base := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	var ms []kafkatest.Message
	for i := 0; i < 4; i++ {
		ms = append(ms, kafkatest.Message{Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Hour)})
	}
	topic := seed(t, addr, 1, ms...)
	for _, o := range []string{"@2024-05-01T14:00:00Z", fmt.Sprintf("@%d", base.Add(2*time.Hour).UnixMilli())} {
		r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-o", o)
		if got, want := r.Stdout, "2\n3\n"; got != want {
			t.Errorf("-o %s: got %q, want %q", o, got, want)
		}
	}
}

func TestConsumePartitionsFlag(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 3,
		kafkatest.Message{Partition: 0, Value: []byte("zero")},
		kafkatest.Message{Partition: 1, Value: []byte("one")},
		kafkatest.Message{Partition: 2, Value: []byte("two")},
	)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-p", "0,2", "-f", "%s\n")
	if diff := cmp.Diff([]string{"two", "zero"}, sortedLines(strings.Fields(r.Stdout))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	r = mustRun(t, ExitError, "", "consume", topic, "-b", addr, "-e", "-p", "7")
	if !strings.Contains(r.Stderr, "no partition 7\n") || !strings.Contains(r.Stderr, "\nhint: it has partitions 0-2\n") {
		t.Errorf("stderr = %q, want it to name partition 7 and, in a hint, the range 0-2", r.Stderr)
	}
}

func TestConsumeIdleTimeout(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("only")...)
	// -n not reached: exit 3, and what arrived is printed.
	r := mustRun(t, ExitTimeout, "", "consume", topic, "-b", addr, "-n", "2", "--idle-timeout", "2s")
	if r.Stdout != "only\n" {
		t.Errorf("stdout = %q, want %q", r.Stdout, "only\n")
	}
	if !strings.Contains(r.Stderr, "1 of 2") {
		t.Errorf("stderr = %q, want it to say 1 of 2", r.Stderr)
	}
	// No -n or -e: the idle timeout is the stop wanted.
	mustRun(t, 0, "", "consume", topic, "-b", addr, "--idle-timeout", "1s")
}

func TestConsumeTotalTimeout(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	start := time.Now()
	mustRun(t, ExitTimeout, "", "consume", topic, "-b", addr, "-n", "1", "--timeout", "500ms")
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("took %s to time out", el)
	}
	mustRun(t, 0, "", "consume", topic, "-b", addr, "--timeout", "300ms")
}

// TestConsumeTimeoutQuotesTheFlag: the message names --timeout with the
// user's own value, not what was left of it after connecting.
func TestConsumeTimeoutQuotesTheFlag(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	r := mustRun(t, ExitTimeout, "", "consume", topic, "-b", addr, "-n", "1", "--timeout", "2s")
	if want := "streamctl: timed out: --timeout 2s reached after 0 of 1 messages\n"; r.Stderr != want {
		t.Errorf("stderr = %q, want %q", r.Stderr, want)
	}
	r = mustRun(t, ExitTimeout, "", "consume", topic, "-b", addr, "-n", "1", "--idle-timeout", "1500ms")
	if want := "streamctl: timed out: no message for 1.5s (--idle-timeout) after 0 of 1 messages\n"; r.Stderr != want {
		t.Errorf("stderr = %q, want %q", r.Stderr, want)
	}
}

func TestConsumeCreatesMissingTopic(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--create-partitions", "3")
	if !strings.Contains(r.Stderr, "created topic") {
		t.Errorf("stderr = %q, want a note that the topic was created", r.Stderr)
	}
	parts, err := kafkatest.Client(t, addr).Partitions(topic)
	if err != nil || len(parts) != 3 {
		t.Fatalf("partitions of created topic = %v, %v; want 3", parts, err)
	}
	// Creating it again (as if someone raced us) is not an error.
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--create-partitions", "3")
}

func TestConsumeNoCreate(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	r := mustRun(t, ExitError, "", "consume", topic, "-b", addr, "-e", "--no-create")
	if !strings.Contains(r.Stderr, topic) {
		t.Errorf("stderr = %q, want it to name %q", r.Stderr, topic)
	}
	if _, err := kafkatest.Client(t, addr).Partitions(topic); err == nil {
		t.Errorf("topic %s exists after --no-create", topic)
	}
}

func TestConsumeUnreachableBrokerFailsFast(t *testing.T) {
	start := time.Now()
	r := mustRun(t, ExitError, "", "consume", "t", "-b", "127.0.0.1:1", "-e", "--connect-timeout", "2s")
	if !strings.Contains(r.Stderr, "cannot reach") {
		t.Errorf("stderr = %q, want 'cannot reach'", r.Stderr)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Errorf("took %s to fail", el)
	}
}

func TestConsumeEnvironmentVariables(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("x", "y")...)
	t.Setenv("STREAMCTL_BROKERS", addr)
	t.Setenv("STREAMCTL_NUM", "1")
	r := mustRun(t, 0, "", "consume", topic)
	if r.Stdout != "x\n" {
		t.Errorf("stdout = %q, want %q", r.Stdout, "x\n")
	}
}

func TestConsumeSignalStopsCleanly(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("before")...)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newSignalWriter()
	done := runInBackground(ctx, out, "consume", topic, "-b", addr)
	// It follows the topic; once it printed, stop it as SIGINT would.
	waitForOutput(t, out, "consume")
	cancel()
	if code := exitCode(t, done, "consume after cancel"); code != ExitOK {
		t.Errorf("exit %d after cancel, want 0", code)
	}
	if got := out.String(); got != "before\n" {
		t.Errorf("stdout = %q, want %q", got, "before\n")
	}
}

// TestConsumeColorDoesNotChangeTheForm: --color only colours; into a pipe
// the output stays one value per line unless --pretty asks otherwise.
func TestConsumeColorDoesNotChangeTheForm(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values(`{"a":1}`, "b")...)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--color", "always")
	if r.Stdout != "{\"a\":1}\nb\n" {
		t.Errorf("--color always into a pipe: stdout %q, want the bare values", r.Stdout)
	}
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--pretty", "--color", "never")
	if !strings.Contains(r.Stdout, topic+"/0 @1") || strings.Contains(r.Stdout, "\x1b[") {
		t.Errorf("--pretty --color never: stdout %q, want the readable form without colour", r.Stdout)
	}
	mustRun(t, ExitUsage, "", "consume", topic, "-b", addr, "--pretty", "-J")
}

func TestConsumeWarnsWhenCreatePartitionsCannotApply(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 2)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--create-partitions", "5")
	if !strings.Contains(r.Stderr, "already exists with 2 partitions") {
		t.Errorf("stderr %q, want a warning that the topic keeps its 2 partitions", r.Stderr)
	}
	one := seed(t, addr, 1)
	r = mustRun(t, 0, "", "consume", one, "-b", addr, "-e", "--create-partitions", "5")
	if !strings.Contains(r.Stderr, "already exists with 1 partition;") {
		t.Errorf("stderr %q, want the warning in the singular", r.Stderr)
	}
}

func TestSASLWithoutPasswordIsUsageError(t *testing.T) {
	r := mustRun(t, ExitUsage, "", "consume", "t", "--sasl-mechanism", "PLAIN", "--sasl-user", "u")
	if !strings.Contains(r.Stderr, "STREAMCTL_SASL_PASSWORD") {
		t.Errorf("stderr %q, want a hint naming STREAMCTL_SASL_PASSWORD", r.Stderr)
	}
}

func TestBrokerWithoutPortMeans9092(t *testing.T) {
	r := mustRun(t, ExitError, "", "consume", "t", "-b", "127.0.0.2", "-e", "--connect-timeout", "1s")
	if !strings.Contains(r.Stderr, "127.0.0.2:9092") {
		t.Errorf("stderr %q, want the address with port 9092", r.Stderr)
	}
}

func TestTopicNamesFollowKafkaRules(t *testing.T) {
	for _, args := range [][]string{
		{"consume", ""},
		{"consume", "ok", "bad topic!"},
		{"consume", ".."},
		{"produce", "a/b"},
		{"produce", strings.Repeat("x", 250)},
	} {
		r := mustRun(t, ExitUsage, "", args...)
		if !strings.Contains(r.Stderr, "topic name") {
			t.Errorf("%q: stderr %q, want it to explain the topic name", args, r.Stderr)
		}
	}
}

func TestPartitionRange(t *testing.T) {
	for _, tc := range []struct {
		valid []int32
		want  string
	}{
		{[]int32{2, 0, 1}, "it has partitions 0-2"},
		{[]int32{0}, "it has only partition 0"},
		{[]int32{0, 3}, "it has partitions 0,3"},
		{nil, "it has no partitions"},
	} {
		if got := partitionRange(tc.valid); got != tc.want {
			t.Errorf("partitionRange(%v) = %q, want %q", tc.valid, got, tc.want)
		}
	}
}
