package kafkaconn

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadataRequest is a Metadata v7 request for topic (none: every topic).
func metadataRequest(topic string) *kmsg.MetadataRequest {
	r := kmsg.NewPtrMetadataRequest()
	r.SetVersion(7)
	if topic != "" {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		r.Topics = append(r.Topics, rt)
	}
	return r
}

// metadata asks c for topic's metadata and returns the brokers' addresses
// and the topic's partitions.
func metadata(t *testing.T, c *Conn, topic string) (brokers []string, parts int) {
	t.Helper()
	req := metadataRequest(topic)
	resp := kmsg.NewPtrMetadataResponse()
	if _, err := c.RoundTrip(req, resp, nil); err != nil {
		t.Fatalf("metadata: %v", err)
	}
	for _, b := range resp.Brokers {
		brokers = append(brokers, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))))
	}
	for _, tp := range resp.Topics {
		if err := kerr.ErrorForCode(tp.ErrorCode); err != nil {
			t.Fatalf("topic %s: %v", topic, err)
		}
		parts += len(tp.Partitions)
	}
	return brokers, parts
}

// open starts an in-process broker with a topic of parts partitions (none
// when parts is 0) and returns the topic and a connection to the broker of
// a fresh pool (c.pool), which closes at cleanup.
func open(t *testing.T, parts int32) (topic string, c *Conn) {
	t.Helper()
	addr := kafkatest.Broker(t)
	if parts > 0 {
		topic = kafkatest.Topic(t)
		kafkatest.CreateTopic(t, addr, topic, parts)
	}
	p := NewPool(kafkatest.Config())
	t.Cleanup(p.Close)
	c, err := p.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	return topic, c
}

// firstKeys is a dialer that records the API key of the first request
// written on each connection it dials.
type firstKeys struct {
	mu   sync.Mutex
	keys []int16
}

func (d *firstKeys) Dial(network, addr string) (net.Conn, error) {
	c, err := net.Dial(network, addr)
	if err != nil {
		return nil, err
	}
	return &firstKeyConn{Conn: c, d: d}, nil
}

type firstKeyConn struct {
	net.Conn
	d    *firstKeys
	seen bool
}

func (c *firstKeyConn) Write(p []byte) (int, error) {
	if !c.seen && len(p) >= 6 {
		c.seen = true
		c.d.mu.Lock()
		c.d.keys = append(c.d.keys, int16(binary.BigEndian.Uint16(p[4:6])))
		c.d.mu.Unlock()
	}
	return c.Conn.Write(p)
}

// TestNoApiVersionsWithoutSASL: a connection without SASL starts with the
// caller's first request, not with an ApiVersions round trip whose answer
// nothing reads (the pool's requests carry versions of their own). Before,
// every connection began with ApiVersions (key 18).
func TestNoApiVersionsWithoutSASL(t *testing.T) {
	addr := kafkatest.Broker(t)
	conf := kafkatest.Config()
	d := &firstKeys{}
	conf.Net.Proxy.Enable, conf.Net.Proxy.Dialer = true, d
	p := NewPool(conf)
	t.Cleanup(p.Close)
	c, err := p.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	if brokers, _ := metadata(t, c, ""); len(brokers) == 0 {
		t.Fatal("metadata named no broker")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if want := []int16{int16(kmsg.Metadata)}; !slices.Equal(d.keys, want) {
		t.Errorf("first requests on the connections: %v, want %v (Metadata alone)", d.keys, want)
	}
}

// Requests go through every kind of listener: the pool does TLS itself and
// leaves SASL to sarama, then speaks on the connection.
func TestRoundTripOnEachListener(t *testing.T) {
	plain := kafkatest.Broker(t)
	cases := []struct {
		name string
		addr string
		conf *sarama.Config
	}{
		{"plaintext", plain, kafkatest.Config()},
	}
	for _, m := range []string{kafkatest.Plain, kafkatest.ScramSHA256, kafkatest.ScramSHA512} {
		l := kafkatest.SASLBroker(t, m)
		cases = append(cases, struct {
			name string
			addr string
			conf *sarama.Config
		}{"sasl-" + m, l.Addr, l.SaramaConfig()})
	}
	for _, mtls := range []bool{false, true} {
		l := kafkatest.TLSBroker(t, mtls)
		name := "tls"
		if mtls {
			name = "mtls"
		}
		cases = append(cases, struct {
			name string
			addr string
			conf *sarama.Config
		}{name, l.Addr, l.SaramaConfig()})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPool(tc.conf)
			defer p.Close()
			c, err := p.Get(tc.addr)
			if err != nil {
				t.Fatalf("Get(%s): %v", tc.addr, err)
			}
			brokers, _ := metadata(t, c, "")
			if len(brokers) == 0 {
				t.Fatalf("metadata named no broker")
			}
			// The same connection serves the next request.
			again, err := p.Get(tc.addr)
			if err != nil || again != c {
				t.Fatalf("second Get = %p, %v; want the same connection %p", again, err, c)
			}
			metadata(t, c, "")
		})
	}
}

// A wrong password is an error from Get, not a connection that fails later.
func TestGetFailsOnBadCredentials(t *testing.T) {
	l := kafkatest.SASLBroker(t, kafkatest.Plain)
	conf := l.SaramaConfig()
	conf.Net.SASL.Password = "wrong"
	p := NewPool(conf)
	defer p.Close()
	if c, err := p.Get(l.Addr); err == nil {
		t.Fatalf("Get with a wrong password = %p, nil; want an error", c)
	}
}

// Answers come back in the order the requests went, and a produce request
// with acks 0 expects none.
func TestPipelinedAnswersComeInOrder(t *testing.T) {
	topic, c := open(t, 3)
	noAnswer := kmsg.NewPtrProduceRequest()
	noAnswer.SetVersion(3)
	noAnswer.Acks = 0
	noAnswer.TimeoutMillis = 1000
	for _, r := range []kmsg.Request{metadataRequest(topic), noAnswer, metadataRequest("missing-" + topic), metadataRequest(topic)} {
		if err := c.Write(r); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	var buf []byte
	var err error
	for i, want := range []struct {
		topic string
		parts int
		code  int16
	}{{topic, 3, 0}, {"missing-" + topic, 0, kerr.UnknownTopicOrPartition.Code}, {topic, 3, 0}} {
		resp := kmsg.NewPtrMetadataResponse()
		if buf, err = c.Read(resp, buf); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if len(resp.Topics) != 1 || *resp.Topics[0].Topic != want.topic || len(resp.Topics[0].Partitions) != want.parts || resp.Topics[0].ErrorCode != want.code {
			t.Fatalf("answer %d: topics %+v; want %s with %d partitions, error %d", i, resp.Topics, want.topic, want.parts, want.code)
		}
	}
	if _, err := c.Read(kmsg.NewPtrMetadataResponse(), buf); err == nil {
		t.Fatal("a Read with no request awaiting an answer succeeded")
	}
}

// A response is read into the caller's buffer when it is large enough.
func TestReadReusesTheBuffer(t *testing.T) {
	_, c := open(t, 0)
	buf := make([]byte, 0, 64<<10)
	for range 3 {
		req := kmsg.NewPtrApiVersionsRequest()
		req.SetVersion(3)
		req.ClientSoftwareName, req.ClientSoftwareVersion = "streamctl", "test"
		resp := kmsg.NewPtrApiVersionsResponse()
		got, err := c.RoundTrip(req, resp, buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.ApiKeys) == 0 {
			t.Fatal("ApiVersions listed no API")
		}
		if &got[:1][0] != &buf[:1][0] {
			t.Fatal("the response was read into a new buffer, though the caller's was large enough")
		}
	}
}

// Interrupt cuts off a fetch's long poll, and later Gets fail.
// longPoll is a Fetch of partition 0 of topic that waits an hour for a
// record: only Interrupt, or the record, ends it.
func longPoll(topic string) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(4)
	req.ReplicaID = -1
	req.MaxWaitMillis = 3_600_000 // far past the test's timeout: only Interrupt ends it
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	return req
}

func TestInterruptCutsALongPoll(t *testing.T) {
	topic, c := open(t, 1)
	addr, p := c.Addr(), c.pool
	req := longPoll(topic)
	if err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(kmsg.NewPtrFetchResponse(), nil)
		done <- err
	}()
	p.Interrupt()
	if err := <-done; err == nil {
		t.Fatal("the fetch returned an answer after Interrupt")
	}
	if _, err := p.Get(addr); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Get after Interrupt: %v; want ErrInterrupted", err)
	}
}

// After a connection fails, Get dials a new one.
func TestGetRedialsAfterAFailure(t *testing.T) {
	_, c := open(t, 0)
	addr, p := c.Addr(), c.pool
	_ = c.conn.Close() // the network drops it under the pool
	if _, err := c.RoundTrip(kmsg.NewPtrMetadataRequest(), kmsg.NewPtrMetadataResponse(), nil); err == nil {
		t.Fatal("a request on a closed connection succeeded")
	}
	again, err := p.Get(addr)
	if err != nil {
		t.Fatal(err)
	}
	if again == c {
		t.Fatal("Get returned the failed connection")
	}
	if brokers, _ := metadata(t, again, ""); len(brokers) == 0 {
		t.Fatal("metadata named no broker")
	}
}

// barrierDialer holds each dial until n have begun.
type barrierDialer struct {
	n     int
	begun chan struct{}
}

func (d *barrierDialer) Dial(network, addr string) (net.Conn, error) {
	d.begun <- struct{}{}
	for len(d.begun) < d.n {
		time.Sleep(time.Millisecond)
	}
	return net.Dial(network, addr)
}

// Two Gets of one address at once both dial; the one that loses closes its
// connection, and neither hangs. Closing it under the pool's lock, which
// closing takes again, hung both for ever (so did a Get that found the pool
// interrupted once its dial was done: a consume -n 1 stopping while its
// fetch loops were still dialling).
func TestConcurrentGetsOfOneAddress(t *testing.T) {
	addr := kafkatest.Broker(t)
	conf := kafkatest.Config()
	conf.Net.Proxy.Enable = true
	conf.Net.Proxy.Dialer = &barrierDialer{n: 2, begun: make(chan struct{}, 2)}
	p := NewPool(conf)
	defer p.Close()
	got := make(chan *Conn, 2)
	for range 2 {
		go func() {
			c, err := p.Get(addr)
			if err != nil {
				t.Error(err)
			}
			got <- c
		}()
	}
	var conns []*Conn
	for range 2 {
		select {
		case c := <-got:
			conns = append(conns, c)
		case <-time.After(20 * time.Second):
			t.Fatal("Get hangs")
		}
	}
	if conns[0] != conns[1] {
		t.Errorf("the two Gets returned two connections, want the one the pool keeps")
	}
}

// A request whose body the caller encodes, in pieces, is the request
// Write sends: the broker answers it the same, flexible or not.
func TestWriteBodyIsWrite(t *testing.T) {
	topic, c := open(t, 2)
	for _, v := range []int16{7, 9} { // v9 is flexible
		r := metadataRequest(topic)
		r.SetVersion(v)
		body := r.AppendTo(nil)
		if err := c.WriteBody(r, net.Buffers{body[:3], body[3:]}); err != nil {
			t.Fatalf("v%d: write: %v", v, err)
		}
		resp := kmsg.NewPtrMetadataResponse()
		if _, err := c.Read(resp, nil); err != nil {
			t.Fatalf("v%d: read: %v", v, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 || resp.Topics[0].ErrorCode != 0 {
			t.Fatalf("v%d: topics %+v; want %s with 2 partitions", v, resp.Topics, topic)
		}
	}
}
