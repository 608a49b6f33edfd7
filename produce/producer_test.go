package produce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamctl/streamctl/internal/kafkatest"
)

// refusePartition makes the broker refuse every produce request's batch
// for partition part with code, writing nothing; the other partitions of
// such a request are answered NOT_LEADER_OR_FOLLOWER, so they go again
// alone, and are written then.
func refusePartition(c *kfake.Cluster, part int32, code int16) {
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		hit := false
		for _, rt := range pr.Topics {
			for _, rp := range rt.Partitions {
				hit = hit || rp.Partition == part
			}
		}
		if !hit {
			return nil, nil, false
		}
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				if rp.Partition == part {
					sp.ErrorCode = code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// TestProducerAccounting runs the Batcher against the in-process broker,
// lines spread round-robin over two partitions, partition fail (if not -1)
// refusing every record for good.
func TestProducerAccounting(t *testing.T) {
	invalid := sarama.ErrInvalidRecord.Error()
	cases := []struct {
		name    string
		inputs  []Input
		f       Format
		o       Options
		fail    int32
		stats   Stats
		err     string
		offsets string
	}{
		{name: "all acknowledged, offsets in input order",
			inputs:  []Input{{R: strings.NewReader("a\nbb\nc\ndd\n")}},
			o:       Options{Offsets: &strings.Builder{}},
			fail:    -1,
			stats:   Stats{Sent: 4, Acked: 4},
			offsets: "0 0\n1 0\n0 1\n1 1\n"},
		{name: "failures by line, first five in input order",
			inputs: []Input{{R: strings.NewReader(strings.Repeat("ok\nx\n", 7))}},
			fail:   1,
			stats:  Stats{Sent: 14, Acked: 7, Failed: 7},
			err: `7 of 14 messages delivered to topic "t", 7 failed
line 2: ` + invalid + `
line 4: ` + invalid + `
line 6: ` + invalid + `
line 8: ` + invalid + `
line 10: ` + invalid + `
... and 2 more`},
		{name: "a failed message prints -1 -1 ERROR in its place",
			inputs:  []Input{{R: strings.NewReader("a\nx\nb\n")}},
			o:       Options{Offsets: &strings.Builder{}},
			fail:    1,
			stats:   Stats{Sent: 3, Acked: 2, Failed: 1},
			err:     "2 of 3 messages delivered to topic \"t\", 1 failed\nline 2: " + invalid,
			offsets: "0 0\n-1 -1 ERROR\n0 1\n"},
		{name: "skipped lines print -1 -1 ERROR in their place",
			inputs:  []Input{{R: strings.NewReader("a\nbad\nc\nbad\n")}},
			f:       Format{ValueEncoder: upper{}},
			o:       Options{SkipInvalid: true, Offsets: &strings.Builder{}},
			fail:    -1,
			stats:   Stats{Sent: 2, Acked: 2, Skipped: 2},
			offsets: "0 0\n-1 -1 ERROR\n1 0\n-1 -1 ERROR\n"},
		{name: "the bad line that stops the run prints -1 -1 ERROR last",
			inputs:  []Input{{R: strings.NewReader("a\nb\nbad\nc\n")}},
			f:       Format{ValueEncoder: upper{}},
			o:       Options{Offsets: &strings.Builder{}},
			fail:    -1,
			stats:   Stats{Sent: 2, Acked: 2},
			err:     "line 3: value: bad text",
			offsets: "0 0\n1 0\n-1 -1 ERROR\n"},
		{name: "files are numbered on their own",
			inputs: []Input{{Name: "a.txt", R: strings.NewReader("1\n")}, {Name: "b.txt", R: strings.NewReader("x\ny")}},
			fail:   1,
			stats:  Stats{Sent: 3, Acked: 2, Failed: 1},
			err:    "2 of 3 messages delivered to topic \"t\", 1 failed\nline 1 of b.txt: " + invalid},
		{name: "bad input stops after delivering what came before",
			inputs: []Input{{R: strings.NewReader("a\nb\nbad\nc\n")}},
			f:      Format{ValueEncoder: upper{}},
			fail:   -1,
			stats:  Stats{Sent: 2, Acked: 2},
			err:    "line 3: value: bad text"},
		{name: "skip invalid goes on",
			inputs: []Input{{R: strings.NewReader("a\nbad\nc\nbad\n")}},
			f:      Format{ValueEncoder: upper{}},
			o:      Options{SkipInvalid: true},
			fail:   -1,
			stats:  Stats{Sent: 2, Acked: 2, Skipped: 2}},
		{name: "bad input and failures both reported",
			inputs: []Input{{R: strings.NewReader("x\nbad\n")}},
			f:      Format{ValueEncoder: upper{}},
			fail:   0,
			stats:  Stats{Sent: 1, Failed: 1},
			err:    "line 2: value: bad text\n0 of 1 messages delivered to topic \"t\", 1 failed\nline 1: " + invalid},
		{name: "read error",
			inputs: []Input{{R: io.MultiReader(strings.NewReader("a\n"), iotestErrReader{})}},
			fail:   -1,
			stats:  Stats{Sent: 1, Acked: 1},
			err:    "reading stdin: disk on fire"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cluster, client := fakeCluster(t, 2)
			if c.fail >= 0 {
				refusePartition(cluster, c.fail, kerr.InvalidRecord.Code)
			}
			cfg := batcherConfig(2)
			cfg.Partitioner = "roundrobin"
			b, err := NewBatcher(context.Background(), client, cfg)
			if err != nil {
				t.Fatal(err)
			}
			c.o.Topic = "t"
			c.o.Partition = -1
			var skipped []string
			c.o.Invalid = func(err error) { skipped = append(skipped, err.Error()) }
			p := New(&c.f, c.o)
			st, err := p.Run(context.Background(), c.inputs, b)
			if diff := cmp.Diff(c.stats, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != c.err {
				t.Errorf("error:\n%s\nwant:\n%s", gotErr, c.err)
			}
			if int64(len(skipped)) != c.stats.Skipped {
				t.Errorf("skipped lines reported: %q, want %d", skipped, c.stats.Skipped)
			}
			if c.o.Offsets != nil {
				if got := c.o.Offsets.(*strings.Builder).String(); got != c.offsets {
					t.Errorf("offsets: got %q, want %q", got, c.offsets)
				}
			}
		})
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestProducerMessages checks what the broker gets: null stays null, empty
// stays empty, and the fixed partition is kept.
func TestProducerMessages(t *testing.T) {
	_, client := fakeCluster(t, 4)
	b, err := NewBatcher(context.Background(), client, batcherConfig(4))
	if err != nil {
		t.Fatal(err)
	}
	p := New(&Format{KeyDelimiter: []byte(":"), Tombstone: true}, Options{Topic: "t", Partition: 3})
	if _, err := p.Run(context.Background(), []Input{{R: strings.NewReader("k:v\nnokey\nk:\n:\n")}}, b); err != nil {
		t.Fatal(err)
	}
	show := func(b []byte) string {
		if b == nil {
			return "null"
		}
		return fmt.Sprintf("%q", b)
	}
	var got []string
	for _, r := range kafkatest.ReadAll(t, client.Brokers()[0].Addr(), "t") {
		got = append(got, fmt.Sprintf("partition %d offset %d %s %s", r.Partition, r.Offset, show(r.Key), show(r.Value)))
	}
	want := []string{
		`partition 3 offset 0 "k" "v"`,
		`partition 3 offset 1 null "nokey"`,
		`partition 3 offset 2 "k" null`,
		`partition 3 offset 3 null null`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

// TestProducerInterrupt cancels the run while the input is still open: what
// was read is delivered and counted, and Run returns without waiting for
// the blocked read.
func TestProducerInterrupt(t *testing.T) {
	_, client := fakeCluster(t, 2)
	b, err := NewBatcher(context.Background(), client, batcherConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	p := New(&Format{}, Options{Topic: "t", Partition: -1})
	done := make(chan struct{})
	var st Stats
	go func() {
		st, err = p.Run(ctx, []Input{{R: pr}}, b)
		close(done)
	}()
	if _, err := io.WriteString(pw, "a\nb\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for p.Progress().Acked < 2 {
		select {
		case <-deadline:
			t.Fatalf("lines not acknowledged: %+v", p.Progress())
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Sent: 2, Acked: 2, Interrupted: true}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}
