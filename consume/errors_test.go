package consume

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// TestTypedErrors: a missing partition and an undecodable message come
// back as typed errors that say where; their text names no flag and
// gives no hint (cmd words those).
func TestTypedErrors(t *testing.T) {
	_, addr := seedCluster(t, 1, 3, 0)
	kafkatest.Produce(t, addr, "t", kafkatest.Message{Partition: 1, Key: []byte("k"), Value: []byte("{")})
	json, err := codec.Parse("json")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	noCLI := func(err error) {
		t.Helper()
		if msg := err.Error(); strings.Contains(msg, "hint") || strings.Contains(msg, "--") || strings.Contains(msg, "-s ") {
			t.Errorf("error %q words the command line", msg)
		}
	}

	var out strings.Builder
	_, err = Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Partitions: []int32{7}, Exit: true}, &out)
	var pe *PartitionError
	if !errors.As(err, &pe) || pe.Topic != "t" || pe.Partition != 7 || !slices.Equal(pe.Valid, []int32{0, 1, 2}) {
		t.Fatalf("Run = %#v, want a PartitionError for t/7 with 0-2 valid", err)
	}
	noCLI(err)

	for _, part := range []string{"key", "value"} {
		o := Options{Topics: []string{"t"}, Exit: true}
		if part == "key" {
			o.KeyCodec = json
		} else {
			o.ValueCodec = json
		}
		_, err = Run(ctx, kafkatest.Client(t, addr), o, &out)
		var de *DecodeError
		if !errors.As(err, &de) || de.Topic != "t" || de.Partition != 1 || de.Offset != 0 || de.Part != part || de.Err == nil {
			t.Fatalf("Run = %#v, want a DecodeError of t/1 offset 0's %s", err, part)
		}
		noCLI(err)
	}
}

// TestPartitionsGivenTwiceAreReadOnce: a partition named twice (-p 0,0) is
// read once; asking a broker for the same partition twice in one request
// is one it refuses as malformed.
func TestPartitionsGivenTwiceAreReadOnce(t *testing.T) {
	_, addr := seedCluster(t, 1, 2, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	st, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t"}, Partitions: []int32{1, 1}, Exit: true}, &out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := strings.Count(out.String(), "\n"); got != 3 || st.Written != 3 {
		t.Errorf("printed %d lines, Written %d; want 3, partition 1 once", got, st.Written)
	}
}

// TestTopicGivenTwiceIsReadOnce: so is a topic named twice (consume t t).
func TestTopicGivenTwiceIsReadOnce(t *testing.T) {
	_, addr := seedCluster(t, 1, 2, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out strings.Builder
	st, err := Run(ctx, kafkatest.Client(t, addr), Options{Topics: []string{"t", "t"}, Exit: true}, &out)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := strings.Count(out.String(), "\n"); got != 6 || st.Written != 6 {
		t.Errorf("printed %d lines, Written %d; want 6, each message once", got, st.Written)
	}
}
