// Package broker runs an in-process Kafka broker for development, tests and
// the demo. It is franz-go's kfake, which speaks the real Kafka wire
// protocol, so sarama, kcat and the Java clients all talk to it. It is not a
// production broker: one node, no replication, and no durability guarantees.
package broker

import (
	"fmt"
	"net"

	"github.com/twmb/franz-go/pkg/kfake"
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
}

// Broker is a running in-process broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
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
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if len(o.SeedTopics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.SeedTopics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting broker on %s: %w", o.Listen, err)
	}
	return &Broker{cluster: c, addr: c.ListenAddrs()[0]}, nil
}

// Addr is the host:port clients connect to.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker and, with a data dir, flushes it to disk.
func (b *Broker) Close() { b.cluster.Close() }
