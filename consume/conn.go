package consume

import (
	"errors"
	"net"
	"sync"

	"github.com/IBM/sarama"
	"golang.org/x/net/proxy"
)

// conns are the fetcher's own broker connections, one per leader, dialled
// with the client's configuration (TLS, SASL, timeouts) but not shared with
// the client. A fetch is a long poll, and sarama holds a connection for a
// whole request and takes no context: on the client's connections, a stop
// would wait for the poll, and so would the group's heartbeats and commits
// on the same broker. On its own, interrupt cuts the poll off at once.
type conns struct {
	conf *sarama.Config
	dial proxy.Dialer

	mu      sync.Mutex
	brokers map[string]*sarama.Broker
	raw     map[net.Conn]struct{} // what dial returned, for interrupt
	stopped bool
}

// errInterrupted is a dial after interrupt.
var errInterrupted = errors.New("fetching stopped")

func newConns(base *sarama.Config) *conns {
	c := &conns{brokers: map[string]*sarama.Broker{}, raw: map[net.Conn]struct{}{}}
	if base.Net.Proxy.Enable && base.Net.Proxy.Dialer != nil {
		c.dial = base.Net.Proxy.Dialer
	} else {
		c.dial = &net.Dialer{Timeout: base.Net.DialTimeout, KeepAlive: base.Net.KeepAlive, LocalAddr: base.Net.LocalAddr}
	}
	conf := *base
	conf.Net.Proxy.Enable = true
	conf.Net.Proxy.Dialer = dialFunc(c.dialTracked)
	c.conf = &conf
	return c
}

// dialFunc is a proxy.Dialer.
type dialFunc func(network, addr string) (net.Conn, error)

func (f dialFunc) Dial(network, addr string) (net.Conn, error) { return f(network, addr) }

func (c *conns) dialTracked(network, addr string) (net.Conn, error) {
	conn, err := c.dial.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		conn.Close()
		return nil, errInterrupted
	}
	c.raw[conn] = struct{}{}
	return &trackedConn{Conn: conn, c: c}, nil
}

// trackedConn forgets itself when sarama closes it.
type trackedConn struct {
	net.Conn
	c *conns
}

func (t *trackedConn) Close() error {
	t.c.mu.Lock()
	delete(t.c.raw, t.Conn)
	t.c.mu.Unlock()
	return t.Conn.Close()
}

// get returns the fetcher's connection to the broker the client knows as
// b, opening it (again, after a failure closed it) when needed. sarama
// opens in the background: errors come with the first request.
func (c *conns) get(b *sarama.Broker) *sarama.Broker {
	// One loop at a time asks for a given broker; Connected waits for a
	// dial under way, so it is asked without holding mu.
	key := b.Addr()
	c.mu.Lock()
	own := c.brokers[key]
	c.mu.Unlock()
	if own != nil {
		if ok, _ := own.Connected(); ok {
			return own
		}
		_ = own.Close()
	}
	own = sarama.NewBroker(key)
	_ = own.Open(c.conf) // ErrAlreadyConnected is impossible on a new broker; others show on use
	c.mu.Lock()
	c.brokers[key] = own
	c.mu.Unlock()
	return own
}

// interrupt closes every connection under the requests in flight, which
// then fail at once, and makes later dials fail.
func (c *conns) interrupt() {
	c.mu.Lock()
	c.stopped = true
	raw := c.raw
	c.raw = map[net.Conn]struct{}{}
	c.mu.Unlock()
	for conn := range raw {
		conn.Close()
	}
}

// close closes every connection; the fetch loops must have ended.
func (c *conns) close() {
	c.interrupt()
	c.mu.Lock()
	brokers := c.brokers
	c.brokers = map[string]*sarama.Broker{}
	c.mu.Unlock()
	for _, b := range brokers {
		_ = b.Close()
	}
}
