package cmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// TestExecPerMessage: CMD gets exactly the value on stdin and the record's
// facts in its environment; its stdout is printed in order; a second run
// of the group has nothing left to do.
func TestExecPerMessage(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1,
		kafkatest.Message{Key: []byte("k1"), Value: []byte("one"), Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte("v")}}},
		kafkatest.Message{Value: []byte("two\n")},
	)
	group := kafkatest.Topic(t) + "-g"
	script := `printf '%s|%s|%s|%s|%s|%s|' "$STREAMCTL_TOPIC" "$STREAMCTL_PARTITION" "$STREAMCTL_OFFSET" "${STREAMCTL_KEY-null}" "${STREAMCTL_KEY_BASE64-null}" "$STREAMCTL_HEADERS"; test -n "$STREAMCTL_TIMESTAMP" || echo no timestamp; od -An -c | tr -s ' '`
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec", script)
	want := topic + `|0|0|k1|azE=|[{"key":"h","value":"v"}]| o n e` + "\n" +
		topic + `|0|1|null|null|[]| t w o \n` + "\n"
	if diff := cmp.Diff(want, r.Stdout); diff != "" {
		t.Fatalf("stdout (-want +got):\n%s\nstderr: %s", diff, r.Stderr)
	}
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec", "cat")
	if r.Stdout != "" {
		t.Fatalf("second run printed %q, want nothing: the first committed all", r.Stdout)
	}
}

// TestExecWithoutGroupSaysNothingIsCommitted.
func TestExecWithoutGroupSaysNothingIsCommitted(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b")...)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "--exec", "cat; echo")
	if r.Stdout != "a\nb\n" {
		t.Fatalf("stdout %q, want a and b", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "nothing is committed") {
		t.Fatalf("stderr %q does not say nothing is committed", r.Stderr)
	}
}

// TestExecCommitsOnlyAfterSuccess: CMD fails on offset 3; the run stops
// with exit 1 and the next run starts at offset 3: nothing skipped, what
// succeeded not repeated.
func TestExecCommitsOnlyAfterSuccess(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("0", "1", "2", "3", "4", "5")...)
	group := kafkatest.Topic(t) + "-g"
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e",
		"--exec", `if [ "$STREAMCTL_OFFSET" = 3 ]; then echo "no good" >&2; exit 4; fi; cat; echo`)
	if r.Code != ExitError {
		t.Fatalf("exit %d, want %d; stderr %s", r.Code, ExitError, r.Stderr)
	}
	if r.Stdout != "0\n1\n2\n" {
		t.Fatalf("stdout %q, want 0 1 2", r.Stdout)
	}
	for _, want := range []string{topic + "/0@3: no good\n", "exit status 4: no good", "hint: nothing from " + topic + "/0@3 on"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q lacks %q", r.Stderr, want)
		}
	}
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec", "cat; echo")
	if r.Stdout != "3\n4\n5\n" {
		t.Fatalf("second run: stdout %q, want 3 4 5", r.Stdout)
	}
}

// TestExecFilteredMessagesAreCommittedPast: messages --grep leaves out do
// not run CMD and are committed once what came before them is done.
func TestExecFilteredMessagesAreCommittedPast(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("yes1", "no", "yes2", "no")...)
	group := kafkatest.Topic(t) + "-g"
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--grep", "v:yes", "--exec", "cat; echo")
	if r.Stdout != "yes1\nyes2\n" {
		t.Fatalf("stdout %q, want the two matches", r.Stdout)
	}
	kafkatest.Produce(t, addr, topic, values("yes3")...)
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec", "cat; echo")
	if r.Stdout != "yes3\n" {
		t.Fatalf("second run: stdout %q, want only the new message", r.Stdout)
	}
}

// TestExecLineMode: one long-running CMD gets a line per message (an
// envelope with -J) and acknowledges each; a failure text stops the run
// there.
func TestExecLineMode(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b", "bad", "c")...)
	group := kafkatest.Topic(t) + "-g"
	agent := `while read -r l; do echo "saw $l" >&2; if [ "$l" = bad ]; then echo "cannot do $l"; else echo ok; fi; done`
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec-mode", "line", "--exec", agent)
	if r.Code != ExitError {
		t.Fatalf("exit %d, want %d; stderr %s", r.Code, ExitError, r.Stderr)
	}
	for _, want := range []string{"agent 0: saw a\n", "cannot do bad"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q lacks %q", r.Stderr, want)
		}
	}
	agent = `while read -r l; do echo "$l" >&2; echo ok; done`
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec-mode", "line", "-J", "--exec", agent)
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"offset":2`) || !strings.Contains(lines[0], `"value":"bad"`) || !strings.Contains(lines[1], `"value":"c"`) {
		t.Fatalf("second run: stderr %q, want the envelopes of offsets 2 and 3", r.Stderr)
	}
}

// TestExecRetriesThenDeadLetter: a message failing every try is retried,
// then written to the dead-letter topic with its own key, value and
// headers and why it failed, and the run goes on.
func TestExecRetriesThenDeadLetter(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1,
		kafkatest.Message{Value: []byte("fine")},
		kafkatest.Message{Key: []byte("k"), Value: []byte{0xff, 0}, Headers: []sarama.RecordHeader{{Key: []byte("orig"), Value: []byte("1")}}},
		kafkatest.Message{Value: []byte("also fine")},
	)
	group := kafkatest.Topic(t) + "-g"
	dlq := topic + "-dlq"
	dir := t.TempDir()
	script := fmt.Sprintf(`echo x >> %s/tries-$STREAMCTL_OFFSET; if [ "$STREAMCTL_OFFSET" = 1 ]; then echo "it broke" >&2; echo more >&2; exit 9; fi; cat; echo`, dir)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec", script,
		"--retries", "2", "--retry-backoff", "1ms", "--dead-letter", dlq)
	if r.Stdout != "fine\nalso fine\n" {
		t.Fatalf("stdout %q, want the two that worked", r.Stdout)
	}
	tries, _ := os.ReadFile(filepath.Join(dir, "tries-1"))
	if n := strings.Count(string(tries), "x"); n != 3 {
		t.Fatalf("offset 1 tried %d times, want 3 (1 + 2 retries)", n)
	}
	got := kafkatest.ReadAll(t, addr, dlq)
	if len(got) != 1 {
		t.Fatalf("dead-letter topic has %d records, want 1", len(got))
	}
	d := got[0]
	if string(d.Key) != "k" || string(d.Value) != "\xff\x00" {
		t.Errorf("dead letter key %q value %q, want the original", d.Key, d.Value)
	}
	hs := map[string]string{}
	var order []string
	for _, h := range d.Headers {
		hs[string(h.Key)] = string(h.Value)
		order = append(order, string(h.Key))
	}
	want := map[string]string{"orig": "1", "streamctl.error.topic": topic, "streamctl.error.partition": "0",
		"streamctl.error.offset": "1", "streamctl.error.exit-code": "9", "streamctl.error.message": "it broke"}
	if diff := cmp.Diff(want, hs); diff != "" {
		t.Errorf("dead letter headers (-want +got):\n%s", diff)
	}
	if len(order) == 0 || order[0] != "orig" {
		t.Errorf("headers %v: the original ones should come first", order)
	}
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec", "cat")
	if r.Stdout != "" {
		t.Fatalf("second run printed %q: the dead-lettered message should be committed past", r.Stdout)
	}
}

// TestExecConcurrencyKeepsPartitionOrder: with --concurrency, each
// partition's output comes in offset order, and every message is done once.
func TestExecConcurrencyKeepsPartitionOrder(t *testing.T) {
	addr := kafkatest.Broker(t)
	var msgs []kafkatest.Message
	for i := range 200 {
		msgs = append(msgs, kafkatest.Message{Partition: int32(i % 4), Value: []byte(strconv.Itoa(i))})
	}
	topic := seed(t, addr, 4, msgs...)
	group := kafkatest.Topic(t) + "-g"
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--concurrency", "8",
		"--exec", `echo "$STREAMCTL_PARTITION $STREAMCTL_OFFSET"`)
	last := map[string]int{"0": -1, "1": -1, "2": -1, "3": -1}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		f := strings.Fields(line)
		off, _ := strconv.Atoi(f[1])
		if off != last[f[0]]+1 {
			t.Fatalf("partition %s: offset %d after %d", f[0], off, last[f[0]])
		}
		last[f[0]] = off
		n++
	}
	if n != 200 {
		t.Fatalf("%d lines, want 200", n)
	}
}

// TestExecOrderByKey: with --order key, one key's messages run one after
// another in offset order, and the output still comes in offset order.
func TestExecOrderByKey(t *testing.T) {
	addr := kafkatest.Broker(t)
	var msgs []kafkatest.Message
	for i := range 120 {
		msgs = append(msgs, kafkatest.Message{Key: []byte(fmt.Sprintf("k%d", i%4)), Value: []byte(strconv.Itoa(i))})
	}
	topic := seed(t, addr, 1, msgs...)
	group := kafkatest.Topic(t) + "-g"
	dir := t.TempDir()
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--concurrency", "4", "--order", "key",
		"--exec", fmt.Sprintf(`echo $STREAMCTL_OFFSET >> %s/$STREAMCTL_KEY; echo $STREAMCTL_OFFSET`, dir))
	var want []string
	for i := range 120 {
		want = append(want, strconv.Itoa(i))
	}
	if diff := cmp.Diff(want, strings.Fields(r.Stdout)); diff != "" {
		t.Fatalf("stdout not in offset order (-want +got):\n%s", diff)
	}
	for k := range 4 {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("k%d", k)))
		if err != nil {
			t.Fatal(err)
		}
		var offs []int
		for _, f := range strings.Fields(string(b)) {
			n, _ := strconv.Atoi(f)
			offs = append(offs, n)
		}
		if len(offs) != 30 || !slices.IsSorted(offs) {
			t.Fatalf("key k%d ran %v, want its 30 offsets in order", k, offs)
		}
	}
}

// TestExecTwoWorkersRebalance: a second worker joins the group while the
// first runs commands; the commands under way for the partitions that move
// finish and are committed before the move, so between the two workers
// every message is done exactly once. The first worker's commands from
// offset 10 on wait until the group is rebalancing, so that the rebalance
// finds some under way (and the first cannot finish alone), and then take
// a while each: 90 per partition outlast the heartbeat (3 s) that tells
// the first worker to give partitions up.
func TestExecTwoWorkersRebalance(t *testing.T) {
	addr := kafkatest.Broker(t)
	var msgs []kafkatest.Message
	for i := range 400 {
		msgs = append(msgs, kafkatest.Message{Partition: int32(i % 4), Value: []byte(strconv.Itoa(i))})
	}
	topic := seed(t, addr, 4, msgs...)
	group := kafkatest.Topic(t) + "-g"
	gate := filepath.Join(t.TempDir(), "rebalancing")
	script := fmt.Sprintf(`if [ "$STREAMCTL_OFFSET" -ge 10 ]; then while [ ! -e %s ]; do sleep 0.01; done; sleep 0.05; fi; echo "$STREAMCTL_PARTITION $STREAMCTL_OFFSET"`, gate)
	args := []string{"consume", topic, "-b", addr, "-g", group, "--idle-timeout", "4s", "--concurrency", "4", "--exec", script}
	ctx := context.Background()
	first := newSignalWriter()
	var err1, err2 syncBuffer
	done1 := runWithStderr(ctx, first, &err1, args...)
	waitForOutput(t, first, "the first worker")
	second := newSignalWriter()
	done2 := runWithStderr(ctx, second, &err2, append(append([]string(nil), args...), "--idle-timeout", "10s")...)
	defer func() { t.Logf("stderr of the first:\n%s\nof the second:\n%s", err1.String(), err2.String()) }()
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	// The group stays in PreparingRebalance until the first worker
	// rejoins, which it does only once its commands under way finished.
	for deadline := time.Now().Add(30 * time.Second); ; {
		gs, err := admin.DescribeConsumerGroups([]string{group})
		if err == nil && len(gs) == 1 && gs[0].State == "PreparingRebalance" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the group did not start rebalancing in 30s")
		}
		time.Sleep(10 * time.Millisecond) // polling the group's state, with a deadline
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for who, done := range map[string]<-chan int{"the first worker": done1, "the second worker": done2} {
		if code := exitCode(t, done, who); code != ExitOK {
			t.Fatalf("%s exited %d", who, code)
		}
	}
	n1, n2 := strings.Count(first.String(), "\n"), strings.Count(second.String(), "\n")
	t.Logf("first worker did %d messages, second %d", n1, n2)
	if n2 == 0 {
		t.Fatal("the second worker got nothing")
	}
	seen := map[string]int{}
	for _, out := range []string{first.String(), second.String()} {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			seen[line]++
		}
	}
	for p := range 4 {
		for o := range 100 {
			if n := seen[fmt.Sprintf("%d %d", p, o)]; n != 1 {
				t.Fatalf("partition %d offset %d done %d times, want once", p, o, n)
			}
		}
	}
}

// syncBuffer is a buffer safe for a run's goroutines to write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runWithStderr is runInBackground keeping the run's stderr.
func runWithStderr(ctx context.Context, out, errw io.Writer, args ...string) <-chan int {
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"streamctl"}, args...), Streams{In: strings.NewReader(""), Out: out, Err: errw})
	}()
	return done
}

// TestExecFactsDoNotSteerAStreamctlInside: the message's facts that --exec
// puts in CMD's environment (STREAMCTL_PARTITION, _OFFSET, _KEY) are not
// read as flags by a streamctl that CMD runs, as in an agent that pipes its
// output to `streamctl produce`. Before, they were --partition, --offset
// and --key: the output went to the input's partition number, with its key.
func TestExecFactsDoNotSteerAStreamctlInside(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b")...)
	t.Setenv("STREAMCTL_PARTITION", "5")
	t.Setenv("STREAMCTL_KEY", "input-key")
	t.Setenv("STREAMCTL_OFFSET", "end")
	mustRun(t, 0, "c\n", "produce", topic, "-b", addr)
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-f", "%k=%s\n")
	if want := "=a\n=b\n=c\n"; r.Stdout != want {
		t.Fatalf("stdout %q, want %q: the message facts steered the run", r.Stdout, want)
	}
	// The flags keep variables of their own, named for their command.
	t.Setenv("STREAMCTL_PRODUCE_KEY", "k")
	t.Setenv("STREAMCTL_CONSUME_OFFSET", "-1")
	mustRun(t, 0, "d\n", "produce", topic, "-b", addr)
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-f", "%k=%s\n")
	if want := "k=d\n"; r.Stdout != want {
		t.Fatalf("stdout %q, want %q from STREAMCTL_PRODUCE_KEY and STREAMCTL_CONSUME_OFFSET", r.Stdout, want)
	}
}

// TestExecCommitsWhileCommandsRun: what CMD finished is committed while
// later messages still run, without waiting for the run's end: with CMD
// stuck on offset 20 of a partition fetched in one batch, the group's
// committed offset reaches 20 (in a transaction with its output under
// --exactly-once). Before, the loop marked nothing while it handed a
// fetched batch to the commands, so the group stayed at 0 until the whole
// batch was handed over, and a kill -9 repeated everything.
func TestExecCommitsWhileCommandsRun(t *testing.T) {
	// line: more records than line mode takes in at once (4096), so that
	// the hand-over at the end of a delivery (Flush) is what pushes back.
	for _, mode := range []string{"at-least-once", "exactly-once", "line"} {
		t.Run(mode, func(t *testing.T) {
			addr := kafkatest.Broker(t)
			total := 40
			if mode == "line" {
				total = 6000
			}
			var msgs []kafkatest.Message
			for i := range total {
				msgs = append(msgs, kafkatest.Message{Value: []byte(strconv.Itoa(i))})
			}
			topic := seed(t, addr, 1, msgs...)
			group := kafkatest.Topic(t) + "-g"
			gate := filepath.Join(t.TempDir(), "go-on")
			script := fmt.Sprintf(`if [ "$STREAMCTL_OFFSET" -ge 20 ]; then while [ ! -e %s ]; do sleep 0.01; done; fi; cat; echo`, gate)
			if mode == "line" {
				script = fmt.Sprintf(`while read -r v; do if [ "$v" -ge 20 ]; then while [ ! -e %s ]; do sleep 0.01; done; fi; echo ok; done`, gate)
			}
			args := []string{"consume", topic, "-b", addr, "-g", group, "-e", "--exec", script}
			if mode == "line" {
				args = append(args, "--exec-mode", "line")
			}
			out := topic + "-out"
			if mode == "exactly-once" {
				args = append(args, "--to", out, "--exactly-once", "--instance-id", "w1")
			}
			var stdout, stderr syncBuffer
			done := runWithStderr(context.Background(), &stdout, &stderr, args...)
			defer func() { t.Logf("stderr:\n%s", stderr.String()) }()
			admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
			if err != nil {
				t.Fatal(err)
			}
			// committed is the group's offset of partition 0, -1 while
			// the group has none (or does not exist yet).
			committed := func() int64 {
				resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
				if err != nil || resp.GetBlock(topic, 0) == nil {
					return -1
				}
				return resp.GetBlock(topic, 0).Offset
			}
			for deadline := time.Now().Add(20 * time.Second); committed() != 20; {
				if time.Now().After(deadline) {
					got := committed()
					_ = os.WriteFile(gate, nil, 0o644)
					exitCode(t, done, "the worker")
					t.Fatalf("committed offset %d 20s after CMD got stuck at offset 20, want 20", got)
				}
				time.Sleep(10 * time.Millisecond) // polling the group's offset, with a deadline
			}
			if err := os.WriteFile(gate, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if code := exitCode(t, done, "the worker"); code != ExitOK {
				t.Fatalf("exit %d, want 0", code)
			}
			// Kafka writes a transaction's markers, which make its
			// offsets visible, just after it commits.
			for deadline := time.Now().Add(30 * time.Second); committed() != int64(total); {
				if time.Now().After(deadline) {
					t.Fatalf("committed offset %d 30s after the end, want %d", committed(), total)
				}
				time.Sleep(10 * time.Millisecond) // polling the group's offset, with a deadline
			}
			if mode == "exactly-once" {
				if got := kafkatest.ReadCommitted(t, addr, out); len(got) != 40 {
					t.Fatalf("read_committed: %d records, want 40", len(got))
				}
			} else if n := strings.Count(stdout.String(), "\n"); mode != "line" && n != 40 {
				t.Fatalf("%d lines printed, want 40", n)
			}
		})
	}
}

// TestExecFlagValues: a bad --concurrency, --retries or --retry-backoff is
// a usage error naming that flag and the value given. Before, one message
// listed all three rules without saying which was broken.
func TestExecFlagValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--concurrency", "0"}, "--concurrency 0: want 1 or more"},
		{[]string{"--retries", "-1"}, "--retries -1: want 0 or more"},
		{[]string{"--retry-backoff", "0s"}, "--retry-backoff 0s: want a positive duration"},
	} {
		r := run(t, "", append([]string{"consume", "t", "-b", "127.0.0.1:1", "-g", "g", "--exec", "cat"}, c.args...)...)
		if r.Code != ExitUsage || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, r.Code, r.Stderr, ExitUsage, c.want)
		}
	}
}

// TestExecDecodeErrorFinishesWhatCameBefore: a message that does not
// decode stops the run with exit 1, as in consume, and the messages before
// it are done and committed first, as consume prints and commits them.
// Before, the commands queued for them were abandoned: nothing ran for
// offset 0 and the group committed nothing.
func TestExecDecodeErrorFinishesWhatCameBefore(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values(`{"a":1}`, `{"a":2}`, "not json", `{"a":3}`)...)
	group := kafkatest.Topic(t) + "-g"
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e", "-s", "json", "--exec", "cat; echo")
	if r.Code != ExitError || !strings.Contains(r.Stderr, "partition 0 offset 2: cannot decode value") {
		t.Fatalf("exit %d, stderr %q; want exit 1 naming offset 2", r.Code, r.Stderr)
	}
	if want := "{\"a\":1}\n{\"a\":2}\n"; r.Stdout != want {
		t.Errorf("stdout %q, want %q", r.Stdout, want)
	}
	if got := groupOffset(t, addr, group, topic); got != 2 {
		t.Errorf("committed offset %d, want 2", got)
	}
}

// TestExecLineModeValueWithNewline: in line mode without -J a value that
// holds a newline cannot be one line: the run stops there with exit 1,
// naming the message and hinting at -J. Before, it went as two lines, the
// answers slid onto the wrong messages, and a failure CMD answered for the
// next message was dropped with a warning, that message committed: exit 0.
func TestExecLineModeValueWithNewline(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b\nb", "c")...)
	group := kafkatest.Topic(t) + "-g"
	agent := `while read -r l; do if [ "$l" = c ]; then echo "c failed"; else echo ok; fi; done`
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec-mode", "line", "--exec", agent)
	if r.Code != ExitError {
		t.Fatalf("exit %d, want %d; stderr %s", r.Code, ExitError, r.Stderr)
	}
	for _, want := range []string{topic + "/0@1: the value holds a newline", "hint: -J writes each message as its -J envelope"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q lacks %q", r.Stderr, want)
		}
	}
	if got := groupOffset(t, addr, group, topic); got != 1 {
		t.Errorf("committed offset %d, want 1: nothing from the value with a newline on", got)
	}
}

// TestExecTimeoutBoundsTheWait: -e is met once every message is handed to
// CMD, and the run then waits for them to be done; --timeout bounds that
// wait as it bounds the rest: at the deadline nothing more starts, the
// command under way finishes, what succeeded is committed, and the exit
// code is 3 (the -e end was cut short). Before, the run went on past the
// deadline, started the queued messages and exited 0.
func TestExecTimeoutBoundsTheWait(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("0", "1", "2")...)
	group := kafkatest.Topic(t) + "-g"
	start := time.Now()
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e", "--timeout", "3s",
		"--exec", `if [ "$STREAMCTL_OFFSET" = 0 ]; then sleep 6; fi; cat; echo`)
	t.Logf("took %s", time.Since(start))
	if r.Code != ExitTimeout || !strings.Contains(r.Stderr, "--timeout 3s reached before every message was processed") {
		t.Fatalf("exit %d, stderr %q; want exit %d and the timeout named", r.Code, r.Stderr, ExitTimeout)
	}
	if r.Stdout != "0\n" {
		t.Errorf("stdout %q, want only offset 0's output: nothing starts after the deadline", r.Stdout)
	}
	if got := groupOffset(t, addr, group, topic); got != 1 {
		t.Errorf("committed offset %d, want 1", got)
	}
}

// TestExecFailureHintAfterRetries: once --retries were tried, the hint
// does not offer --retries again. Before, it said "--retries N tries
// again" to a run given --retries 2.
func TestExecFailureHintAfterRetries(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a")...)
	r := run(t, "", "consume", topic, "-b", addr, "-g", kafkatest.Topic(t)+"-g", "-e", "--retries", "2", "--retry-backoff", "1ms", "--exec", "exit 4")
	if r.Code != ExitError || !strings.Contains(r.Stderr, "(3 attempts)") {
		t.Fatalf("exit %d, stderr %q; want exit 1 after 3 attempts", r.Code, r.Stderr)
	}
	if strings.Contains(r.Stderr, "--retries N") || !strings.Contains(r.Stderr, "--dead-letter TOPIC") {
		t.Errorf("stderr %q: want a hint at --dead-letter only", r.Stderr)
	}
}

// TestExecFailureHintWithoutGroup: without -g nothing is ever committed,
// so the hint does not say what was not (found by the README trial: it
// said "nothing from t/0@0 on in its partition was committed").
func TestExecFailureHintWithoutGroup(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a")...)
	r := run(t, "", "consume", topic, "-b", addr, "-e", "--exec", "exit 4")
	if r.Code != ExitError {
		t.Fatalf("exit %d, stderr %q; want exit 1", r.Code, r.Stderr)
	}
	if strings.Contains(r.Stderr, "was committed") || !strings.Contains(r.Stderr, "the run stopped at "+topic+"/0@0") {
		t.Errorf("stderr %q: want the hint to say where the run stopped, and no commit", r.Stderr)
	}
}

// TestExecLineAgentCrashSaysHowItEnded: a line-mode CMD that dies with
// messages unanswered stops the run (exit 1) with an error that names the
// first of them and how the command ended (its exit status), so that a
// crash can be told from an agent that closed its stdout. Before, it said
// only that the command ended.
func TestExecLineAgentCrashSaysHowItEnded(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b", "c", "d")...)
	group := kafkatest.Topic(t) + "-g"
	agent := `read -r l; echo ok; read -r l; echo ok; read -r l; exit 5`
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e", "--exec-mode", "line", "--exec", agent)
	if r.Code != ExitError {
		t.Fatalf("exit %d, want %d; stderr %s", r.Code, ExitError, r.Stderr)
	}
	if want := "the command ended before acknowledging " + topic + "/0@2: exit status 5"; !strings.Contains(r.Stderr, want) {
		t.Errorf("stderr %q lacks %q", r.Stderr, want)
	}
	if got := groupOffset(t, addr, group, topic); got != 2 {
		t.Errorf("committed offset %d, want 2: the two answered messages", got)
	}
}
