package faults_test

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// produceArgs runs streamctl produce as a CI job would: acks=all (so the
// idempotent producer), offsets on stdout, the summary on stderr.
func produceArgs(topic string, more ...string) []string {
	return append([]string{"produce", topic, "--acks", "all", "--print-offsets", "-v", "--no-create"}, more...)
}

var (
	okSummary   = regexp.MustCompile(`(\d+) messages? sent, (\d+) acknowledged to topic`)
	failSummary = regexp.MustCompile(`(\d+) of (\d+) messages? delivered to topic "[^"]*", (\d+) failed`)
)

// produced is what a streamctl produce run said about itself.
type produced struct {
	code          int
	sent, acked   int // from its summary line
	offsets       []record
	summary, errs string
}

func finished(t *testing.T, p *proc, code int) produced {
	t.Helper()
	r := produced{code: code, sent: -1, acked: -1, errs: p.errText()}
	if m := okSummary.FindStringSubmatch(r.errs); m != nil {
		r.sent, _ = strconv.Atoi(m[1])
		r.acked, _ = strconv.Atoi(m[2])
		r.summary = m[0]
	} else if m := failSummary.FindStringSubmatch(r.errs); m != nil {
		r.acked, _ = strconv.Atoi(m[1])
		r.sent, _ = strconv.Atoi(m[2])
		r.summary = m[0]
	}
	if l := p.unterminated(); l != "" {
		t.Errorf("--print-offsets output ends in an unterminated line %q", l)
	}
	for i, l := range p.output() {
		var rec record
		if _, err := fmt.Sscanf(l.text, "%d %d", &rec.p, &rec.o); err != nil {
			t.Fatalf("--print-offsets line %d: %q is not \"partition offset\"", i+1, l.text)
		}
		r.offsets = append(r.offsets, rec)
	}
	return r
}

// checkProduced compares a produce run of the first written lines of sent
// with what kcat reads from topic: every message reported acknowledged is
// there exactly once, at the offset --print-offsets named for it and in
// input order; the summary and the exit code tell the truth; and nothing
// is there twice (the producer is idempotent) or that was never sent.
// With all, every line must have been acknowledged and the exit code 0.
func checkProduced(t *testing.T, fig *figures, topic string, sent []string, written int, r produced, all bool) []record {
	t.Helper()
	truth := readTopic(t, topic)
	tl := count(sent[:written], truth)
	fig.sent, fig.acked, fig.present, fig.duplicated, fig.exit = written, r.acked, tl.present, tl.duplicate, r.code
	if r.sent >= 0 {
		fig.sent = r.sent // what streamctl took of the lines written to it
	}
	t.Logf("%s: wrote %d lines; exit %d; summary %q; %d offsets printed; kcat reads %d records, %d distinct of those sent, %d duplicates",
		topic, written, r.code, r.summary, len(r.offsets), len(truth), tl.present, tl.duplicate)

	if r.summary == "" {
		t.Errorf("no summary of sent and acknowledged messages on stderr:\n%s", r.errs)
	}
	if r.sent > written || r.acked > r.sent {
		t.Errorf("summary %q: more than the %d lines written", r.summary, written)
	}
	if (r.code == 0) != (r.acked == written && r.sent == written) {
		t.Errorf("exit %d with %d of %d lines acknowledged (summary %q): exit 0 must mean all were", r.code, r.acked, written, r.summary)
	}
	if all && (r.code != 0 || r.acked != written) {
		t.Errorf("%d of %d lines acknowledged, exit %d: with the topic's other partitions (or two brokers of three) up, every message must be acknowledged\n%s",
			max(r.acked, 0), written, r.code, tail(r.errs))
	}
	if len(tl.foreign) > 0 {
		t.Errorf("kcat reads messages that were never sent: %s", some(tl.foreign))
	}
	if tl.duplicate > 0 {
		var dups []string
		for v, n := range tl.times {
			if n > 1 {
				dups = append(dups, fmt.Sprintf("%s x%d", v, n))
			}
		}
		perPart := map[int32]int{}
		seen := map[string]bool{}
		for _, rec := range truth {
			if seen[rec.v] {
				perPart[rec.p]++
			}
			seen[rec.v] = true
		}
		t.Errorf("the idempotent producer wrote %d duplicates (second copies per partition: %v): %s", tl.duplicate, perPart, some(dups))
	}

	// Line k of --print-offsets tells what became of input line k:
	// "PARTITION OFFSET" when acknowledged, "-1 -1 ERROR" when it failed.
	where := at(truth)
	acked := 0
	var absent, wrong, twice []string
	for k, o := range r.offsets {
		if o.p < 0 {
			continue
		}
		acked++
		v, ok := where[[2]int64{int64(o.p), o.o}]
		if !ok {
			absent = append(absent, fmt.Sprintf("line %d: %d/%d", k+1, o.p, o.o))
			continue
		}
		if k >= written || v != sent[k] {
			wrong = append(wrong, fmt.Sprintf("offsets line %d: %d/%d holds %q", k+1, o.p, o.o, v))
			continue
		}
		if tl.times[v] != 1 {
			twice = append(twice, fmt.Sprintf("%s x%d", v, tl.times[v]))
		}
	}
	if r.summary != "" && (acked != r.acked || len(r.offsets) != r.sent) {
		t.Errorf("summary %q, but --print-offsets printed %d lines, %d of them acknowledged: want one line per message read",
			r.summary, len(r.offsets), acked)
	}
	if len(absent) > 0 {
		t.Errorf("acknowledged offsets that kcat does not find: %s", some(absent))
	}
	if len(wrong) > 0 {
		t.Errorf("offsets that do not hold their input line (in input order): %s", some(wrong))
	}
	if len(twice) > 0 {
		t.Errorf("acknowledged messages present more than once: %s", some(twice))
	}
	return truth
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// TestLeaderKilledMidProduce: 300,000 numbered lines with --acks all while
// the broker leading most partitions is SIGKILLed; three rounds, each on a
// fresh topic after the last victim was restarted (so the producer meets a
// freshly started broker), each killing a broker not killed before.
func TestLeaderKilledMidProduce(t *testing.T) {
	cluster(t)
	const lines, rate = 300_000, 20_000
	var killed []int32
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			restore(t) // whatever the last round left
			fig := newFigures(t)
			topic := fmt.Sprintf("leader-kill-%d-%d", round, time.Now().UnixNano())
			createTopic(t, topic, 6)
			victim := busiestLeader(t, topic, killed...)
			sent := numbered(fmt.Sprintf("r%d", round), lines)

			begin := time.Now()
			p := streamctlProc(t, "produce", true, produceArgs(topic)...)
			f := feed(p.stdin, sent, rate)
			p.waitLines(t, lines/5, 120*time.Second)
			killBroker(t, victim)
			killed = append(killed, victim)
			written := f.wait(t, 300*time.Second)
			code := p.wait(t, 120*time.Second)
			fig.seconds = time.Since(begin).Seconds()
			fig.addNote("killed broker %d after %d acknowledged", victim, lines/5)

			r := finished(t, p, code)
			// Back to three brokers before reading, so the witness reads
			// every partition, and the next round meets this broker fresh.
			startBroker(t, victim)
			healthy(t, topic)
			checkProduced(t, fig, topic, sent, written, r, true)
		})
	}
}

// TestPartitionOffline: a partition whose replica's broker is stopped is
// offline; keyless messages go to the other partitions, every
// one acknowledged.
func TestPartitionOffline(t *testing.T) {
	cluster(t)
	fig := newFigures(t)
	topic := fmt.Sprintf("offline-%d", time.Now().UnixNano())
	// Partition 0 lives on broker 3 alone, 1-5 on broker 1 or 2: stopping
	// broker 3 takes partition 0, and only it, offline. Kafka wants one
	// replication factor for all partitions, so it is 1 here.
	one := "1"
	createTopicDetail(t, topic, &sarama.TopicDetail{
		NumPartitions: -1, ReplicationFactor: -1,
		ReplicaAssignment: map[int32][]int32{0: {3}, 1: {1}, 2: {2}, 3: {1}, 4: {2}, 5: {1}},
		ConfigEntries:     map[string]*string{"min.insync.replicas": &one},
	})
	stopBroker(t, 3)
	c := client(t)
	poll(t, "partition 0 offline", 60*time.Second, func() (bool, string) {
		if err := c.RefreshMetadata(topic); err != nil {
			// sarama reports the leaderless partition so
			return errors.Is(err, sarama.ErrLeaderNotAvailable), err.Error()
		}
		_, err := c.Leader(topic, 0)
		return err != nil, fmt.Sprintf("partition 0 still has a leader (%v)", err)
	})

	const lines = 30_000
	sent := numbered("off", lines)
	begin := time.Now()
	p := streamctlProc(t, "produce", true, produceArgs(topic)...)
	written := feed(p.stdin, sent, 0).wait(t, 120*time.Second)
	code := p.wait(t, 120*time.Second)
	fig.seconds = time.Since(begin).Seconds()
	r := finished(t, p, code)

	startBroker(t, 3)
	healthy(t, topic)
	truth := checkProduced(t, fig, topic, sent, written, r, true)
	on0 := 0
	for _, rec := range truth {
		if rec.p == 0 {
			on0++
		}
	}
	for _, o := range r.offsets {
		if o.p == 0 {
			t.Errorf("an acknowledgement names the offline partition 0: offset %d", o.o)
			break
		}
	}
	if on0 > 0 {
		t.Errorf("%d messages on partition 0, which was offline", on0)
	}
	fig.addNote("partition 0 offline; %d on partitions 1-5", len(truth)-on0)
}

// TestRollingRestart: every broker in turn stopped (SIGTERM) and started
// again while streamctl produces and a streamctl follower consumes: no
// message lost, none twice, no error exit.
func TestRollingRestart(t *testing.T) {
	cluster(t)
	fig := newFigures(t)
	topic := fmt.Sprintf("rolling-%d", time.Now().UnixNano())
	createTopic(t, topic, 6)
	const lines, rate = 300_000, 4_000
	sent := numbered("roll", lines)

	begin := time.Now()
	follower := streamctlProc(t, "follower", false, "consume", topic, "--no-create", "-f", `%p %o %s\n`)
	p := streamctlProc(t, "produce", true, produceArgs(topic)...)
	f := feed(p.stdin, sent, rate)
	p.waitLines(t, 10_000, 120*time.Second)
	for _, id := range brokerIDs {
		stopBroker(t, id)
		startBroker(t, id)
		healthy(t, topic)
	}
	written := f.end()
	code := p.wait(t, 120*time.Second)
	r := finished(t, p, code)
	truth := checkProduced(t, fig, topic, sent, written, r, true)
	fig.addNote("produce exit %d", code)

	poll(t, "the follower to print what kcat reads", 120*time.Second, func() (bool, string) {
		n := follower.count()
		return n >= len(truth) || !follower.running(), fmt.Sprintf("%d of %d", n, len(truth))
	})
	if !follower.running() {
		t.Fatalf("the follower exited (%d) during the rolling restart:\n%s", follower.code, tail(follower.errText()))
	}
	follower.signal(t, syscall.SIGTERM)
	fcode := follower.wait(t, 60*time.Second)
	fig.seconds = time.Since(begin).Seconds()
	if fcode != 0 {
		t.Errorf("the follower exited %d after SIGTERM, want 0:\n%s", fcode, tail(follower.errText()))
	}
	dups := exactly(t, "the follower", printedBy(t, follower), truth)
	fig.duplicated += dups
	fig.addNote("follower exit %d, printed %d", fcode, follower.count())
}
