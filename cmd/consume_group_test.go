package cmd

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

func TestConsumeGroupResumesAfterRestart(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("1", "2", "3", "4", "5", "6")...)
	group := kafkatest.Topic(t) + "-g"
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"-n", "2"}, "1\n2\n"},
		{[]string{"-n", "2"}, "3\n4\n"},
		{[]string{"-e"}, "5\n6\n"},
		{[]string{"-e"}, ""},
	} {
		args := append([]string{"consume", topic, "-b", addr, "-g", group}, step.args...)
		r := mustRun(t, 0, "", args...)
		if r.Stdout != step.want {
			t.Fatalf("streamctl %s: stdout %q, want %q (stderr %s)", strings.Join(args, " "), r.Stdout, step.want, r.Stderr)
		}
	}
}

func TestConsumeGroupFallsBackToOffset(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a", "b", "c", "d")...)
	group := kafkatest.Topic(t) + "-g"
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-o", "-2", "-e")
	if r.Stdout != "c\nd\n" {
		t.Fatalf("first run: stdout %q, want the last two", r.Stdout)
	}
	// Now the group has a committed offset, which wins over --offset.
	kafkatest.Produce(t, addr, topic, kafkatest.Message{Value: []byte("e")})
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-o", "start", "-e")
	if r.Stdout != "e\n" {
		t.Fatalf("second run: stdout %q, want only the new message", r.Stdout)
	}
}

func TestConsumeGroupExitManyPartitions(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 3,
		kafkatest.Message{Partition: 0, Value: []byte("x")},
		kafkatest.Message{Partition: 2, Value: []byte("y")},
	)
	group := kafkatest.Topic(t) + "-g"
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e")
	if got := sortedLines(strings.Fields(r.Stdout)); strings.Join(got, ",") != "x,y" {
		t.Fatalf("stdout %q, want x and y", r.Stdout)
	}
}

func TestConsumeGroupTimeoutBeforeNum(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("only")...)
	group := kafkatest.Topic(t) + "-g"
	r := mustRun(t, ExitTimeout, "", "consume", topic, "-b", addr, "-g", group, "-n", "5", "--idle-timeout", "2s")
	if r.Stdout != "only\n" {
		t.Fatalf("stdout %q, want the one message", r.Stdout)
	}
	// What was printed was committed: the group does not see it again.
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e")
	if r.Stdout != "" {
		t.Fatalf("after restart stdout %q, want nothing", r.Stdout)
	}
}

func TestConsumeGroupRejectsPartitions(t *testing.T) {
	r := mustRun(t, ExitUsage, "", "consume", "t", "-g", "g", "-p", "0")
	if !strings.Contains(r.Stderr, "do not go together") {
		t.Errorf("stderr = %q, want it to say why", r.Stderr)
	}
}

// TestConsumeGroupExitWithNothingAssigned: a member that gets no partition
// (the group has more members than the topic has partitions) has nothing to
// read, so -e is satisfied at once instead of waiting for ever.
func TestConsumeGroupExitWithNothingAssigned(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("x")...)
	group := kafkatest.Topic(t) + "-g"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newSignalWriter()
	first := runInBackground(ctx, out, "consume", topic, "-b", addr, "-g", group)
	waitForOutput(t, out, "the first member") // it holds the partition
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--timeout", "60s")
	if r.Stdout != "" {
		t.Errorf("second member printed %q, want nothing", r.Stdout)
	}
	cancel()
	<-first
}

// TestConsumeGroupRebalanceNeitherRepeatsNorSkips: a second member joins
// while the first is reading; between them every record is printed exactly
// once (what a member printed is marked before its session's last commit).
func TestConsumeGroupRebalanceNeitherRepeatsNorSkips(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seedWide(t, addr)
	group := kafkatest.Topic(t) + "-g"
	args := []string{"consume", topic, "-b", addr, "-g", group, "--idle-timeout", "3s", "-f", "%p %o %s\n"}
	ctx := context.Background()
	first := newSignalWriter()
	// The first member's output holds after its first write until the
	// second member's join has started a rebalance, so the rebalance always
	// finds records in flight, however fast the first member reads.
	gate := &gatedWriter{w: first, release: make(chan struct{})}
	done1 := runInBackground(ctx, gate, args...)
	waitForOutput(t, first, "the first member")
	second := newSignalWriter()
	// Joining waits for the first member to give partitions up.
	// -e, not an idle timeout: a rebalance slowed by the first member's
	// output (on a busy machine, over 10 s) must not end the second's wait.
	done2 := runInBackground(ctx, second, append(append([]string(nil), args...), "--idle-timeout", "60s", "-e")...)
	waitForRebalance(t, addr, group)
	close(gate.release)
	for who, done := range map[string]<-chan int{"the first member": done1, "the second member": done2} {
		if code := exitCode(t, done, who); code != ExitOK {
			t.Fatalf("%s exited %d", who, code)
		}
	}
	n1, n2 := strings.Count(first.String(), "\n"), strings.Count(second.String(), "\n")
	t.Logf("first member printed %d records, second %d", n1, n2)
	if n2 == 0 {
		t.Error("the second member got nothing: no rebalance happened while the first was reading")
	}
	seen := map[string]int{}
	for _, out := range []string{first.String(), second.String()} {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 3 {
				seen[f[0]+" "+f[1]]++
			}
		}
	}
	for p := 0; p < 4; p++ {
		for o := 0; o < 1000; o++ {
			if n := seen[fmt.Sprintf("%d %d", p, o)]; n != 1 {
				t.Fatalf("partition %d offset %d printed %d times, want once (first member %d lines, second %d)",
					p, o, n, strings.Count(first.String(), "\n"), strings.Count(second.String(), "\n"))
			}
		}
	}
}

// gatedWriter lets its first write through, holds the next until release
// is closed, then slows each write down.
type gatedWriter struct {
	w       *signalWriter
	release chan struct{}
	n       atomic.Int64
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	if g.n.Add(1) > 1 {
		<-g.release
		time.Sleep(200 * time.Millisecond) // pacing: the output outlasts a heartbeat interval (3 s)
	}
	return g.w.Write(p)
}

// waitForRebalance waits up to 30 s for group to leave the Stable state (a
// member joined or left) or to have two members.
func waitForRebalance(t *testing.T, addr, group string) {
	t.Helper()
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		gs, err := admin.DescribeConsumerGroups([]string{group})
		if err == nil && len(gs) == 1 && (gs[0].State != "Stable" && gs[0].State != "Empty" && gs[0].State != "Dead" || len(gs[0].Members) >= 2) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s did not start rebalancing within 30s (last: %+v, %v)", group, gs, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, with a deadline
	}
}

// slowly slows each write down so that a rebalance finds records in flight.
type slowly struct{ w *signalWriter }

func (s slowly) Write(p []byte) (int, error) {
	time.Sleep(200 * time.Millisecond)
	return s.w.Write(p)
}

// faustAssignor is sarama's range strategy under the name Faust's own
// partition assignor joins with, so that a group it is in looks to the
// broker like a running Faust app's group.
type faustAssignor struct{ sarama.BalanceStrategy }

func (faustAssignor) Name() string { return "faust" }

// inGroup's Setup reports that its member has joined, then holds the session.
type inGroup struct{ joined chan struct{} }

// seedWide makes a topic of 4 partitions holding 1000 records of 1000 B
// each, enough for a second member to join while the first still reads.
func seedWide(t *testing.T, addr string) string {
	t.Helper()
	var msgs []kafkatest.Message
	for i := 0; i < 4000; i++ {
		msgs = append(msgs, kafkatest.Message{Partition: int32(i % 4), Value: []byte(fmt.Sprintf("%01000d", i))})
	}
	return seed(t, addr, 4, msgs...)
}

// joinMember has a sarama member balancing with strategy (named name in
// failures) join group on topic, and returns once it holds its share; it
// leaves when the test ends.
func joinMember(t *testing.T, addr, group, topic string, strategy sarama.BalanceStrategy, name string) {
	t.Helper()
	conf := kafkatest.Config()
	conf.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy}
	cg, err := sarama.NewConsumerGroup([]string{addr}, group, conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := inGroup{joined: make(chan struct{})}
	var result error
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		result = cg.Consume(ctx, []string{topic}, h)
	}()
	t.Cleanup(func() {
		cancel()
		<-ended
		if result != nil {
			t.Errorf("the %s member: %v", name, result)
		}
		cg.Close()
	})
	select {
	case <-h.joined:
	case <-ended:
		t.Fatalf("the %s member did not join: %v", name, result)
	case <-time.After(30 * time.Second):
		t.Fatalf("the %s member did not join within 30s", name)
	}
}

func (h inGroup) Setup(sarama.ConsumerGroupSession) error { close(h.joined); return nil }
func (inGroup) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (inGroup) ConsumeClaim(s sarama.ConsumerGroupSession, _ sarama.ConsumerGroupClaim) error {
	<-s.Context().Done()
	return nil
}

// TestConsumeGroupOfAnotherAssignor: joining a group whose members use
// another assignor (a Faust app's) is refused by the broker; the hint names
// that cause and what to do.
func TestConsumeGroupOfAnotherAssignor(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a")...)
	group := kafkatest.Topic(t) + "-g"
	// streamctl's first run sets go-metrics' global switch (kafkaConfig);
	// have it done before the other member's client reads it.
	if r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-e"); r.Stdout != "a\n" {
		t.Fatalf("plain consume: stdout %q, want a", r.Stdout)
	}
	joinMember(t, addr, group, topic, faustAssignor{sarama.NewBalanceStrategyRange()}, "faust-assignor")
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "-e", "--timeout", "20s")
	if r.Code == ExitOK {
		t.Fatalf("joining a group of another assignor exited 0 (stdout %q)", r.Stdout)
	}
	for _, want := range []string{"incompatible", "hint:", "Faust", "assignor"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
}

// TestConsumeGroupOfAnotherBalancer: a member joining with --balancer
// roundrobin a group whose members balance with range is refused by the
// broker; the hint says every member must name the same --balancer. Before,
// it said only that the members used an assignor streamctl does not.
func TestConsumeGroupOfAnotherBalancer(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values("a")...)
	group := kafkatest.Topic(t) + "-g"
	// streamctl's first run sets go-metrics' global switch (kafkaConfig);
	// have it done before the other member's client reads it.
	mustRun(t, 0, "", "consume", topic, "-b", addr, "-e")
	joinMember(t, addr, group, topic, sarama.NewBalanceStrategyRange(), "range")
	r := run(t, "", "consume", topic, "-b", addr, "-g", group, "--balancer", "roundrobin", "-e", "--timeout", "20s")
	if r.Code != ExitError {
		t.Fatalf("exit %d, want %d (stdout %q)", r.Code, ExitError, r.Stdout)
	}
	if !strings.Contains(r.Stderr, "hint: every member of a group must give the same --balancer") {
		t.Errorf("stderr does not say every member gives the same --balancer:\n%s", r.Stderr)
	}
}

// TestConsumeGroupMemberFlags: --balancer and --instance-id are for a
// group member; an assignor that does not exist is named, and
// cooperative-sticky is refused with why (it would break the commit of
// exactly what was printed), not quietly taken for another.
func TestConsumeGroupMemberFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--balancer", "sticky"}, "--balancer is for a group member"},
		{[]string{"--instance-id", "a"}, "--instance-id is for a group member"},
		{[]string{"-g", "g", "--balancer", "fair"}, `want range, roundrobin, sticky, got "fair"`},
		{[]string{"-g", "g", "--balancer", "cooperative-sticky"}, "cooperative-sticky is not supported"},
	} {
		r := mustRun(t, ExitUsage, "", append([]string{"consume", "t"}, tc.args...)...)
		if !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("%v: stderr = %q, want %q", tc.args, r.Stderr, tc.want)
		}
	}
}

// TestConsumeGroupExitTwoMembers: -e for each member of a group. The first
// member, reading slowly, holds every partition; a second joins with -e
// and takes some over. Each ends at the end its partitions had when its
// session started, both exit 0, and between them every record is printed
// exactly once.
func TestConsumeGroupExitTwoMembers(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seedWide(t, addr)
	group := kafkatest.Topic(t) + "-g"
	args := []string{"consume", topic, "-b", addr, "-g", group, "-e", "--timeout", "60s", "-f", "%p %o %s\n"}
	ctx := context.Background()
	first := newSignalWriter()
	done1 := runInBackground(ctx, slowly{first}, args...)
	waitForOutput(t, first, "the first member")
	second := newSignalWriter()
	done2 := runInBackground(ctx, second, args...)
	for who, done := range map[string]<-chan int{"the first member": done1, "the second member": done2} {
		if code := exitCode(t, done, who); code != ExitOK {
			t.Fatalf("%s exited %d", who, code)
		}
	}
	t.Logf("first member printed %d records, second %d", strings.Count(first.String(), "\n"), strings.Count(second.String(), "\n"))
	seen := map[string]int{}
	for _, out := range []string{first.String(), second.String()} {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(line); len(f) == 3 {
				seen[f[0]+" "+f[1]]++
			}
		}
	}
	if len(seen) != 4000 {
		t.Errorf("%d distinct records printed, want 4000", len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("record %s printed %d times, want once", k, n)
		}
	}
}
