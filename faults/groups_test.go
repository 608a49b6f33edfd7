package faults_test

import (
	"fmt"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"
)

// TestGroupKillAndAdd: three members drain six partitions with -e (slow
// readers, so they are mid-way); one is SIGKILLed and another joins. The
// union of what they printed holds every message; a message printed twice
// must have been printed by the killed member, whose last second of
// progress was never committed (the others commit what they printed
// before handing a partition over).
func TestGroupKillAndAdd(t *testing.T) {
	cluster(t)
	fig := newFigures(t)
	topic := fmt.Sprintf("group-kill-%d", time.Now().UnixNano())
	group := "g-" + topic
	createTopic(t, topic, 6)
	const lines = 60_000
	sent := numbered("g", lines)
	fill(t, topic, sent)
	truth := readTopic(t, topic)
	fig.sent = lines

	begin := time.Now()
	args := []string{"consume", topic, "--no-create", "-g", group, "-e", "-f", kcatFormat}
	var members []*proc
	for i := 1; i <= 3; i++ {
		members = append(members, slowStreamctl(t, fmt.Sprintf("member%d", i), 2000, args...))
	}
	stableGroup(t, group, 3, members...)
	poll(t, "a quarter printed", 90*time.Second, func() (bool, string) {
		n := totalLines(members...)
		return n >= lines/4, fmt.Sprintf("%d printed", n)
	})
	// The victim is a member still reading: with -e, one whose share was
	// small may have finished already (and must have exited 0).
	var victim *proc
	for _, m := range members {
		if m.running() && victim == nil {
			victim = m
		}
	}
	if victim == nil {
		t.Fatalf("every member exited before a quarter was printed")
	}
	victim.signal(t, syscall.SIGKILL)
	victim.wait(t, 30*time.Second)
	members = append(members, slowStreamctl(t, "member4", 2000, args...))

	codes := ""
	for _, m := range members {
		if m == victim {
			continue
		}
		c := m.wait(t, 180*time.Second)
		codes += fmt.Sprintf(" %s=%d", m.name, c)
		if c != 0 {
			t.Errorf("%s exited %d, want 0 (-e):\n%s", m.name, c, tail(m.errText()))
			fig.exit = c
		}
	}
	if fig.exit < 0 {
		fig.exit = 0
	}
	fig.seconds = time.Since(begin).Seconds()
	all, dups, wrong := union(t, truth, members...)
	fig.present, fig.duplicated = len(all), dups
	if len(wrong) > 0 {
		t.Errorf("printed what kcat does not read there: %s", some(wrong))
	}
	if miss := missing(truth, all); len(miss) > 0 {
		t.Errorf("no member printed %s", some(miss))
	}
	var notKilled []string
	for k, pr := range all {
		if len(pr.by) > 1 && !slices.Contains(pr.by, victim.name) {
			notKilled = append(notKilled, fmt.Sprintf("%d/%d by %v", k[0], k[1], pr.by))
		}
	}
	sort.Strings(notKilled)
	if len(notKilled) > 0 {
		t.Errorf("printed twice, though not by the killed member: %s", some(notKilled))
	}
	fig.addNote("%s SIGKILLed after printing %d; exits%s", victim.name, victim.count(), codes)
}

// TestGroupSigtermCommits: a member is sent SIGTERM mid-way and commits
// exactly what it printed, so the next run of the group starts where it
// stopped: no gap, no repeat. Once with a reader keeping up while the
// topic is written to, once with a slow reader, so that streamctl is
// blocked on a full stdout when the signal comes.
func TestGroupSigtermCommits(t *testing.T) {
	cluster(t)
	for _, slow := range []bool{false, true} {
		name := "fast reader"
		if slow {
			name = "slow reader"
		}
		t.Run(name, func(t *testing.T) {
			fig := newFigures(t)
			topic := fmt.Sprintf("group-term-%t-%d", slow, time.Now().UnixNano())
			group := "g-" + topic
			createTopic(t, topic, 6)
			const lines = 30_000
			sent := numbered("s", lines)
			fig.sent = lines
			args := []string{"consume", topic, "--no-create", "-g", group, "-f", kcatFormat}

			var first *proc
			var termed time.Time
			if slow {
				fill(t, topic, sent)
				first = slowStreamctl(t, "first", 1500, args...)
				first.waitLines(t, 5_000, 90*time.Second)
				termed = first.signal(t, syscall.SIGTERM)
			} else {
				first = streamctlProc(t, "first", false, args...)
				stableGroup(t, group, 1, first)
				k := kcatProducer(t, topic)
				f := feed(k.stdin, sent, 3000)
				first.waitLines(t, 10_000, 90*time.Second)
				termed = first.signal(t, syscall.SIGTERM)
				f.wait(t, 60*time.Second)
				if code := k.wait(t, 120*time.Second); code != 0 {
					t.Fatalf("kcat producing: exit %d\n%s", code, k.errText())
				}
			}
			code := first.wait(t, 120*time.Second)
			fig.exit = code
			fig.seconds = first.exited.Sub(termed).Seconds()
			if code != 0 {
				t.Errorf("the member exited %d after SIGTERM, want 0:\n%s", code, tail(first.errText()))
			}
			truth := readTopic(t, topic)
			if tl := count(sent, truth); len(truth) != lines || tl.present != lines {
				t.Fatalf("kcat reads %d records (%d distinct of the %d sent): the producer side failed", len(truth), tl.present, lines)
			}

			next := streamctlProc(t, "next", false, append(args, "-e")...)
			if c := next.wait(t, 120*time.Second); c != 0 {
				t.Errorf("the next run (-e) exited %d, want 0:\n%s", c, tail(next.errText()))
			}
			a := printedBy(t, first)
			b := printedBy(t, next)
			fig.acked = len(a) // what the first run printed, and so must have committed
			all, dups, wrong := union(t, truth, first, next)
			fig.present, fig.duplicated = len(all), dups
			if len(wrong) > 0 {
				t.Errorf("printed what kcat does not read there: %s", some(wrong))
			}
			if miss := missing(truth, all); len(miss) > 0 {
				t.Errorf("neither run printed %s", some(miss))
			}
			ap, bp := byPartition(a), byPartition(b)
			tp := byPartition(truth)
			for p := int32(0); p < 6; p++ {
				line := fmt.Sprintf("partition %d: kcat %d; first run %d", p, len(tp[p]), len(ap[p]))
				if n := len(ap[p]); n > 0 {
					line += fmt.Sprintf(" (offsets %d-%d)", ap[p][0].o, ap[p][n-1].o)
				}
				line += fmt.Sprintf("; next run %d", len(bp[p]))
				if n := len(bp[p]); n > 0 {
					line += fmt.Sprintf(" (offsets %d-%d)", bp[p][0].o, bp[p][n-1].o)
				}
				t.Log(line)
			}
			for p, rs := range tp {
				// The first run read each partition from its start; the
				// next must begin right after the last it printed.
				for i, r := range ap[p] {
					if r.o != rs[i].o {
						t.Errorf("partition %d: the first run printed offset %d where %d was next", p, r.o, rs[i].o)
						break
					}
				}
				n := len(ap[p])
				rest := rs[min(n, len(rs)):]
				switch {
				case len(bp[p]) == 0 && len(rest) > 0:
					t.Errorf("partition %d: the next run printed nothing from offset %d on: a gap", p, rest[0].o)
				case len(bp[p]) == 0:
				case len(rest) == 0 || bp[p][0].o < rest[0].o:
					t.Errorf("partition %d: the first run printed up to offset %d, the next began at %d: a repeat",
						p, rs[n-1].o, bp[p][0].o)
				case bp[p][0].o > rest[0].o:
					t.Errorf("partition %d: the first run printed up to offset %d, the next began at %d: a gap",
						p, rest[0].o-1, bp[p][0].o)
				}
			}
			fig.addNote("first run printed %d, next %d", len(a), len(b))
		})
	}
}
