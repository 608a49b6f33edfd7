package kafkaconn

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clock is a fake clock for a pool's session lifetimes.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingDialer counts dials, each of which authenticates; the ones
// numbered in fail (from 1) fail.
type countingDialer struct {
	n    atomic.Int32
	fail map[int32]bool
}

func (d *countingDialer) Dial(network, addr string) (net.Conn, error) {
	if d.fail[d.n.Add(1)] {
		return nil, net.ErrClosed
	}
	return net.Dial(network, addr)
}

// sessionPool returns a pool to l with a fake clock, counting its dials.
func sessionPool(t *testing.T, l *kafkatest.Listener) (*Pool, *clock, *countingDialer) {
	t.Helper()
	conf := l.SaramaConfig()
	if conf == nil { // a plaintext listener
		conf = kafkatest.Config()
	}
	d := &countingDialer{}
	conf.Net.Proxy.Enable = true
	conf.Net.Proxy.Dialer = d
	p := NewPool(conf)
	t.Cleanup(p.Close)
	clk := &clock{now: time.Unix(1_000_000, 0)}
	p.now = clk.Now
	return p, clk, d
}

// Before its SASL session's lifetime is over, a connection opens a new one
// (which authenticates again) before its next request, in place: its
// users keep the same Conn. Until then it keeps the one it has.
func TestSessionRenewedBeforeItsEnd(t *testing.T) {
	for _, mech := range []string{kafkatest.Plain, kafkatest.ScramSHA256, kafkatest.ScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			l := kafkatest.SASLBrokerSessions(t, time.Minute, mech)
			p, clk, dials := sessionPool(t, l)
			c, err := p.Get(l.Addr)
			if err != nil {
				t.Fatal(err)
			}
			metadata(t, c, "")
			clk.advance(50 * time.Second) // 83% of the lifetime
			metadata(t, c, "")
			if n := dials.n.Load(); n != 1 {
				t.Fatalf("%d dials within the session's lifetime, want 1", n)
			}
			clk.advance(2 * time.Second) // 87%
			metadata(t, c, "")
			if n := dials.n.Load(); n != 2 {
				t.Fatalf("%d dials after 87%% of the session's lifetime, want 2", n)
			}
			clk.advance(50 * time.Second) // 83% of the new session's
			metadata(t, c, "")
			if n := dials.n.Load(); n != 2 {
				t.Fatalf("%d dials within the new session's lifetime, want 2", n)
			}
			if again, err := p.Get(l.Addr); err != nil || again != c {
				t.Fatalf("Get = %p, %v; want the renewed connection %p", again, err, c)
			}
		})
	}
}

// A session without a lifetime (connections.max.reauth.ms unset, or no
// SASL) is never renewed.
func TestSessionWithoutLifetimeLasts(t *testing.T) {
	sasl := kafkatest.SASLBroker(t, kafkatest.Plain)
	for name, l := range map[string]*kafkatest.Listener{
		"sasl":      sasl,
		"plaintext": {Addr: kafkatest.Broker(t)},
	} {
		t.Run(name, func(t *testing.T) {
			p, clk, dials := sessionPool(t, l)
			c, err := p.Get(l.Addr)
			if err != nil {
				t.Fatal(err)
			}
			metadata(t, c, "")
			clk.advance(24 * time.Hour)
			metadata(t, c, "")
			if n := dials.n.Load(); n != 1 {
				t.Fatalf("%d dials, want 1", n)
			}
		})
	}
}

// A request due on a new session waits for the answers to the requests
// before it, which it reads itself: one goroutine may write several
// requests before it reads their answers, which still come in order.
func TestSessionRenewalKeepsTheAnswersBefore(t *testing.T) {
	l := kafkatest.SASLBrokerSessions(t, time.Minute, kafkatest.Plain)
	topic := l.Seed(t)
	p, clk, dials := sessionPool(t, l)
	c, err := p.Get(l.Addr)
	if err != nil {
		t.Fatal(err)
	}
	asked := []string{topic, "missing-" + topic, topic}
	for i, tp := range asked {
		if i == 2 {
			clk.advance(55 * time.Second)
		}
		if err := c.Write(metadataRequest(tp)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n := dials.n.Load(); n != 2 {
		t.Fatalf("%d dials, want 2: the third request on a new session", n)
	}
	buf := make([]byte, 0, 64<<10)
	for i, tp := range asked {
		resp := kmsg.NewPtrMetadataResponse()
		if buf, err = c.Read(resp, buf); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if len(resp.Topics) != 1 || *resp.Topics[0].Topic != tp {
			t.Fatalf("answer %d: topics %+v; want %s", i, resp.Topics, tp)
		}
	}
}

// As a producer's writer and reader do, one goroutine writes while another
// reads; sessions are renewed under them, and every answer comes, in order.
func TestSessionRenewalUnderAReader(t *testing.T) {
	l := kafkatest.SASLBrokerSessions(t, time.Minute, kafkatest.ScramSHA512)
	topic := l.Seed(t)
	p, clk, dials := sessionPool(t, l)
	c, err := p.Get(l.Addr)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	asked := make(chan string, n)
	read := make(chan error, 1)
	go func() {
		var buf []byte
		for range n {
			want := <-asked
			resp := kmsg.NewPtrMetadataResponse()
			var err error
			if buf, err = c.Read(resp, buf); err != nil {
				read <- err
				return
			}
			if len(resp.Topics) != 1 || *resp.Topics[0].Topic != want {
				read <- fmt.Errorf("topics %+v; want %s", resp.Topics, want)
				return
			}
		}
		read <- nil
	}()
	for i := range n {
		tp := topic
		if i%2 == 1 {
			tp = "missing-" + topic
		}
		if i%50 == 49 {
			clk.advance(time.Minute) // this request goes on a new session
		}
		if err := c.Write(metadataRequest(tp)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		asked <- tp // its answer is awaited once it was written
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if got := dials.n.Load(); got != 1+n/50 {
		t.Errorf("%d dials, want %d", got, 1+n/50)
	}
}

// A renewal that cannot open a new session fails the connection, a
// retriable failure: the answers it read before still serve their
// requests, and the next Get dials anew.
func TestSessionRenewalThatFails(t *testing.T) {
	l := kafkatest.SASLBrokerSessions(t, time.Minute, kafkatest.ScramSHA256)
	p, clk, dials := sessionPool(t, l)
	dials.fail = map[int32]bool{2: true}
	c, err := p.Get(l.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(metadataRequest("a")); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	if err := c.Write(metadataRequest("b")); err == nil {
		t.Fatal("a request after a failed renewal was written")
	}
	resp := kmsg.NewPtrMetadataResponse()
	if _, err := c.Read(resp, nil); err != nil || len(resp.Topics) != 1 || *resp.Topics[0].Topic != "a" {
		t.Fatalf("the answer read before the renewal: topics %+v, %v; want a's", resp.Topics, err)
	}
	again, err := p.Get(l.Addr)
	if err != nil || again == c {
		t.Fatalf("Get = %p, %v; want a new connection", again, err)
	}
	metadata(t, again, "")
}

// Interrupt ends a renewal waiting for an answer (a long poll's), so that
// a run's writer ends.
func TestInterruptEndsARenewal(t *testing.T) {
	l := kafkatest.SASLBrokerSessions(t, time.Minute, kafkatest.Plain)
	topic := l.Seed(t)
	p, clk, _ := sessionPool(t, l)
	c, err := p.Get(l.Addr)
	if err != nil {
		t.Fatal(err)
	}
	req := longPoll(topic)
	if err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Minute)
	done := make(chan error, 1)
	go func() { done <- c.Write(metadataRequest(topic)) }()
	p.Interrupt()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the request after the long poll was written after Interrupt")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the renewal waits on after Interrupt")
	}
}

// frame is a request or response as it goes on the wire: its size, then
// head (api key, version, correlation id, client id; or correlation id,
// tagged fields) and body.
func frame(head, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(head)+len(body))), append(head, body...)...)
}

// The lifetime is the last successful SaslAuthenticate answer's, matched
// to its request by correlation id, whatever came before and after, in
// flexible versions too.
func TestSessionLifetimeFromTheOpening(t *testing.T) {
	fmtr := kmsg.NewRequestFormatter(kmsg.FormatterClientID("t"))
	auth := func(v int16, corr int32) []byte {
		r := kmsg.NewPtrSASLAuthenticateRequest()
		r.SetVersion(v)
		r.SASLAuthBytes = []byte("x")
		return fmtr.AppendRequest(nil, r, corr)
	}
	answer := func(v int16, corr int32, code int16, ms int64) []byte {
		r := kmsg.NewPtrSASLAuthenticateResponse()
		r.SetVersion(v)
		r.ErrorCode, r.SessionLifetimeMillis = code, ms
		head := binary.BigEndian.AppendUint32(nil, uint32(corr))
		if r.IsFlexible() {
			head = append(head, 0)
		}
		return frame(head, r.AppendTo(nil))
	}
	versions := func(corr int32) []byte {
		r := kmsg.NewPtrApiVersionsRequest()
		r.SetVersion(3)
		return fmtr.AppendRequest(nil, r, corr)
	}
	versionsAnswer := frame(binary.BigEndian.AppendUint32(nil, 0), make([]byte, 300))
	cat := func(bs ...[]byte) (out []byte) {
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		out, in []byte
		want    time.Duration
	}{
		{"v1", cat(versions(0), auth(1, 2)), cat(versionsAnswer, answer(1, 2, 0, 3000)), 3 * time.Second},
		{"v2 flexible", cat(versions(0), auth(2, 1)), cat(versionsAnswer, answer(2, 1, 0, 60000)), time.Minute},
		{"scram's two rounds", cat(auth(1, 1), auth(1, 2)), cat(answer(1, 1, 0, 0), answer(1, 2, 0, 4000)), 4 * time.Second},
		{"none given", cat(versions(0), auth(1, 1)), cat(versionsAnswer, answer(1, 1, 0, 0)), 0},
		{"failed", cat(auth(1, 1)), cat(answer(1, 1, 58, 3000)), 0},
		{"unmatched", cat(auth(1, 1)), cat(answer(1, 7, 0, 3000)), 0},
		{"cut short", cat(auth(1, 1)), answer(1, 1, 0, 3000)[:12], 0},
		{"no sasl", versions(0), versionsAnswer, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sessionLifetime(tc.out, tc.in); got != tc.want {
				t.Errorf("lifetime %s, want %s", got, tc.want)
			}
		})
	}
}
