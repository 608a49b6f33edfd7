package cmd

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/streamctl/streamctl/produce"
)

// keyFor returns a key that murmur2 puts on partition p of n.
func keyFor(p, n int32, skip int) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("key-%d", i)
		if (produce.Murmur2([]byte(k))&0x7fffffff)%n == p {
			if skip == 0 {
				return k
			}
			skip--
		}
	}
}

// TestProduceDeliveryFailure runs against a broker that rejects every
// record for partition 1: exit 1, and stderr says how many were delivered,
// how many failed and on which input lines.
func TestProduceDeliveryFailure(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				if rp.Partition == 1 {
					sp.ErrorCode = kerr.InvalidRecord.Code
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	addr := c.ListenAddrs()[0]
	in := fmt.Sprintf("%s:a\n%s:b\n%s:c\n%s:d\n", keyFor(0, 2, 0), keyFor(1, 2, 0), keyFor(0, 2, 1), keyFor(1, 2, 1))
	r := mustRun(t, 1, in, "produce", "-b", addr, "t", "-K", ":", "--acks", "leader", "--print-offsets")
	golden(t, "produce", "stderr", r.Stderr)
	// The fake broker gives each request base offset 0: only the
	// partitions are certain.
	if lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n"); len(lines) != 4 ||
		!strings.HasPrefix(lines[0], "0 ") || lines[1] != "-1 -1 ERROR" || !strings.HasPrefix(lines[2], "0 ") || lines[3] != "-1 -1 ERROR" {
		t.Errorf("stdout %q: want the partition 0 offsets of the two delivered messages, -1 -1 ERROR for the others", r.Stdout)
	}
}

// TestProduceRoundTripProperty: random binary keys, values and headers,
// nulls and empties, partitions and timestamps, written as the envelope
// consume -J prints, survive produce -J unchanged.
func TestProduceRoundTripProperty(t *testing.T) {
	addr := kafkatest.Broker(t)
	const parts = 3
	topic := newTopic(t, addr, parts)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	var lines bytes.Buffer
	want := map[int32][]string{}
	for _, rec := range randomRecords(rand.New(rand.NewPCG(seed, 1)), 300, parts) {
		lines.Write(envelope.Append(nil, &rec))
		lines.WriteByte('\n')
		want[rec.Partition] = append(want[rec.Partition], describe(rec.Partition, rec.Timestamp, rec.Key, rec.Value, rec.Headers))
	}
	mustRun(t, 0, lines.String(), "produce", "-b", addr, topic, "-J")
	got := map[int32][]string{}
	for _, r := range kafkatest.ReadAll(t, addr, topic) {
		var hs []envelope.Header
		for _, h := range r.Headers {
			hs = append(hs, envelope.Header{Key: string(h.Key), Value: h.Value})
		}
		got[r.Partition] = append(got[r.Partition], describe(r.Partition, r.Timestamp.UnixMilli(), r.Key, r.Value, hs))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got), seed %d:\n%s", seed, diff)
	}
}

func describe(p int32, ts int64, k, v []byte, hs []envelope.Header) string {
	s := fmt.Sprintf("p%d ts=%d %s=%s", p, ts, showBytes(k), showBytes(v))
	for _, h := range hs {
		s += fmt.Sprintf(" [%q:%s]", h.Key, showBytes(h.Value))
	}
	return s
}

// kcat returns the kcat binary, skipping the test without it locally and
// failing it in CI, which must run it.
func kcat(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kcat is required in CI: %v", err)
		}
		t.Skip("kcat not installed (apt-get install kcat)")
	}
	return path
}

func runKcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestProduceKcat: kcat reads what streamctl produces identically, and
// keyed messages land on the partitions kcat's murmur2_random picks.
func TestProduceKcat(t *testing.T) {
	kcat(t)
	addr := kafkatest.Broker(t)
	const parts = 6
	var in strings.Builder
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&in, "user-%d:value %d é\n", i%40, i)
	}

	ours := newTopic(t, addr, parts)
	mustRun(t, 0, in.String(), "produce", "-b", addr, ours, "-K", ":")
	got := strings.Split(strings.TrimSpace(runKcat(t, "", "-b", addr, "-C", "-t", ours, "-o", "beginning", "-e", "-q", "-f", "%p %k %s\n")), "\n")
	var want []string
	for _, r := range kafkatest.ReadAll(t, addr, ours) {
		want = append(want, fmt.Sprintf("%d %s %s", r.Partition, r.Key, r.Value))
	}
	sort.Strings(got)
	sort.Strings(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kcat reads (-streamctl +kcat):\n%s", diff)
	}

	theirs := newTopic(t, addr, parts)
	runKcat(t, in.String(), "-b", addr, "-P", "-t", theirs, "-K", ":", "-X", "partitioner=murmur2_random")
	where := func(topic string) map[string]int32 {
		m := map[string]int32{}
		for _, r := range kafkatest.ReadAll(t, addr, topic) {
			m[string(r.Key)] = r.Partition
		}
		return m
	}
	kcatWhere := where(theirs)
	if len(kcatWhere) != 40 {
		t.Fatalf("kcat produced %d keys, want 40", len(kcatWhere))
	}
	if diff := cmp.Diff(kcatWhere, where(ours)); diff != "" {
		t.Errorf("partitions by key (-kcat +streamctl):\n%s", diff)
	}
}

// BenchmarkProduce sends 100,000 lines of 100 bytes through the whole
// command (acks=all, idempotent) to the in-process broker.
func BenchmarkProduce(b *testing.B) {
	addr := kafkatest.Broker(b)
	const n = 100000
	input := bytes.Repeat([]byte(strings.Repeat("x", 99)+"\n"), n)
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		topic := kafkatest.Topic(b)
		kafkatest.CreateTopic(b, addr, topic, 1)
		b.StartTimer()
		r := runCtx(context.Background(), bytes.NewReader(input), "produce", "-b", addr, topic, "-v")
		if r.Code != 0 {
			b.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "msgs/s")
}

// TestProduceIdempotenceRefused: a broker that refuses the idempotent
// producer for good leaves acks=all without it, and stderr says so even
// with -q: the promise that retries cannot duplicate no longer holds.
func TestProduceIdempotenceRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.ControlKey(int16(kmsg.InitProducerID), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := req.(*kmsg.InitProducerIDRequest).ResponseKind().(*kmsg.InitProducerIDResponse)
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = kerr.ClusterAuthorizationFailed.Code, -1, -1
		return resp, nil, true
	})
	r := mustRun(t, 0, "a\n", "produce", "-b", c.ListenAddrs()[0], "t", "-q")
	if !strings.Contains(r.Stderr, "refused the idempotent producer") || !strings.Contains(r.Stderr, "may be written twice") {
		t.Errorf("stderr %q: want the lost idempotence said", r.Stderr)
	}
}
