// Package broker runs an in-process Kafka broker for development, tests and
// the demo. It is franz-go's kfake, which speaks the real Kafka wire
// protocol, so sarama, kcat and the Java clients all talk to it. It is not a
// production broker: one node, no replication, and no durability guarantees.
// Next to it, it may serve a Confluent-compatible schema registry
// (franz-go's srfake), in memory.
package broker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// Options configure a Broker.
type Options struct {
	// Listen is the host:port to listen on; port 0 picks a free one.
	Listen string
	// Partitions is the partition count of topics created without one.
	Partitions int
	// DataDir keeps the log across restarts; empty means in memory.
	DataDir string
	// SeedTopics are created at start.
	SeedTopics []string
	// Registry, when set, is the host:port of a schema registry to serve
	// next to the broker (port 0 picks a free one).
	Registry string
	// AutoCreateTopics creates a missing topic, with Partitions
	// partitions, when a client's metadata request asks for it, as
	// Kafka's auto.create.topics.enable does.
	AutoCreateTopics bool
}

// Broker is a running in-process broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	srv     *http.Server
	served  chan struct{}
	regURL  string
}

// Start starts a broker and returns once it accepts connections.
func Start(o Options) (*Broker, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	host, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", o.Listen, err)
	}
	// kfake listens on every interface by default; bind where we were told.
	listen := func(network, addr string) (net.Listener, error) {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return net.Listen(network, net.JoinHostPort(host, p))
	}
	var p int
	if _, err := fmt.Sscan(port, &p); err != nil {
		return nil, fmt.Errorf("listen address %q: bad port", o.Listen)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(p),
		kfake.ListenFn(listen),
		kfake.ClusterID("streamctl-local"),
	}
	if o.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(o.Partitions))
	}
	if o.AutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if len(o.SeedTopics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.SeedTopics...))
	}
	var ln net.Listener
	if o.Registry != "" {
		if ln, err = net.Listen("tcp", o.Registry); err != nil {
			return nil, fmt.Errorf("schema registry on %s: %w", o.Registry, err)
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, fmt.Errorf("starting broker on %s: %w", o.Listen, err)
	}
	b := &Broker{cluster: c, addr: c.ListenAddrs()[0]}
	if ln != nil {
		b.srv = &http.Server{Handler: srfake.NewRegistry().Handler(), ReadHeaderTimeout: 10 * time.Second}
		b.served = make(chan struct{})
		b.regURL = "http://" + ln.Addr().String()
		go func() {
			defer close(b.served)
			// Serve returns ErrServerClosed once Close shuts it down, and
			// earlier only if the listener fails, which leaves clients
			// with connection errors of their own to report.
			_ = b.srv.Serve(ln)
		}()
	}
	return b, nil
}

// Addr is the host:port clients connect to.
func (b *Broker) Addr() string { return b.addr }

// RegistryURL is the schema registry's URL, "" when none is served.
func (b *Broker) RegistryURL() string { return b.regURL }

// Close stops the registry and the broker and, with a data dir, flushes the
// broker's log to disk.
func (b *Broker) Close() {
	if b.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = b.srv.Shutdown(ctx)
		cancel()
		<-b.served
	}
	b.cluster.Close()
}
