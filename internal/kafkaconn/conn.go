// Package kafkaconn is broker connections of one's own, speaking kmsg
// requests. They are dialled with a sarama configuration (proxy, TLS, SASL,
// timeouts, client id) and sarama opens each one (SASL, after ApiVersions), but
// no sarama.Client shares them, and the requests on them are encoded and
// decoded by the caller's choice of buffers: a fetch's answer is read into a
// buffer the caller reuses, and a produce request carries record batches
// the caller encoded.
//
// sarama holds a connection for a whole request and takes no context; on a
// connection of one's own, Interrupt cuts a long poll off at once.
//
// A broker with connections.max.reauth.ms gives each SASL session a
// lifetime (KIP-368) and closes a connection that sends a request past it.
// sarama authenticates again before its own requests, but sends none on
// these: a Conn opens itself anew, which authenticates again, before a
// request that would come too late (see session.go).
package kafkaconn

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/net/proxy"
)

// ErrInterrupted is a Get after Interrupt.
var ErrInterrupted = errors.New("connections interrupted")

// maxResponse bounds a response's size, against a broker (or something
// that is not one) answering garbage.
const maxResponse = 1 << 30

// Pool is a set of connections, one per broker address.
type Pool struct {
	conf *sarama.Config // with the pool's own dialler, and TLS done by it
	dial proxy.Dialer   // the caller's
	tls  *tls.Config    // nil without TLS
	fmt  *kmsg.RequestFormatter
	now  func() time.Time // the clock of the sessions' lifetimes

	mu      sync.Mutex
	conns   map[string]*Conn
	raw     map[net.Conn]struct{} // everything dialled and open, for Interrupt
	stopped bool
}

// NewPool returns a Pool dialling as base says; base is not changed.
func NewPool(base *sarama.Config) *Pool {
	p := &Pool{conns: map[string]*Conn{}, raw: map[net.Conn]struct{}{},
		fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID(base.ClientID)), now: time.Now}
	if base.Net.Proxy.Enable && base.Net.Proxy.Dialer != nil {
		p.dial = base.Net.Proxy.Dialer
	} else {
		p.dial = &net.Dialer{Timeout: base.Net.DialTimeout, KeepAlive: base.Net.KeepAlive, LocalAddr: base.Net.LocalAddr}
	}
	if base.Net.TLS.Enable {
		p.tls = base.Net.TLS.Config
		if p.tls == nil {
			p.tls = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	conf := *base
	conf.Net.Proxy.Enable = true
	conf.Net.Proxy.Dialer = dialFunc(p.dialTracked)
	// The pool wraps TLS itself, so that what sarama holds, and what the
	// pool writes to after sarama's handshakes, is the same connection.
	conf.Net.TLS.Enable = false
	conf.Net.TLS.Config = nil
	// The pool's requests carry versions of the caller's choosing, from
	// the configured Kafka version, not from the broker's ApiVersions
	// answer: without SASL, whose requests sarama sends at versions that
	// answer bounds, asking costs a round trip before the first request
	// (a third of a millisecond of every consume -n 1 on a local broker,
	// a whole round trip on a distant one) for an answer no one reads.
	if !conf.Net.SASL.Enable {
		conf.ApiVersionsRequest = false
	}
	p.conf = &conf
	return p
}

// dialFunc is a proxy.Dialer.
type dialFunc func(network, addr string) (net.Conn, error)

func (f dialFunc) Dial(network, addr string) (net.Conn, error) { return f(network, addr) }

func (p *Pool) dialTracked(network, addr string) (net.Conn, error) {
	conn, err := p.dial.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	if p.tls != nil {
		ctx, cancel := context.WithTimeout(context.Background(), p.conf.Net.DialTimeout)
		tc, err := Handshake(ctx, conn, p.tls, addr)
		cancel()
		if err != nil {
			return nil, err
		}
		conn = tc
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		conn.Close()
		return nil, ErrInterrupted
	}
	p.raw[conn] = struct{}{}
	return &tracked{Conn: conn, p: p}, nil
}

// Handshake does a TLS client handshake on conn, within ctx, checking the
// broker's name as cfg says or, when it names none, the host of addr.
// conn is closed when it fails.
func Handshake(ctx context.Context, conn net.Conn, cfg *tls.Config, addr string) (*tls.Conn, error) {
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// tracked forgets itself when closed.
type tracked struct {
	net.Conn
	p *Pool
}

func (t *tracked) Close() error {
	t.p.mu.Lock()
	delete(t.p.raw, t.Conn)
	t.p.mu.Unlock()
	return t.Conn.Close()
}

// Get returns the pool's open connection to addr, dialling it when there
// is none or the last one failed. It waits for the dial and handshakes.
func (p *Pool) Get(addr string) (*Conn, error) {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil, ErrInterrupted
	}
	c := p.conns[addr]
	p.mu.Unlock()
	if c != nil && !c.broken() {
		return c, nil
	}
	if c != nil {
		_ = c.Close()
	}
	var err error
	if c, err = p.open(addr); err != nil {
		return nil, err
	}
	// Closing takes p.mu (the connection forgets itself): never under it.
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		_ = c.Close()
		return nil, ErrInterrupted
	}
	if other := p.conns[addr]; other != nil && other != c && !other.broken() {
		p.mu.Unlock()
		_ = c.Close() // another caller opened one meanwhile
		return other, nil
	}
	p.conns[addr] = c
	p.mu.Unlock()
	return c, nil
}

// open returns a new connection to addr.
func (p *Pool) open(addr string) (*Conn, error) {
	s, err := p.session(addr)
	if err != nil {
		return nil, err
	}
	return &Conn{addr: addr, pool: p, session: s}, nil
}

// session has sarama dial addr and do its handshakes, then takes the
// connection over. sarama's response reader waits for requests sarama
// sends, and it sends none after Open: the pool alone reads and writes.
func (p *Pool) session(addr string) (session, error) {
	s := session{b: sarama.NewBroker(addr)}
	start := p.now() // the broker's session begins later
	var t *tap
	conf := *p.conf
	conf.Net.Proxy.Dialer = dialFunc(func(network, a string) (net.Conn, error) {
		conn, err := p.dialTracked(network, a)
		if err != nil {
			return nil, err
		}
		s.conn = conn
		if !conf.Net.SASL.Enable {
			return conn, nil
		}
		t = &tap{Conn: conn, on: true}
		return t, nil
	})
	if err := s.b.Open(&conf); err != nil {
		return session{}, err
	}
	if ok, err := s.b.Connected(); !ok || err != nil {
		_ = s.b.Close()
		if err == nil {
			err = fmt.Errorf("connecting to %s: %w", addr, io.ErrUnexpectedEOF)
		}
		return session{}, err
	}
	if t != nil {
		if life := t.lifetime(); life > 0 {
			s.renewAt = start.Add(life * renewPercent / 100)
		}
	}
	return s, nil
}

// Interrupt closes every connection under the requests in flight, which
// fail at once, and makes later Gets fail.
func (p *Pool) Interrupt() {
	p.mu.Lock()
	p.stopped = true
	raw := p.raw
	p.raw = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for conn := range raw {
		conn.Close()
	}
}

// Close closes every connection; nothing may use them any more.
func (p *Pool) Close() {
	p.Interrupt()
	p.mu.Lock()
	conns := p.conns
	p.conns = map[string]*Conn{}
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// Conn is one broker connection. One goroutine may Write while another
// Reads; the answers come in the order the requests went.
type Conn struct {
	addr string
	pool *Pool

	// session is replaced, holding wmu, rmu and qmu, when its SASL
	// session ends; Write and Read use it holding their own lock, Close
	// holding qmu.
	session

	wmu  sync.Mutex
	corr int32
	wbuf []byte

	rmu   sync.Mutex
	head  [8]byte
	early [][]byte // answers read off the last session, for the first of pending

	qmu     sync.Mutex
	pending []expect // requests written whose answers are to come
	failed  error    // the connection's failure; it is closed
}

// session is a connection as sarama opened it.
type session struct {
	b       *sarama.Broker // opened it; closing it closes conn
	conn    net.Conn
	renewAt time.Time // when to open a new one; zero: never
}

// expect is a request whose answer Read awaits.
type expect struct {
	corr     int32
	key, ver int16
	flexible bool
}

// Addr is the broker's address.
func (c *Conn) Addr() string { return c.addr }

func (c *Conn) broken() bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.failed != nil
}

// fail records err as the connection's failure and closes it.
func (c *Conn) fail(err error) error {
	c.qmu.Lock()
	if c.failed == nil {
		c.failed = err
	}
	b := c.b
	c.qmu.Unlock()
	_ = b.Close()
	return err
}

// Write sends req at its version. A produce request with acks 0 gets no
// answer, so Read never waits for one. Near the end of the connection's
// SASL session, Write first opens a new one, and may then wait for the
// answers still due on the old one (Read returns them in turn).
func (c *Conn) Write(req kmsg.Request) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.renew(); err != nil {
		return err
	}
	c.corr++
	c.wbuf = c.pool.fmt.AppendRequest(c.wbuf[:0], req, c.corr)
	return c.send(req, func() error {
		_, err := c.conn.Write(c.wbuf)
		return err
	})
}

// WriteBody is Write with req's body encoded by the caller: after the
// request header, body's slices go to the connection as they are, so that
// a produce request's record batches are not copied into a request
// buffer. req says the key and version (and a produce request's acks);
// its own encoding is not used.
func (c *Conn) WriteBody(req kmsg.Request, body net.Buffers) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.renew(); err != nil {
		return err
	}
	c.corr++
	id := c.pool.conf.ClientID
	size := 2 + 2 + 4 + 2 + len(id)
	if req.IsFlexible() {
		size++ // no tagged fields
	}
	for _, b := range body {
		size += len(b)
	}
	h := binary.BigEndian.AppendUint32(c.wbuf[:0], uint32(size))
	h = binary.BigEndian.AppendUint16(h, uint16(req.Key()))
	h = binary.BigEndian.AppendUint16(h, uint16(req.GetVersion()))
	h = binary.BigEndian.AppendUint32(h, uint32(c.corr))
	h = binary.BigEndian.AppendUint16(h, uint16(len(id)))
	h = append(h, id...)
	if req.IsFlexible() {
		h = append(h, 0)
	}
	c.wbuf = h
	bufs := make(net.Buffers, 0, len(body)+1)
	bufs = append(append(bufs, h), body...)
	return c.send(req, func() error {
		_, err := bufs.WriteTo(c.conn)
		return err
	})
}

// send writes req with write, its answer awaited unless it has none.
func (c *Conn) send(req kmsg.Request, write func() error) error {
	answered := true
	if pr, ok := req.(*kmsg.ProduceRequest); ok && pr.Acks == 0 {
		answered = false
	}
	if answered {
		c.qmu.Lock()
		c.pending = append(c.pending, expect{corr: c.corr, key: req.Key(), ver: req.GetVersion(), flexible: req.IsFlexible()})
		c.qmu.Unlock()
	}
	if t := c.pool.conf.Net.WriteTimeout; t > 0 {
		_ = c.conn.SetWriteDeadline(time.Now().Add(t))
	}
	if err := write(); err != nil {
		return c.fail(fmt.Errorf("writing to broker %s: %w", c.addr, err))
	}
	if cap(c.wbuf) > 1<<20 {
		c.wbuf = nil // a large produce request's buffer is not kept
	}
	return nil
}

func (c *Conn) err() error {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.failed
}

// Read reads the answer to the oldest request not yet answered into resp,
// with buf holding the response's bytes; it returns buf, grown if it was
// too small. resp's byte fields alias it.
func (c *Conn) Read(resp kmsg.Response, buf []byte) ([]byte, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	// Answers read before the session was renewed are served even if the
	// new one failed.
	if err := c.err(); err != nil && len(c.early) == 0 {
		return buf, err
	}
	c.qmu.Lock()
	if len(c.pending) == 0 {
		c.qmu.Unlock()
		return buf, errors.New("no request awaits an answer")
	}
	want := c.pending[0]
	c.pending = c.pending[1:]
	c.qmu.Unlock()
	if resp.Key() != want.key {
		return buf, c.fail(fmt.Errorf("reading the answer to request %d with a response of request %d", want.key, resp.Key()))
	}
	var err error
	if len(c.early) > 0 {
		buf = append(buf[:0], c.early[0]...)
		c.early[0] = nil
		c.early = c.early[1:]
	} else if buf, err = c.readAnswer(want, buf); err != nil {
		return buf, err
	}
	body := buf
	// Flexible responses have tagged fields after the correlation id,
	// except ApiVersions' (so that any client can read it).
	if want.flexible && want.key != 18 {
		if body, err = skipTags(body); err != nil {
			return buf, c.fail(fmt.Errorf("broker %s: %w", c.addr, err))
		}
	}
	resp.SetVersion(want.ver)
	if err := resp.ReadFrom(body); err != nil {
		return buf, c.fail(fmt.Errorf("decoding the answer of broker %s: %w", c.addr, err))
	}
	return buf, nil
}

// readAnswer reads want's answer, after its size and correlation id, into
// buf, grown if it was too small.
func (c *Conn) readAnswer(want expect, buf []byte) ([]byte, error) {
	if t := c.pool.conf.Net.ReadTimeout; t > 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(t))
	}
	if _, err := io.ReadFull(c.conn, c.head[:]); err != nil {
		return buf, c.fail(fmt.Errorf("reading from broker %s: %w", c.addr, err))
	}
	size := int32(binary.BigEndian.Uint32(c.head[:4]))
	corr := int32(binary.BigEndian.Uint32(c.head[4:]))
	if size < 4 || size > maxResponse {
		return buf, c.fail(fmt.Errorf("broker %s answered with a response of %d bytes", c.addr, size))
	}
	if corr != want.corr {
		return buf, c.fail(fmt.Errorf("broker %s answered request %d where %d was next", c.addr, corr, want.corr))
	}
	n := int(size) - 4
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(c.conn, buf); err != nil {
		return buf, c.fail(fmt.Errorf("reading from broker %s: %w", c.addr, err))
	}
	return buf, nil
}

// skipTags skips a response header's tagged fields.
func skipTags(b []byte) ([]byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, errors.New("a response header's tagged fields are cut short")
	}
	b = b[w:]
	for range n {
		if _, w = binary.Uvarint(b); w <= 0 {
			return nil, errors.New("a response header's tag is cut short")
		}
		b = b[w:]
		size, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < size {
			return nil, errors.New("a response header's tagged field is cut short")
		}
		b = b[w+int(size):]
	}
	return b, nil
}

// RoundTrip is Write then Read, for one caller at a time.
func (c *Conn) RoundTrip(req kmsg.Request, resp kmsg.Response, buf []byte) ([]byte, error) {
	if err := c.Write(req); err != nil {
		return buf, err
	}
	return c.Read(resp, buf)
}

// Close closes the connection; a later Get dials a new one.
func (c *Conn) Close() error {
	c.qmu.Lock()
	if c.failed == nil {
		c.failed = net.ErrClosed
	}
	b := c.b
	c.qmu.Unlock()
	return b.Close()
}
