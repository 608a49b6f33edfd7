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

// TestPicker: keyed records land where murmur2 (the Java client) and
// sarama's hash partitioner put them; keyless records spread over every
// partition.
func TestPicker(t *testing.T) {
	fnv := sarama.NewHashPartitioner("t")
	for _, name := range []string{"", "murmur2", "fnv1a"} {
		pk, err := newPicker(name, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"kafka", "21", "foobar", "abc", ""} {
			want := (Murmur2([]byte(key)) & 0x7fffffff) % 7
			if name == "fnv1a" {
				want, _ = fnv.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, 7)
			}
			if got := pk.pick([]byte(key)); got != want {
				t.Errorf("%s, key %q: partition %d, want %d", name, key, got, want)
			}
		}
		seen := map[int32]bool{}
		for i := 0; i < 1000; i++ {
			seen[pk.pick(nil)] = true
		}
		if len(seen) != 7 {
			t.Errorf("%s: 1000 keyless records went to partitions %v, want all 7", name, seen)
		}
	}
}

func TestCheckPartitioner(t *testing.T) {
	for _, name := range Partitioners {
		if err := CheckPartitioner(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := CheckPartitioner("crc32"); err == nil {
		t.Error("crc32: want an error")
	}
}
