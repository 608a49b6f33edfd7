package produce

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/IBM/sarama"
)

// Partitioners are the names --partitioner accepts.
var Partitioners = []string{"murmur2", "fnv1a", "random", "roundrobin"}

// NewPartitioner returns the sarama partitioner named name. Whatever it is,
// a message given a partition of its own (with -p, or by its envelope) goes
// there.
func NewPartitioner(name string) (sarama.PartitionerConstructor, error) {
	var base sarama.PartitionerConstructor
	switch name {
	case "", "murmur2":
		base = NewMurmur2Partitioner
	case "fnv1a":
		base = sarama.NewHashPartitioner
	case "random":
		base = sarama.NewRandomPartitioner
	case "roundrobin":
		base = sarama.NewRoundRobinPartitioner
	default:
		return nil, fmt.Errorf("unknown partitioner %q (want murmur2, fnv1a, random or roundrobin)", name)
	}
	return func(topic string) sarama.Partitioner {
		return &fixedPartitioner{base: base(topic)}
	}, nil
}

// fixedPartitioner sends a message whose pending entry names a partition
// there, and leaves the others to base.
type fixedPartitioner struct{ base sarama.Partitioner }

var _ sarama.DynamicConsistencyPartitioner = (*fixedPartitioner)(nil)

func fixed(m *sarama.ProducerMessage) int32 {
	if p, ok := m.Metadata.(*pending); ok {
		return p.partition
	}
	return -1
}

func (f *fixedPartitioner) Partition(m *sarama.ProducerMessage, n int32) (int32, error) {
	if p := fixed(m); p >= 0 {
		if p >= n {
			return -1, sarama.ErrInvalidPartition
		}
		return p, nil
	}
	return f.base.Partition(m, n)
}

func (f *fixedPartitioner) RequiresConsistency() bool { return f.base.RequiresConsistency() }

func (f *fixedPartitioner) MessageRequiresConsistency(m *sarama.ProducerMessage) bool {
	if fixed(m) >= 0 {
		// The index must be the partition number: count every partition,
		// writable or not.
		return true
	}
	if d, ok := f.base.(sarama.DynamicConsistencyPartitioner); ok {
		return d.MessageRequiresConsistency(m)
	}
	return f.base.RequiresConsistency()
}

// murmur2Partitioner puts a keyed message where the Java client's default
// partitioner (and Faust's, and librdkafka's murmur2_random) puts it:
// toPositive(murmur2(key)) % partitions. Keyless messages spread at random.
type murmur2Partitioner struct{ keyless sarama.Partitioner }

var _ sarama.DynamicConsistencyPartitioner = (*murmur2Partitioner)(nil)

// NewMurmur2Partitioner is a sarama.PartitionerConstructor for the Java
// client's key hashing.
func NewMurmur2Partitioner(topic string) sarama.Partitioner {
	return &murmur2Partitioner{keyless: sarama.NewRandomPartitioner(topic)}
}

func (p *murmur2Partitioner) Partition(m *sarama.ProducerMessage, n int32) (int32, error) {
	if m.Key == nil {
		return p.keyless.Partition(m, n)
	}
	key, err := m.Key.Encode()
	if err != nil {
		return -1, err
	}
	return (Murmur2(key) & 0x7fffffff) % n, nil
}

func (p *murmur2Partitioner) RequiresConsistency() bool { return true }

func (p *murmur2Partitioner) MessageRequiresConsistency(m *sarama.ProducerMessage) bool {
	return m.Key != nil
}

// Murmur2 is Kafka's org.apache.kafka.common.utils.Utils.murmur2: 32-bit
// MurmurHash2 with seed 0x9747b28c, as the Java client hashes keys.
func Murmur2(data []byte) int32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// picker chooses partitions for a Batcher as NewPartitioner's partitioners
// do, from the key alone, without a ProducerMessage per record. Keyless
// records under murmur2 and fnv1a, which those partitioners spread at
// random, stick to one partition for a run of records instead, as the Java
// client's sticky partitioner does: longer batches, the same spread.
type picker struct {
	name   string
	n      int32
	next   int32 // roundrobin's counter
	sticky int32 // the keyless records' partition, -1 before the first
	run    int   // records left in the sticky run
}

// stickyRun is how many keyless records go to one partition before the
// next: short enough that a few hundred lines still reach every partition,
// long enough that consecutive records share batches.
const stickyRun = 32

func newPicker(name string, n int32) (*picker, error) {
	if _, err := NewPartitioner(name); err != nil {
		return nil, err
	}
	if name == "" {
		name = "murmur2"
	}
	return &picker{name: name, n: n, sticky: -1}, nil
}

// pick returns the partition of a record with key (nil: null).
func (p *picker) pick(key []byte) int32 {
	switch p.name {
	case "random":
		return rand.Int32N(p.n)
	case "roundrobin":
		part := p.next % p.n
		p.next = (p.next + 1) % p.n
		return part
	}
	if key == nil {
		if p.run == 0 {
			p.switchSticky()
		}
		p.run--
		return p.sticky
	}
	if p.name == "fnv1a" {
		// sarama.NewHashPartitioner's arithmetic, not the Java client's.
		h := fnv.New32a()
		h.Write(key)
		part := int32(h.Sum32()) % p.n
		if part < 0 {
			part = -part
		}
		return part
	}
	return (Murmur2(key) & 0x7fffffff) % p.n
}

// closed says partition's batch is full: the sticky run moves on, so that
// the next records start a batch elsewhere.
func (p *picker) closed(partition int32) {
	if partition == p.sticky {
		p.run = 0
	}
}

func (p *picker) switchSticky() {
	p.run = stickyRun
	if p.sticky < 0 {
		p.sticky = rand.Int32N(p.n)
		return
	}
	p.sticky = (p.sticky + 1) % p.n
}
