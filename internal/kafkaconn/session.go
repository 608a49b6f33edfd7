package kafkaconn

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// renewPercent is how far into its SASL session's lifetime a Conn opens a
// new one before its next request, counted from before the dial: the rest
// covers that request's way to the broker. Java's client re-authenticates
// at 85-95%.
const renewPercent = 85

// maxTap bounds what a tap keeps: an opening's requests and answers are a
// few kilobytes.
const maxTap = 64 << 10

// renew opens a new session in place of one whose lifetime is nearly
// over, before a request that the broker would refuse on it. The answers
// still to come on the old one are read first, kept for Read: the writer
// may be the reader too, and a broker answers in order on each connection,
// so no request may go on the new one before them. It returns the
// connection's failure, if any. The caller holds wmu.
func (c *Conn) renew() error {
	if err := c.err(); err != nil {
		return err
	}
	if c.renewAt.IsZero() || c.pool.now().Before(c.renewAt) {
		return nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	// Only Read, holding rmu, takes from pending, and only Write, holding
	// wmu, adds to it: it stands still.
	c.qmu.Lock()
	todo := c.pending[len(c.early):]
	c.qmu.Unlock()
	for _, want := range todo {
		answer, err := c.readAnswer(want, nil)
		if err != nil {
			return err
		}
		c.early = append(c.early, answer)
	}
	s, err := c.pool.session(c.addr)
	if err != nil {
		return c.fail(fmt.Errorf("authenticating again to broker %s: %w", c.addr, err))
	}
	c.qmu.Lock()
	old, failed := c.session, c.failed
	if failed == nil {
		c.session = s
	}
	c.qmu.Unlock()
	if failed != nil { // closed meanwhile
		_ = s.b.Close()
		return failed
	}
	_ = old.b.Close()
	return nil
}

// tap keeps what sarama writes and reads while it opens a connection: the
// SASL session's lifetime is in the last SaslAuthenticate answer (v1+),
// which sarama reads but keeps to itself.
type tap struct {
	net.Conn
	mu      sync.Mutex
	on      bool
	out, in []byte
}

func (t *tap) Write(p []byte) (int, error) {
	n, err := t.Conn.Write(p)
	t.keep(&t.out, p[:n])
	return n, err
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	t.keep(&t.in, p[:n])
	return n, err
}

func (t *tap) keep(to *[]byte, p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		return
	}
	if len(t.out)+len(t.in)+len(p) > maxTap {
		t.on, t.out, t.in = false, nil, nil // not an opening: no lifetime known
		return
	}
	*to = append(*to, p...)
}

// lifetime stops keeping and returns the session's lifetime, zero when the
// broker gave none (or the opening could not be read).
func (t *tap) lifetime() time.Duration {
	t.mu.Lock()
	out, in := t.out, t.in
	t.on, t.out, t.in = false, nil, nil
	t.mu.Unlock()
	return sessionLifetime(out, in)
}

// sessionLifetime finds, in the requests out and their answers in, the
// lifetime of the session the last successful SaslAuthenticate began.
func sessionLifetime(out, in []byte) time.Duration {
	asked := map[int32]int16{} // correlation id: version
	for len(out) >= 4 {
		size := int(binary.BigEndian.Uint32(out))
		if size < 8 || len(out)-4 < size {
			break
		}
		req := out[4 : 4+size]
		if int16(binary.BigEndian.Uint16(req)) == kmsg.SASLAuthenticate.Int16() {
			asked[int32(binary.BigEndian.Uint32(req[4:]))] = int16(binary.BigEndian.Uint16(req[2:]))
		}
		out = out[4+size:]
	}
	var life time.Duration
	for len(in) >= 4 {
		size := int(binary.BigEndian.Uint32(in))
		if size < 4 || len(in)-4 < size {
			break
		}
		answer := in[4 : 4+size]
		in = in[4+size:]
		v, ok := asked[int32(binary.BigEndian.Uint32(answer))]
		if !ok {
			continue
		}
		resp := kmsg.NewPtrSASLAuthenticateResponse()
		resp.SetVersion(v)
		body := answer[4:]
		if resp.IsFlexible() {
			var err error
			if body, err = skipTags(body); err != nil {
				continue
			}
		}
		if resp.ReadFrom(body) == nil && resp.ErrorCode == 0 {
			life = time.Duration(resp.SessionLifetimeMillis) * time.Millisecond
		}
	}
	return life
}
