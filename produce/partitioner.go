package produce

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
)

// Partitioners are the names --partitioner accepts.
var Partitioners = []string{"murmur2", "fnv1a", "random", "roundrobin"}

// CheckPartitioner says whether name is one of Partitioners ("" is
// murmur2).
func CheckPartitioner(name string) error {
	if name == "" {
		return nil
	}
	for _, p := range Partitioners {
		if name == p {
			return nil
		}
	}
	return fmt.Errorf("unknown partitioner %q (want murmur2, fnv1a, random or roundrobin)", name)
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

// picker chooses partitions for a Batcher from the key alone: murmur2 as
// the Java client hashes keys, fnv1a as sarama's hash partitioner does,
// random, or roundrobin. Keyless records under murmur2 and fnv1a, which
// would spread at random, stick to one partition for a run of records instead, as the Java
// client's sticky partitioner does: longer batches, the same spread.
type picker struct {
	name   string
	n      int32
	next   int32 // roundrobin's counter
	sticky int32 // the keyless records' partition, -1 before the first
	run    int   // records left in the sticky run
	// avail are the partitions with a leader, where records that need no
	// particular partition go (random, roundrobin, keyless); nil is all.
	avail []int32
	up    []bool // by partition, when avail is not nil
}

// available says which partitions have a leader, as the Java client's
// partitioners use the metadata's available partitions: no keyless record
// waits for a partition that cannot take it. With none, all are used.
func (p *picker) available(parts []int32) {
	if len(parts) == 0 || len(parts) == int(p.n) {
		p.avail, p.up = nil, nil
		return
	}
	p.avail = parts
	p.up = make([]bool, p.n)
	for _, i := range parts {
		p.up[i] = true
	}
	if p.sticky >= 0 && !p.up[p.sticky] {
		p.run = 0
	}
}

// any returns one of the partitions records may go to; i picks which.
func (p *picker) any(i int32) int32 {
	if p.avail == nil {
		return i % p.n
	}
	return p.avail[i%int32(len(p.avail))]
}

// stickyRun is how many keyless records go to one partition before the
// next: short enough that a few hundred lines still reach every partition,
// long enough that consecutive records share batches.
const stickyRun = 32

func newPicker(name string, n int32) (*picker, error) {
	if err := CheckPartitioner(name); err != nil {
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
		return p.any(rand.Int32N(p.n))
	case "roundrobin":
		part := p.any(p.next)
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
		p.sticky = p.any(rand.Int32N(p.n))
		return
	}
	next := (p.sticky + 1) % p.n
	for p.up != nil && !p.up[next] {
		next = (next + 1) % p.n
	}
	p.sticky = next
}
