package faults_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWholeClusterOutage: all three brokers SIGKILLed while streamctl
// produces (input still arriving) and while a follower and a group member
// consume. Each exits non-zero within the README's bound, with an error
// that names the cause; what produce reported acknowledged is in the topic
// once the brokers are back.
//
// The bounds, from the README: produce ends "within twice the delivery
// timeout of the outage while input is still arriving ... plus at most
// --connect-timeout"; a consumer "gives up after a minute without any
// answer". Each gets 5 s more for the process to wind down.
func TestWholeClusterOutage(t *testing.T) {
	cluster(t)
	produceFig := newFigures(t) // the producer's; the consumers' are printed as they end
	stamp := time.Now().UnixNano()
	in, out := fmt.Sprintf("outage-in-%d", stamp), fmt.Sprintf("outage-out-%d", stamp)
	createTopic(t, in, 6)
	createTopic(t, out, 6)
	const held = 20_000
	fill(t, in, numbered("h", held))

	const delivery, connect = 10 * time.Second, 5 * time.Second
	consumeArgs := []string{"consume", in, "--no-create", "-f", kcatFormat, "--connect-timeout", connect.String()}
	follower := streamctlProc(t, "follower", false, consumeArgs...)
	member := streamctlProc(t, "member", false, append(consumeArgs, "-g", "g-"+in)...)
	follower.waitLines(t, held, 90*time.Second)
	member.waitLines(t, held, 90*time.Second)

	const lines, rate = 120_000, 2000 // a minute of input at most
	sent := numbered("o", lines)
	p := streamctlProc(t, "produce", true, produceArgs(out,
		"--delivery-timeout", delivery.String(), "--connect-timeout", connect.String())...)
	f := feed(p.stdin, sent, rate)
	p.waitLines(t, 5_000, 90*time.Second)

	down := killAll(t)

	produceBound := 2*delivery + connect + 5*time.Second
	code := p.wait(t, produceBound+30*time.Second)
	written := f.end()
	produceFig.seconds = p.exited.Sub(down).Seconds()
	produceFig.exit = code
	if code == 0 {
		t.Errorf("produce exited 0 through a whole-cluster outage")
	}
	if took := p.exited.Sub(down); took > produceBound {
		t.Errorf("produce took %.1fs to exit after the outage, more than the %s bound (2 x --delivery-timeout %s + --connect-timeout %s + 5s)",
			took.Seconds(), produceBound, delivery, connect)
	}
	cause := regexp.MustCompile(`delivery timed out after 10s: .+`)
	if m := cause.FindString(p.errText()); m == "" {
		t.Errorf("produce's error does not name the cause (want %q):\n%s", cause, tail(p.errText()))
	} else {
		produceFig.addNote("%s", m)
	}

	consumeBound := time.Minute + connect + 5*time.Second
	consumeCause := regexp.MustCompile(`(?i)broker|connect|refused|answer|unreachable`)
	for _, c := range []*proc{follower, member} {
		code := c.wait(t, consumeBound+30*time.Second)
		took := c.exited.Sub(down)
		fig := unmeasured()
		fig.exit, fig.seconds = code, took.Seconds()
		if c.exited.Before(down) {
			t.Errorf("%s exited (%d) before the brokers were killed:\n%s", c.name, code, tail(c.errText()))
		}
		if code == 0 {
			t.Errorf("%s exited 0 through a whole-cluster outage", c.name)
		}
		if took > consumeBound {
			t.Errorf("%s took %.1fs to exit after the outage, more than the %s bound (a minute + --connect-timeout %s + 5s)",
				c.name, took.Seconds(), consumeBound, connect)
		}
		msg := lastError(c.errText())
		if !consumeCause.MatchString(msg) {
			t.Errorf("%s's last error %q does not name the cause (want %q):\n%s", c.name, msg, consumeCause, tail(c.errText()))
		}
		if n := c.count(); n < held {
			t.Errorf("%s printed %d of the %d messages before the outage", c.name, n, held)
		}
		fig.sent, fig.present = held, c.count()
		fig.addNote("%s", msg)
		fig.report(t, t.Name()+"/"+c.name)
	}

	startAll(t)
	healthy(t, in, out)
	r := finished(t, p, code)
	checkProduced(t, produceFig, out, sent, written, r, false)
}

// lastError is the last "streamctl:" line of stderr: the error it exited with.
func lastError(stderr string) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "streamctl:") {
			return lines[i]
		}
	}
	return ""
}
