package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// The Java interop tests check streamctl against Kafka's own Java clients,
// through the console tools of scripts/kafka/tool.sh. They need the real
// broker and its jars (make test-kafka); they skip without them, and fail
// in CI's real tier.

// javaBroker is the real broker's plaintext address, once the Java tools
// are there.
func javaBroker(t *testing.T) string {
	t.Helper()
	return kafkatest.RequireEnv(t, "the Java interop test", kafkatest.EnvLibs, kafkatest.Env)[1]
}

// javaTool runs one of Kafka's Java console tools with stdin and returns
// its stdout; it fails t unless the tool exits 0 within 2 minutes.
func javaTool(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "../scripts/kafka/tool.sh", args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tool.sh %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// javaProduce writes "key:value" lines with Kafka's console producer.
func javaProduce(t *testing.T, addr, topic string, lines []string) {
	t.Helper()
	javaTool(t, strings.Join(lines, "\n")+"\n", "console-producer", "--bootstrap-server", addr, "--topic", topic,
		"--reader-property", "parse.key=true", "--reader-property", "key.separator=:")
}

// javaConsume reads n messages with Kafka's console consumer, keys printed
// as "key:value", in group when it is not empty and from the beginning
// otherwise.
func javaConsume(t *testing.T, addr, topic, group string, n int) []string {
	t.Helper()
	args := []string{"console-consumer", "--bootstrap-server", addr, "--topic", topic,
		"--max-messages", fmt.Sprint(n), "--timeout-ms", "30000",
		"--formatter-property", "print.key=true", "--formatter-property", "key.separator=:"}
	if group == "" {
		args = append(args, "--from-beginning")
	} else {
		// One record per poll: the consumer commits, on close, the position
		// past what poll returned, which must be what it printed.
		args = append(args, "--group", group, "--command-property", "auto.offset.reset=earliest",
			"--command-property", "max.poll.records=1")
	}
	return lines(javaTool(t, "", args...))
}

func lines(s string) []string {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func keyedLines(n int) []string {
	var ls []string
	for i := range n {
		ls = append(ls, fmt.Sprintf("key-%d:value %d, ünïcode", i, i))
	}
	return ls
}

func TestInteropJavaConsumerReadsProduce(t *testing.T) {
	addr := javaBroker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 3)
	in := keyedLines(30)
	mustRun(t, 0, strings.Join(in, "\n")+"\n", "-b", addr, "produce", topic, "-K:")
	got := javaConsume(t, addr, topic, "", len(in))
	want := append([]string(nil), in...)
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Java console consumer output (-want +got):\n%s", diff)
	}
}

// The Java consumer reads the record batches streamctl encodes itself with
// each codec: CRC, framing (snappy's xerial, lz4's frames) and records.
func TestInteropJavaConsumerReadsEachCodec(t *testing.T) {
	addr := javaBroker(t)
	in := keyedLines(300)
	want := append([]string(nil), in...)
	sort.Strings(want)
	for _, z := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(z, func(t *testing.T) {
			topic := kafkatest.Topic(t)
			kafkatest.CreateTopic(t, addr, topic, 3)
			mustRun(t, 0, strings.Join(in, "\n")+"\n", "-b", addr, "produce", topic, "-K:", "-z", z)
			got := javaConsume(t, addr, topic, "", len(in))
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Java console consumer output (-want +got):\n%s", diff)
			}
		})
	}
}

// Keyed messages must land where the Java client puts them: a Faust or
// Java consumer of a co-partitioned topic depends on it.
func TestInteropPartitionsMatchJavaProducer(t *testing.T) {
	addr := javaBroker(t)
	java, ours := kafkatest.Topic(t), kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, java, 6)
	kafkatest.CreateTopic(t, addr, ours, 6)
	in := keyedLines(100)
	in = append(in, "user-42:x", "0:x", ":empty key", "ключ:x", strings.Repeat("long", 40)+":x")
	javaProduce(t, addr, java, in)
	mustRun(t, 0, strings.Join(in, "\n")+"\n", "-b", addr, "produce", ours, "-K:")
	where := func(topic string) map[string]int32 {
		m := map[string]int32{}
		for _, r := range kafkatest.ReadAll(t, addr, topic) {
			m[string(r.Key)] = r.Partition
		}
		return m
	}
	want, got := where(java), where(ours)
	if len(want) != len(in) {
		t.Fatalf("the Java producer wrote %d keys, want %d", len(want), len(in))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("partition per key, Java producer (-) against streamctl produce (+):\n%s", diff)
	}
	spread := map[int32]bool{}
	for _, p := range want {
		spread[p] = true
	}
	if len(spread) < 2 {
		t.Errorf("all keys on %d partition(s); the test wants them spread", len(spread))
	}
}

func TestInteropConsumeReadsJavaProducer(t *testing.T) {
	addr := javaBroker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	in := append(keyedLines(20), "k:value: with the separator", "k:", "tab\tkey:{\"json\": true}")
	javaProduce(t, addr, topic, in)
	r := mustRun(t, 0, "", "-b", addr, "consume", topic, "-e", "-f", `%k:%s\n`)
	if diff := cmp.Diff(in, lines(r.Stdout)); diff != "" {
		t.Errorf("streamctl consume of what the Java producer wrote (-want +got):\n%s", diff)
	}
}

func TestInteropGroupJavaContinuesStreamctl(t *testing.T) {
	addr := javaBroker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	in := keyedLines(6)
	javaProduce(t, addr, topic, in)
	group := "g-" + topic
	r := mustRun(t, 0, "", "-b", addr, "consume", topic, "-g", group, "-n", "3", "-f", `%k:%s\n`)
	if diff := cmp.Diff(in[:3], lines(r.Stdout)); diff != "" {
		t.Fatalf("streamctl's first 3 (-want +got):\n%s", diff)
	}
	got := javaConsume(t, addr, topic, group, 3)
	if diff := cmp.Diff(in[3:], got); diff != "" {
		t.Errorf("the Java consumer in the same group did not continue where streamctl committed (-want +got):\n%s", diff)
	}
}

func TestInteropGroupStreamctlContinuesJava(t *testing.T) {
	addr := javaBroker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	in := keyedLines(6)
	javaProduce(t, addr, topic, in)
	group := "g-" + topic
	if diff := cmp.Diff(in[:2], javaConsume(t, addr, topic, group, 2)); diff != "" {
		t.Fatalf("the Java consumer's first 2 (-want +got):\n%s", diff)
	}
	r := mustRun(t, 0, "", "-b", addr, "consume", topic, "-g", group, "-e", "-f", `%k:%s\n`)
	if diff := cmp.Diff(in[2:], lines(r.Stdout)); diff != "" {
		t.Errorf("streamctl in the same group did not continue where the Java consumer committed (-want +got):\n%s\n%s",
			diff, javaTool(t, "", "consumer-groups", "--bootstrap-server", addr, "--describe", "--group", group))
	}
}
