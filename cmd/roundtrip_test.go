package cmd

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// TestEnvelopeRoundTripThroughKafka is the property the envelope exists
// for: random binary keys, values and headers, nulls and empties, JSON
// values, partitions and timestamps go through produce -J, Kafka and
// consume -J unchanged; and consume -J | produce -J copies a topic so that
// the copy prints the very same envelopes (but for the topic name).
func TestEnvelopeRoundTripThroughKafka(t *testing.T) {
	addr := kafkatest.Broker(t)
	const parts = 3
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var in bytes.Buffer
	want := map[int32][]envelope.Record{}
	for _, r := range randomRecords(rand.New(rand.NewPCG(seed, 2)), 200, parts) {
		r.ValueJSON = false // consume -J without -s json prints text or base64
		in.Write(envelope.Append(nil, &r))
		in.WriteByte('\n')
		want[r.Partition] = append(want[r.Partition], r)
	}

	src := seed2topic(t, addr, parts)
	mustRun(t, 0, in.String(), "produce", src, "-b", addr, "-J")
	out := mustRun(t, 0, "", "consume", src, "-b", addr, "-J", "-e").Stdout

	got := map[int32][]envelope.Record{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		r, err := envelope.Parse([]byte(line))
		if err != nil {
			t.Fatalf("consume -J printed %q: %v", line, err)
		}
		if r.Topic != src {
			t.Fatalf("topic %q in %s, want %q", r.Topic, line, src)
		}
		r.Topic, r.Offset = "", 0
		got[r.Partition] = append(got[r.Partition], r)
	}
	for p := range want {
		for i := range want[p] {
			want[p][i].Offset = 0
		}
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(sameBytes)); diff != "" {
		t.Fatalf("records after produce -J | consume -J (-want +got), seed %d:\n%s", seed, diff)
	}

	// Copy the topic with a pipe and compare what both print.
	dst := seed2topic(t, addr, parts)
	mustRun(t, 0, out, "produce", dst, "-b", addr, "-J")
	copied := mustRun(t, 0, "", "consume", dst, "-b", addr, "-J", "-e").Stdout
	if diff := cmp.Diff(sortLines(strings.ReplaceAll(out, `"topic":"`+src+`"`, `"topic":"T"`)),
		sortLines(strings.ReplaceAll(copied, `"topic":"`+dst+`"`, `"topic":"T"`))); diff != "" {
		t.Errorf("copy differs from the original (-original +copy), seed %d:\n%s", seed, diff)
	}
}

func seed2topic(t *testing.T, addr string, parts int32) string {
	t.Helper()
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, parts)
	return topic
}

// sameBytes keeps null apart from empty, which bytes.Equal does not.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func sortLines(s string) []string { return sortedLines(strings.Split(strings.TrimSpace(s), "\n")) }

// randomRecords makes n envelope records for property tests: binary,
// text, JSON, null and empty keys and values, headers with any bytes,
// partitions below parts and timestamps.
func randomRecords(rng *rand.Rand, n int, parts int32) []envelope.Record {
	randBytes := func() []byte {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return []byte{}
		case 2:
			return []byte(`{"j":[1,"x"]}`)
		case 3:
			return []byte("text with \"quotes\", a tab\t, é and 😀")
		}
		b := make([]byte, rng.IntN(80))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		return b
	}
	recs := make([]envelope.Record, n)
	for i := range recs {
		r := envelope.Record{Partition: rng.Int32N(parts), Timestamp: 1600000000000 + rng.Int64N(1e11), HasTimestamp: true,
			Key: randBytes(), Value: randBytes(), ValueJSON: rng.IntN(2) == 0}
		for j := rng.IntN(4); j > 0; j-- {
			key := randBytes()
			if key == nil {
				key = []byte{} // a header always has a key
			}
			r.Headers = append(r.Headers, envelope.Header{Key: string(key), Value: randBytes()})
		}
		recs[i] = r
	}
	return recs
}
