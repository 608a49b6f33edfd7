package faults_test

import (
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kcatFormat is the line streamctl and kcat print per message.
const kcatFormat = `%p %o %s\n`

// TestConsumeAcrossBrokerKill: a follower and a -e drain, both mid-read
// (their readers are slow), while the broker leading most partitions is
// SIGKILLed, more messages arrive, and it is restarted. The follower
// prints everything the topic ends up holding, the drain everything it
// held when the drain started; each exactly once; the drain exits 0.
func TestConsumeAcrossBrokerKill(t *testing.T) {
	cluster(t)
	fig := newFigures(t)
	topic := fmt.Sprintf("consume-kill-%d", time.Now().UnixNano())
	createTopic(t, topic, 6)
	first, second := numbered("a", 40_000), numbered("b", 20_000)
	fill(t, topic, first)
	before := readTopic(t, topic)

	begin := time.Now()
	follower := slowStreamctl(t, "follower", 4000, "consume", topic, "--no-create", "-f", kcatFormat)
	drain := slowStreamctl(t, "drain", 4000, "consume", topic, "--no-create", "-e", "-f", kcatFormat)
	follower.waitLines(t, 10_000, 90*time.Second)
	drain.waitLines(t, 10_000, 90*time.Second)
	victim := busiestLeader(t, topic)
	killBroker(t, victim)
	fill(t, topic, second) // through the failover
	startBroker(t, victim)
	healthy(t, topic)
	follower.rate.Store(0)
	drain.rate.Store(0)

	code := drain.wait(t, 120*time.Second)
	fig.exit = code
	fig.seconds = drain.exited.Sub(begin).Seconds()
	if code != 0 {
		t.Errorf("the -e drain exited %d, want 0:\n%s", code, tail(drain.errText()))
	}
	truth := readTopic(t, topic)
	tl := count(append(append([]string(nil), first...), second...), truth)
	fig.sent, fig.present = len(first)+len(second), tl.present
	if len(truth) != fig.sent || tl.present != fig.sent {
		t.Fatalf("kcat reads %d records (%d distinct of the %d sent): the producer side failed", len(truth), tl.present, fig.sent)
	}
	poll(t, "the follower to print what kcat reads", 120*time.Second, func() (bool, string) {
		n := follower.count()
		return n >= len(truth) || !follower.running(), fmt.Sprintf("%d of %d", n, len(truth))
	})
	if !follower.running() {
		t.Fatalf("the follower exited (%d):\n%s", follower.code, tail(follower.errText()))
	}
	follower.signal(t, syscall.SIGTERM)
	if c := follower.wait(t, 60*time.Second); c != 0 {
		t.Errorf("the follower exited %d after SIGTERM, want 0:\n%s", c, tail(follower.errText()))
	}
	fig.duplicated = exactly(t, "the follower", printedBy(t, follower), truth)
	fig.duplicated += exactly(t, "the -e drain", printedBy(t, drain), before)
	fig.addNote("killed broker %d; follower printed %d of %d, drain %d of %d", victim,
		follower.count(), len(truth), drain.count(), len(before))
}

// printing is one message as the members of a group printed it.
type printing struct {
	by    []string  // who printed it, in order
	first time.Time // when it was first read from one of them
	v     string
}

// union joins what the members printed, checking every line against what
// kcat reads there; it returns each message's printings, the count of
// printings beyond the first, and the lines kcat does not read there.
func union(t *testing.T, truth []record, members ...*proc) (map[[2]int64]*printing, int, []string) {
	t.Helper()
	where := at(truth)
	all := map[[2]int64]*printing{}
	dups := 0
	var wrong []string
	for _, m := range members {
		if l := m.unterminated(); l != "" {
			wrong = append(wrong, fmt.Sprintf("%s: an unterminated last line %q", m.name, l))
		}
		lines := m.output()
		for i, r := range parseRecords(t, m.name, lines) {
			k := [2]int64{int64(r.p), r.o}
			if v, ok := where[k]; !ok || v != r.v {
				wrong = append(wrong, fmt.Sprintf("%s: %d/%d %q (kcat: %q)", m.name, r.p, r.o, r.v, v))
			}
			pr := all[k]
			if pr == nil {
				pr = &printing{first: lines[i].at, v: r.v}
				all[k] = pr
			} else {
				dups++
				if lines[i].at.Before(pr.first) {
					pr.first = lines[i].at
				}
			}
			pr.by = append(pr.by, m.name)
		}
	}
	return all, dups, wrong
}

// missing lists the records of truth that no member printed.
func missing(truth []record, all map[[2]int64]*printing) []string {
	var out []string
	for _, r := range truth {
		if all[[2]int64{int64(r.p), r.o}] == nil {
			out = append(out, fmt.Sprintf("%d/%d %s", r.p, r.o, r.v))
		}
	}
	return out
}

func totalLines(ms ...*proc) int {
	n := 0
	for _, m := range ms {
		n += m.count()
	}
	return n
}

// TestCoordinatorKilled: three members of a group follow a topic that is
// being written to while the broker coordinating the group is SIGKILLed.
// No member exits, every message is printed, and a message printed twice
// was first printed in the in-flight window: from the last commit before
// the kill (commits are every second) until the group has settled on its
// new coordinator (its session timeout, 10 s, after that coordinator
// answers). The window opens 3 s before the kill: a commit is due every
// second, and on these two shared cores one may take a second or two to be
// answered.
func TestCoordinatorKilled(t *testing.T) {
	cluster(t)
	fig := newFigures(t)
	topic := fmt.Sprintf("coordinator-%d", time.Now().UnixNano())
	group := "g-" + topic
	createTopic(t, topic, 6)
	var members []*proc
	for i := 1; i <= 3; i++ {
		members = append(members, streamctlProc(t, fmt.Sprintf("member%d", i), false,
			"consume", topic, "--no-create", "-g", group, "-f", kcatFormat))
	}
	stableGroup(t, group, 3, members...)

	const lines = 40_000
	sent := numbered("c", lines)
	k := kcatProducer(t, topic)
	f := feed(k.stdin, sent, 2000)
	poll(t, "a quarter of the messages printed", 60*time.Second, func() (bool, string) {
		n := totalLines(members...)
		return n >= lines/4, fmt.Sprintf("%d printed", n)
	})
	c := client(t)
	victim := coordinator(t, c, group)
	killed := killBroker(t, victim)
	var recovered time.Time
	poll(t, "a new coordinator of "+group, 60*time.Second, func() (bool, string) {
		id := coordinator(t, c, group)
		recovered = time.Now()
		return id != victim, fmt.Sprintf("still broker %d", id)
	})
	t.Logf("broker %d answers as coordinator %.1fs after the kill", coordinator(t, c, group), recovered.Sub(killed).Seconds())
	f.wait(t, 120*time.Second)
	if code := k.wait(t, 180*time.Second); code != 0 {
		t.Fatalf("kcat producing: exit %d\n%s", code, k.errText())
	}
	truth := readTopic(t, topic)
	tl := count(sent, truth)
	fig.sent, fig.present = lines, tl.present
	if len(truth) != lines || tl.present != lines {
		t.Fatalf("kcat reads %d records (%d distinct of the %d sent): the producer side failed", len(truth), tl.present, lines)
	}

	poll(t, "every message printed by some member", 120*time.Second, func() (bool, string) {
		for _, m := range members {
			if !m.running() {
				return true, ""
			}
		}
		all, _, _ := union(t, truth, members...)
		miss := missing(truth, all)
		return len(miss) == 0, "missing " + some(miss)
	})
	for _, m := range members {
		if !m.running() {
			t.Errorf("%s exited (%d) after the coordinator was killed:\n%s", m.name, m.code, tail(m.errText()))
		}
	}
	all, dups, wrong := union(t, truth, members...)
	fig.duplicated = dups
	if len(wrong) > 0 {
		t.Errorf("printed what kcat does not read there: %s", some(wrong))
	}
	if miss := missing(truth, all); len(miss) > 0 {
		t.Errorf("no member printed %s", some(miss))
	}
	from, until := killed.Add(-3*time.Second), recovered.Add(15*time.Second)
	var outside []string
	earliest, latest := time.Duration(0), time.Duration(0)
	for k, pr := range all {
		if len(pr.by) < 2 {
			continue
		}
		if d := pr.first.Sub(killed); earliest == 0 || d < earliest {
			earliest = d
		}
		if d := pr.first.Sub(killed); latest == 0 || d > latest {
			latest = d
		}
		if pr.first.Before(from) || pr.first.After(until) {
			outside = append(outside, fmt.Sprintf("%d/%d by %s, first %.1fs after the kill",
				k[0], k[1], strings.Join(pr.by, ","), pr.first.Sub(killed).Seconds()))
		}
	}
	sort.Strings(outside)
	if len(outside) > 0 {
		t.Errorf("printed twice outside the in-flight window (-3s to %.1fs after the kill): %s",
			until.Sub(killed).Seconds(), some(outside))
	}
	codes := []string{}
	var termed []*proc
	for _, m := range members {
		if m.running() {
			m.signal(t, syscall.SIGTERM)
			termed = append(termed, m)
		} else {
			fig.exit = m.code // reported above
		}
	}
	for _, m := range termed {
		if c := m.wait(t, 60*time.Second); c != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0:\n%s", m.name, c, tail(m.errText()))
			fig.exit = c
		}
	}
	for _, m := range members {
		codes = append(codes, fmt.Sprint(m.code))
	}
	if fig.exit < 0 {
		fig.exit = 0
	}
	if dups > 0 {
		fig.addNote("repeats first printed %.1fs to %.1fs after the kill", earliest.Seconds(), latest.Seconds())
	}
	fig.seconds = recovered.Sub(killed).Seconds()
	fig.addNote("killed coordinator %d; new coordinator after %.1fs; member exits %s", victim, fig.seconds, strings.Join(codes, ","))
}
