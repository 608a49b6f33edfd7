package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// TestSASLSessionsOutlived: with each SASL mechanism, a produce of a paced
// stream and a consume following it, over a listener whose SASL sessions
// are short (connections.max.reauth.ms, KIP-368), each run outliving
// several sessions. Kafka closes a connection whose session ended at its
// next request; every record still arrives once, in order, and both runs
// exit 0 without an error. The in-process broker reports a session's
// lifetime but never ends one: there, the sessions are renewed under the
// runs, and nothing may be lost or repeated for it.
func TestSASLSessionsOutlived(t *testing.T) {
	t.Run("kfake", func(t *testing.T) {
		life := 400 * time.Millisecond
		outliveSessions(t, kafkatest.SASLBrokerSessions(t, life), life)
	})
	t.Run("kafka", func(t *testing.T) {
		l, life := kafkatest.RealSASLReauth(t)
		outliveSessions(t, l, life)
	})
}

func outliveSessions(t *testing.T, l *kafkatest.Listener, life time.Duration) {
	// Three lifetimes in bursts, a burst every tenth of a session: each
	// case takes 9 s on the real broker, whose lifetime is 3 s.
	const bursts, perBurst = 30, 5
	every := life / 10
	var want strings.Builder
	for i := range bursts * perBurst {
		fmt.Fprintf(&want, "m%03d\n", i)
	}
	for _, mech := range l.Mechanisms {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			topic := l.Seed(t)
			auth := saslArgs(l.Addr, mech, l.User, l.Password)
			if mech == kafkatest.OAuthBearer { // the token's own lifetime is an hour
				auth = []string{"-b", l.Addr, "--connect-timeout", connectTimeout, "--sasl-mechanism", mech,
					"--sasl-oauth-token-command", "printf '%s\\n' " + unsecuredJWT(l.User)}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
			defer cancel()

			cout, cerr := newSignalWriter(), &bytes.Buffer{}
			consumed := runWithStderr(ctx, cout, cerr,
				append(auth, "consume", topic, "-n", fmt.Sprint(bursts*perBurst))...)

			pr, pw := io.Pipe()
			produced := make(chan result, 1)
			go func() { produced <- runCtx(ctx, pr, append(auth, "produce", topic)...) }()
			lines := strings.SplitAfter(want.String(), "\n")
			tick := time.NewTicker(every) // pacing the input, not synchronising
			for b := range bursts {
				if _, err := io.WriteString(pw, strings.Join(lines[b*perBurst:(b+1)*perBurst], "")); err != nil {
					t.Fatalf("writing burst %d: %v", b, err)
				}
				<-tick.C
			}
			tick.Stop()
			pw.Close()

			p := <-produced
			if p.Code != 0 || strings.Contains(p.Stderr, "streamctl: ") {
				t.Errorf("produce: exit %d, want 0 without an error; stderr:\n%s", p.Code, p.Stderr)
			}
			var code int
			select {
			case code = <-consumed:
			case <-ctx.Done():
				t.Fatalf("consume -n %d did not end; stdout has %d lines", bursts*perBurst, strings.Count(cout.String(), "\n"))
			}
			if code != 0 || strings.Contains(cerr.String(), "streamctl: ") {
				t.Errorf("consume: exit %d, want 0 without an error; stderr:\n%s", code, cerr.String())
			}
			if diff := cmp.Diff(want.String(), cout.String()); diff != "" {
				t.Errorf("consumed (-want +got):\n%s", diff)
			}
			// Nothing repeated: the topic holds each line once.
			r := mustRun(t, 0, "", append(auth, "consume", topic, "-e")...)
			if diff := cmp.Diff(want.String(), r.Stdout); diff != "" {
				t.Errorf("the topic (-want +got):\n%s", diff)
			}
		})
	}
}
