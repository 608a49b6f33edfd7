package produce

import (
	"testing"

	"github.com/IBM/sarama"
)

// TestMurmur2 checks the hash against the vectors of Kafka's own
// UtilsTest.testMurmur2 and librdkafka's rdmurmur2.c unit test
// (java_murmur2_results), both taken from the Java client.
func TestMurmur2(t *testing.T) {
	cases := []struct {
		key  string
		want int32
	}{
		// org.apache.kafka.common.utils.UtilsTest.testMurmur2
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
		// librdkafka src/rdmurmur2.c unittest_murmur2
		{"kafka", int32(-0x2f98309c)},                                // 0xd067cf64
		{"giberish123456789", int32(-0x70aad4f4)},                    // 0x8f552b0c
		{"1234", int32(-0x603684ec)},                                 // 0x9fc97b14
		{"234", int32(-0x183ff636)},                                  // 0xe7c009ca
		{"34", int32(-0x78c6cf26)},                                   // 0x873930da
		{"4", 0x5a4b5ca1},                                            // 0x5a4b5ca1
		{"PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c},       // 0x78424f1c
		{"reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62b377},        // 0x4a62b377
		{"eAmbleWillBeRemoved,ThePrePartThatIs", int32(-0x1f1b1f62)}, // 0xe0e4e09e
		{"AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8b43f},          // 0x62b8b43f
		{"", 0x106e08d9},                                             // 0x106e08d9
	}
	for _, c := range cases {
		if got := Murmur2([]byte(c.key)); got != c.want {
			t.Errorf("Murmur2(%q) = %d (%#x), want %d (%#x)", c.key, got, uint32(got), c.want, uint32(c.want))
		}
	}
}

func TestMurmur2Partitioner(t *testing.T) {
	ctor, err := NewPartitioner("murmur2")
	if err != nil {
		t.Fatal(err)
	}
	p := ctor("t")
	dp := p.(sarama.DynamicConsistencyPartitioner)
	for _, key := range []string{"kafka", "21", "foobar", "abc", ""} {
		m := &sarama.ProducerMessage{Key: sarama.StringEncoder(key)}
		got, err := p.Partition(m, 7)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Murmur2([]byte(key)) & 0x7fffffff) % 7; got != want {
			t.Errorf("key %q: partition %d, want %d", key, got, want)
		}
		if !dp.MessageRequiresConsistency(m) {
			t.Errorf("key %q: a keyed message must require consistency", key)
		}
	}
	// Keyless messages spread over the partitions.
	seen := map[int32]bool{}
	for i := 0; i < 1000; i++ {
		m := &sarama.ProducerMessage{}
		got, err := p.Partition(m, 4)
		if err != nil {
			t.Fatal(err)
		}
		if dp.MessageRequiresConsistency(m) {
			t.Fatal("a keyless message need not require consistency")
		}
		seen[got] = true
	}
	if len(seen) != 4 {
		t.Errorf("1000 keyless messages went to partitions %v, want all 4", seen)
	}
	// A message with its own partition goes there, whatever its key.
	m := &sarama.ProducerMessage{Key: sarama.StringEncoder("kafka")}
	m.Metadata = &pending{partition: 5}
	if got, _ := p.Partition(m, 7); got != 5 {
		t.Errorf("fixed partition: got %d, want 5", got)
	}
	if _, err := p.Partition(m, 3); err == nil {
		t.Error("fixed partition 5 of 3: want an error")
	}
}

func TestNewPartitioner(t *testing.T) {
	for _, name := range Partitioners {
		if _, err := NewPartitioner(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewPartitioner("crc32"); err == nil {
		t.Error("crc32: want an error")
	}
}
