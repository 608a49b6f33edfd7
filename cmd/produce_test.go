package cmd

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/streamctl/streamctl/produce"
)

// newTopic creates a unique topic with n partitions on addr.
func newTopic(t *testing.T, addr string, n int32) string {
	t.Helper()
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, n)
	return topic
}

func showBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	return fmt.Sprintf("%q", b)
}

// rendered reads topic back, one line per record: partition, key, value
// and headers, in partition and offset order.
func rendered(t *testing.T, addr, topic string) []string {
	t.Helper()
	var out []string
	for _, r := range kafkatest.ReadAll(t, addr, topic) {
		s := fmt.Sprintf("p%d %s=%s", r.Partition, showBytes(r.Key), showBytes(r.Value))
		for _, h := range r.Headers {
			s += fmt.Sprintf(" [%s:%s]", h.Key, showBytes(h.Value))
		}
		out = append(out, s)
	}
	return out
}

// scrubTopic makes output with a random topic name comparable.
func scrubTopic(s, topic string) string { return strings.ReplaceAll(s, topic, "TOPIC") }

func TestProduceInput(t *testing.T) {
	addr := kafkatest.Broker(t)
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"lines with null keys", "a\nb\n", nil, []string{`p0 null="a"`, `p0 null="b"`}},
		{"last line without delimiter", "a\nb", nil, []string{`p0 null="a"`, `p0 null="b"`}},
		{"empty lines are empty values", "\nx\n", nil, []string{`p0 null=""`, `p0 null="x"`}},
		{"tombstone", "\nx\n", []string{"-Z"}, []string{`p0 null=null`, `p0 null="x"`}},
		{"multi-byte delimiter", "a;;b;c;;", []string{"-D", ";;"}, []string{`p0 null="a"`, `p0 null="b;c"`}},
		{"NUL delimiter", "a\nb\x00c", []string{"-D", `\0`}, []string{`p0 null="a\nb"`, `p0 null="c"`}},
		{"hex escape delimiter", "a\x1eb", []string{"--delimiter", `\x1e`}, []string{`p0 null="a"`, `p0 null="b"`}},
		{"CRLF delimiter", "a\r\nb\r\n", []string{"-D", `\r\n`}, []string{`p0 null="a"`, `p0 null="b"`}},
		{"key delimiter", "k1:v1\nnokey\n:empty\n", []string{"-K", ":"},
			[]string{`p0 "k1"="v1"`, `p0 null="nokey"`, `p0 ""="empty"`}},
		{"key delimiter and tombstone", "k1:\n:v\n", []string{"-K", ":", "-Z"}, []string{`p0 "k1"=null`, `p0 null="v"`}},
		{"multi-byte key delimiter", "k=>v\n", []string{"--key-delimiter", "=>"}, []string{`p0 "k"="v"`}},
		{"fixed key", "a\nb\n", []string{"-k", "id-1"}, []string{`p0 "id-1"="a"`, `p0 "id-1"="b"`}},
		{"headers repeat in order", "a\n", []string{"-H", "h=1", "-H", "h=2", "-H", "tags=x,y", "-H", "eq=a=b", "-H", "empty="},
			[]string{`p0 null="a" [h:"1"] [h:"2"] [tags:"x,y"] [eq:"a=b"] [empty:""]`}},
		{"json compacts", "{ \"a\" : [1, 2] }\n", []string{"-s", "json"}, []string{`p0 null="{\"a\":[1,2]}"`}},
		{"binary encodes", "hi\n", []string{"-s", "binary"}, []string{`p0 null="aGk="`}},
		{"key serializer", "k:v\n", []string{"-K", ":", "--key-serializer", "hex"}, []string{`p0 "6b"="v"`}},
		{"faust record", "{\"id\":1}\n", []string{"--faust-record", "app.models.Order"},
			[]string{`p0 null="{\"id\":1,\"__faust\":{\"ns\":\"app.models.Order\"}}"`}},
		{"flags after the topic", "a\n", []string{"-k", "k"}, []string{`p0 "k"="a"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := newTopic(t, addr, 1)
			r := mustRun(t, 0, c.stdin, append([]string{"produce", "-b", addr, topic}, c.args...)...)
			if r.Stdout != "" || r.Stderr != "" {
				t.Errorf("stdout %q, stderr %q: want both empty", r.Stdout, r.Stderr)
			}
			if diff := cmp.Diff(c.want, rendered(t, addr, topic)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProduceFiles(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 1)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b,c.txt")
	if err := os.WriteFile(a, []byte("a1\na2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("b1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "stdin1\n", "produce", "-b", addr, topic, "--file", a, "--file", b, "--file", "-")
	want := []string{`p0 null="a1"`, `p0 null="a2"`, `p0 null="b1"`, `p0 null="stdin1"`}
	if diff := cmp.Diff(want, rendered(t, addr, topic)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	r := mustRun(t, 1, "", "produce", "-b", addr, topic, "-F", filepath.Join(dir, "missing.txt"))
	if !strings.Contains(r.Stderr, "missing.txt: no such file or directory") {
		t.Errorf("stderr %q: want the missing file named", r.Stderr)
	}
}

func TestProduceUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no topic", nil},
		{"two topics", []string{"a", "b"}},
		{"bad delimiter", []string{"t", "-D", `\q`}},
		{"empty key delimiter", []string{"t", "-K", ""}},
		{"bad acks", []string{"t", "--acks", "most"}},
		{"bad compression", []string{"t", "-z", "brotli"}},
		{"bad partitioner", []string{"t", "--partitioner", "crc32"}},
		{"negative partition", []string{"t", "-p", "-2"}},
		{"json and key delimiter", []string{"t", "-J", "-K", ":"}},
		{"key and key delimiter", []string{"t", "-k", "a", "-K", ":"}},
		{"header without value", []string{"t", "-H", "novalue"}},
		{"unknown serializer", []string{"t", "-s", "yaml"}},
		{"quiet and verbose", []string{"t", "-q", "-v"}},
		{"unknown flag", []string{"t", "--nope"}},
		{"bad value of a long flag", []string{"t", "--partition", "x"}},
		{"bad value of a short flag", []string{"t", "-p", "x"}},
		{"kafka older than 0.11", []string{"t", "--kafka-version", "0.10.2.0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mustRun(t, 2, "", append([]string{"produce", "-b", "127.0.0.1:1"}, c.args...)...)
			if r.Stdout != "" {
				t.Errorf("stdout %q, want empty", r.Stdout)
			}
			golden(t, "produce", c.name, r.Stderr)
		})
	}
}

// TestProduceBadInput stops at the first bad line, after delivering and
// counting everything before it.
func TestProduceBadInput(t *testing.T) {
	addr := kafkatest.Broker(t)
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  []string
	}{
		{"invalid json", "{\"a\":1}\n{\"b\":2}\n{bad\n{\"c\":3}\n", []string{"-s", "json"},
			[]string{`p0 null="{\"a\":1}"`, `p0 null="{\"b\":2}"`}},
		{"malformed envelope", `{"value":"a"}` + "\n" + `{"value":"b"` + "\n" + `{"value":"c"}` + "\n", []string{"-J"},
			[]string{`p0 null="a"`}},
		{"envelope field of the wrong type", `{"value":"a"}` + "\n" + `{"key":1}` + "\n", []string{"-J"},
			[]string{`p0 null="a"`}},
		{"envelope without a value", `{"value":"a"}` + "\n" + `{"key":"k"}` + "\n" + `{"value":"c"}` + "\n", []string{"-J"},
			[]string{`p0 null="a"`}},
		{"envelope with an unknown field", `{"value":"a"}` + "\n" + `{"key":"k","valeu":"x"}` + "\n", []string{"-J"},
			[]string{`p0 null="a"`}},
		{"envelope with a negative partition", `{"value":"a"}` + "\n" + `{"value":"b","partition":-5}` + "\n", []string{"-J"},
			[]string{`p0 null="a"`}},
		{"envelope headers not a list", `{"value":"a"}` + "\n" + `{"value":"b","headers":{"key":"h","value":"v"}}` + "\n", []string{"-J"},
			[]string{`p0 null="a"`}},
		{"envelope partition out of range", `{"value":"a","partition":0}` + "\n" + `{"value":"b","partition":1}` + "\n", []string{"-J"},
			[]string{`p0 null="a"`}},
		{"not a faust record", "{\"id\":1}\n[1]\n", []string{"--faust-record", "m.M"},
			[]string{`p0 null="{\"id\":1,\"__faust\":{\"ns\":\"m.M\"}}"`}},
		{"quiet still names the line", "{}\nnope\n", []string{"-s", "json", "-q"}, []string{`p0 null="{}"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := newTopic(t, addr, 1)
			r := mustRun(t, 1, c.stdin, append([]string{"produce", "-b", addr, topic}, c.args...)...)
			golden(t, "produce", c.name, scrubTopic(r.Stderr, topic))
			if diff := cmp.Diff(c.want, rendered(t, addr, topic)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProduceSkipInvalid(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 1)
	r := mustRun(t, 0, "1\nx\n2\n{\n3", "produce", "-b", addr, topic, "-s", "json", "--skip-invalid")
	golden(t, "produce", "stderr", scrubTopic(r.Stderr, topic))
	want := []string{`p0 null="1"`, `p0 null="2"`, `p0 null="3"`}
	if diff := cmp.Diff(want, rendered(t, addr, topic)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestProduceAccounting: the summary goes to stderr with -v (stderr here is
// not a terminal), nothing without it, and stdout stays empty.
func TestProduceAccounting(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 2)
	cases := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"default is silent", "a\nb\n", nil},
		{"verbose", "a\nb\nc\n", []string{"-v"}},
		{"verbose one message", "a", []string{"--verbose"}},
		{"verbose leader acks", "a\n", []string{"-v", "--acks", "leader"}},
		{"verbose no acks", "a\nb\nc\nd\ne\n", []string{"-v", "--acks", "none"}},
		{"quiet", "a\n", []string{"-q"}},
		{"empty input", "", []string{"-v"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := mustRun(t, 0, c.stdin, append([]string{"produce", "-b", addr, topic}, c.args...)...)
			if r.Stdout != "" {
				t.Errorf("stdout %q, want empty", r.Stdout)
			}
			golden(t, "produce", c.name, scrubTopic(r.Stderr, topic))
		})
	}
}

// TestProducePrintOffsets prints one line per message in input order, even
// though partitions acknowledge in any order.
func TestProducePrintOffsets(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 4)
	var in strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&in, "key-%d:value-%d\n", i%17, i)
	}
	r := mustRun(t, 0, in.String(), "produce", "-b", addr, topic, "-K", ":", "--print-offsets")
	where := map[string]string{}
	for _, rec := range kafkatest.ReadAll(t, addr, topic) {
		where[string(rec.Value)] = fmt.Sprintf("%d %d", rec.Partition, rec.Offset)
	}
	var want []string
	for i := 0; i < 200; i++ {
		want = append(want, where[fmt.Sprintf("value-%d", i)])
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")); diff != "" {
		t.Errorf("offsets (-want +got):\n%s", diff)
	}
}

// TestProducePrintOffsetsNoAcks: with --acks none no broker tells an
// offset: each message prints its partition and -1, and exit 0.
func TestProducePrintOffsetsNoAcks(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 3)
	r := mustRun(t, 0, "a\nb\n", "produce", "-b", addr, topic, "-p", "2", "--acks", "none", "--print-offsets")
	if want := "2 -1\n2 -1\n"; r.Stdout != want {
		t.Errorf("stdout %q, want %q", r.Stdout, want)
	}
}

// TestProduceLargeMessage sends a 2 MiB line to a topic whose
// max.message.bytes allows it, and refuses it (by line) where it does not.
func TestProduceLargeMessage(t *testing.T) {
	addr := kafkatest.Broker(t)
	big := strings.Repeat("x", 2<<20)

	roomy := kafkatest.Topic(t)
	admin, err := sarama.NewClusterAdminFromClient(kafkatest.Client(t, addr))
	if err != nil {
		t.Fatal(err)
	}
	three := "3145728"
	if err := admin.CreateTopic(roomy, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"max.message.bytes": &three}}, false); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, "small\n"+big+"\nafter\n", "produce", "-b", addr, roomy)
	recs := kafkatest.ReadAll(t, addr, roomy)
	if len(recs) != 3 || string(recs[1].Value) != big || string(recs[2].Value) != "after" {
		t.Fatalf("got %d records, want small, the 2 MiB line and after", len(recs))
	}

	tight := kafkatest.Topic(t)
	one := "1048576"
	if err := admin.CreateTopic(tight, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"max.message.bytes": &one}}, false); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, 1, "small\n"+big+"\nafter\n", "produce", "-b", addr, tight)
	golden(t, "produce", "too large", scrubTopic(r.Stderr, tight))
	if diff := cmp.Diff([]string{`p0 null="small"`}, rendered(t, addr, tight)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	// Compressed, max.message.bytes limits the batch as compressed, which
	// the broker judges: the 2 MiB of x go, 1.5 MiB of noise do not (and
	// fail by line), and only what no codec could fit is refused here.
	packed := newTopicConfig(t, admin, "max.message.bytes", one)
	mustRun(t, 0, "small\n"+big+"\nafter\n", "produce", "-b", addr, packed, "-z", "gzip")
	if recs := kafkatest.ReadAll(t, addr, packed); len(recs) != 3 || string(recs[1].Value) != big {
		t.Errorf("got %d records, want small, the 2 MiB line and after", len(recs))
	}
	noise := make([]byte, 3<<19)
	for i, r := 0, rand.New(rand.NewPCG(1, 2)); i < len(noise); i++ {
		noise[i] = byte(r.Uint32())
	}
	noisy := base64.StdEncoding.EncodeToString(noise) // 2 MiB, about 1.5 MiB gzipped
	packed = newTopicConfig(t, admin, "max.message.bytes", one)
	r = mustRun(t, 1, "small\n"+noisy+"\nafter\n", "produce", "-b", addr, packed, "-z", "gzip")
	golden(t, "produce", "too large compressed", scrubTopic(r.Stderr, packed))
	r = mustRun(t, 1, "small\n"+strings.Repeat("x", 9<<20)+"\nafter\n", "produce", "-b", addr, packed, "-z", "gzip")
	golden(t, "produce", "too large even compressed", scrubTopic(r.Stderr, packed))
}

// newTopicConfig creates a topic of one partition with one config entry.
func newTopicConfig(t *testing.T, admin sarama.ClusterAdmin, name, value string) string {
	t.Helper()
	topic := kafkatest.Topic(t)
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{name: &value}}, false); err != nil {
		t.Fatal(err)
	}
	return topic
}

func TestProducePartitioning(t *testing.T) {
	addr := kafkatest.Broker(t)
	const n = 5
	var in strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&in, "user-%d:v\n", i)
	}
	keyless := strings.Repeat("v\n", 200)

	t.Run("murmur2 puts keys where the Java client does", func(t *testing.T) {
		topic := newTopic(t, addr, n)
		mustRun(t, 0, in.String(), "produce", "-b", addr, topic, "-K", ":")
		for _, r := range kafkatest.ReadAll(t, addr, topic) {
			if want := (produce.Murmur2(r.Key) & 0x7fffffff) % n; r.Partition != want {
				t.Errorf("key %q on partition %d, want %d", r.Key, r.Partition, want)
			}
		}
	})
	t.Run("keyless messages spread", func(t *testing.T) {
		for _, p := range []string{"murmur2", "fnv1a", "random", "roundrobin"} {
			t.Run(p, func(t *testing.T) {
				topic := newTopic(t, addr, n)
				mustRun(t, 0, keyless, "produce", "-b", addr, topic, "--partitioner", p)
				seen := map[int32]int{}
				for _, r := range kafkatest.ReadAll(t, addr, topic) {
					seen[r.Partition]++
				}
				if len(seen) != n {
					t.Errorf("200 keyless messages on partitions %v, want all %d", seen, n)
				}
			})
		}
	})
	t.Run("fnv1a is sarama's hash", func(t *testing.T) {
		topic := newTopic(t, addr, n)
		mustRun(t, 0, in.String(), "produce", "-b", addr, topic, "-K", ":", "--partitioner", "fnv1a")
		hp := sarama.NewHashPartitioner(topic)
		for _, r := range kafkatest.ReadAll(t, addr, topic) {
			want, _ := hp.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(r.Key)}, n)
			if r.Partition != want {
				t.Errorf("key %q on partition %d, want %d", r.Key, r.Partition, want)
			}
		}
	})
	t.Run("partition flag", func(t *testing.T) {
		topic := newTopic(t, addr, n)
		mustRun(t, 0, in.String(), "produce", "-b", addr, topic, "-K", ":", "-p", "3")
		for _, r := range kafkatest.ReadAll(t, addr, topic) {
			if r.Partition != 3 {
				t.Fatalf("key %q on partition %d, want 3", r.Key, r.Partition)
			}
		}
		res := mustRun(t, 1, "a\n", "produce", "-b", addr, topic, "-p", "5")
		golden(t, "produce", "partition out of range", scrubTopic(res.Stderr, topic))
	})
}

func TestProduceEnvelope(t *testing.T) {
	addr := kafkatest.Broker(t)
	lines := `{"topic":"elsewhere","partition":2,"offset":99,"timestamp":1700000000123,"key":"k","value":{"a":1},"value_encoding":"json","headers":[{"key":"h","value":"1"},{"key":"h","value":null}]}
{"partition":0,"key":null,"value":"AP8=","value_encoding":"base64"}

{"partition":1,"key":"","value":null}
`
	t.Run("partition timestamp headers nulls", func(t *testing.T) {
		topic := newTopic(t, addr, 3)
		mustRun(t, 0, lines, "produce", "-b", addr, topic, "-J", "-H", "via=streamctl")
		want := []string{
			`p0 null="\x00\xff" [via:"streamctl"]`,
			`p1 ""=null [via:"streamctl"]`,
			`p2 "k"="{\"a\":1}" [h:"1"] [h:null] [via:"streamctl"]`,
		}
		if diff := cmp.Diff(want, rendered(t, addr, topic)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		for _, r := range kafkatest.ReadAll(t, addr, topic) {
			if r.Partition == 2 && r.Timestamp.UnixMilli() != 1700000000123 {
				t.Errorf("timestamp %d, want the envelope's 1700000000123", r.Timestamp.UnixMilli())
			}
		}
	})
	t.Run("-p overrides the envelope", func(t *testing.T) {
		topic := newTopic(t, addr, 3)
		mustRun(t, 0, lines, "produce", "-b", addr, topic, "-J", "-p", "1")
		for _, r := range kafkatest.ReadAll(t, addr, topic) {
			if r.Partition != 1 {
				t.Errorf("partition %d, want 1", r.Partition)
			}
		}
	})
	t.Run("--partitioner overrides the envelope", func(t *testing.T) {
		topic := newTopic(t, addr, 3)
		mustRun(t, 0, `{"partition":2,"key":"kafka","value":"v"}`, "produce", "-b", addr, topic, "-J", "--partitioner", "murmur2")
		want := (produce.Murmur2([]byte("kafka")) & 0x7fffffff) % 3
		if recs := kafkatest.ReadAll(t, addr, topic); len(recs) != 1 || recs[0].Partition != want {
			t.Errorf("records %+v, want one on partition %d", recs, want)
		}
	})
	t.Run("--partitioner re-partitions a copy into fewer partitions", func(t *testing.T) {
		topic := newTopic(t, addr, 3)
		mustRun(t, 0, `{"partition":63,"key":"kafka","value":"v"}`, "produce", "-b", addr, topic, "-J", "--partitioner", "murmur2")
		want := (produce.Murmur2([]byte("kafka")) & 0x7fffffff) % 3
		if recs := kafkatest.ReadAll(t, addr, topic); len(recs) != 1 || recs[0].Partition != want {
			t.Errorf("records %+v, want one on partition %d", recs, want)
		}
		r := mustRun(t, 1, `{"partition":63,"key":"kafka","value":"v"}`, "produce", "-b", addr, topic, "-J")
		golden(t, "produce", "fewer partitions", scrubTopic(r.Stderr, topic))
	})
	t.Run("serializers encode the envelope's text", func(t *testing.T) {
		topic := newTopic(t, addr, 1)
		mustRun(t, 0, `{"key":"k","value":{ "a" : 1 },"value_encoding":"json"}`, "produce", "-b", addr, topic, "-J", "-s", "json|binary")
		want := []string{`p0 "k"="eyJhIjoxfQ=="`}
		if diff := cmp.Diff(want, rendered(t, addr, topic)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})
}

// TestProduceCopyTopic is the recipe `consume A -J -e | produce B -J`.
func TestProduceCopyTopic(t *testing.T) {
	addr := kafkatest.Broker(t)
	src, dst := newTopic(t, addr, 3), newTopic(t, addr, 3)
	kafkatest.Produce(t, addr, src,
		kafkatest.Message{Partition: 0, Key: []byte("k"), Value: []byte("v"), Headers: []sarama.RecordHeader{{Key: []byte("h"), Value: []byte("\xff")}}},
		kafkatest.Message{Partition: 1, Key: nil, Value: nil},
		kafkatest.Message{Partition: 2, Key: []byte{}, Value: []byte(`{"j":[1]}`)},
		kafkatest.Message{Partition: 2, Key: []byte{0, 1, 2}, Value: []byte("\x00")},
	)
	out := mustRun(t, 0, "", "consume", "-b", addr, src, "-J", "-e")
	mustRun(t, 0, out.Stdout, "produce", "-b", addr, dst, "-J")
	if diff := cmp.Diff(rendered(t, addr, src), rendered(t, addr, dst)); diff != "" {
		t.Errorf("copy differs (-src +dst):\n%s", diff)
	}
}

func TestProduceAcksAndCompression(t *testing.T) {
	addr := kafkatest.Broker(t)
	for _, acks := range []string{"all", "leader", "none"} {
		for _, z := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
			t.Run(acks+"/"+z, func(t *testing.T) {
				topic := newTopic(t, addr, 1)
				in := strings.Repeat("compressible compressible compressible\n", 50)
				mustRun(t, 0, in, "produce", "-b", addr, topic, "--acks", acks, "-z", z)
				if acks == "none" {
					// Nothing waited for the broker to append: wait here,
					// bounded, until it has (or the count below fails).
					waitForEnd(t, addr, topic, 50)
				}
				if got := len(kafkatest.ReadAll(t, addr, topic)); got != 50 {
					t.Errorf("%d records, want 50", got)
				}
			})
		}
	}
}

// TestProduceIdempotence: acks=all uses the idempotent producer, and -v
// says so; leader acks do not.
func TestProduceIdempotence(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 1)
	r := mustRun(t, 0, "a\n", "produce", "-b", addr, topic, "-v")
	if !strings.Contains(r.Stderr, "idempotent producer") {
		t.Errorf("acks=all stderr %q: want the idempotent producer mentioned", r.Stderr)
	}
	r = mustRun(t, 0, "a\n", "produce", "-b", addr, topic, "-v", "--acks", "leader")
	if strings.Contains(r.Stderr, "idempotent") {
		t.Errorf("acks=leader stderr %q: want no idempotence", r.Stderr)
	}
}

func TestProduceTopicCreation(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	r := mustRun(t, 1, "a\n", "produce", "-b", addr, topic, "--no-create")
	golden(t, "produce", "no-create", scrubTopic(r.Stderr, topic))
	r = mustRun(t, 0, "a\nb\nc\nd\n", "produce", "-b", addr, topic, "--create-partitions", "4", "--partitioner", "roundrobin")
	golden(t, "produce", "created", scrubTopic(r.Stderr, topic))
	seen := map[int32]bool{}
	for _, rec := range kafkatest.ReadAll(t, addr, topic) {
		seen[rec.Partition] = true
	}
	if len(seen) != 4 {
		t.Errorf("partitions used %v, want 4 (the topic was created with 4)", seen)
	}
}

func TestProduceEnvVars(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 1)
	t.Setenv("STREAMCTL_KEY_DELIMITER", "=")
	t.Setenv("STREAMCTL_HEADER", "from=env")
	t.Setenv("STREAMCTL_TOMBSTONE", "true")
	mustRun(t, 0, "k=v\nk=\n", "produce", "-b", addr, topic)
	want := []string{`p0 "k"="v" [from:"env"]`, `p0 "k"=null [from:"env"]`}
	if diff := cmp.Diff(want, rendered(t, addr, topic)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// waitForEnd waits until partition 0 of topic holds n records.
func waitForEnd(t *testing.T, addr, topic string, n int64) {
	t.Helper()
	c := kafkatest.Client(t, addr)
	deadline := time.Now().Add(30 * time.Second)
	for {
		end, err := c.GetOffset(topic, 0, sarama.OffsetNewest)
		if err == nil && end >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s: end offset %d (%v), want %d", topic, end, err, n)
		}
		time.Sleep(5 * time.Millisecond) // polling the broker, not synchronising goroutines
	}
}

// TestProduceInterrupt: lines typed into an open stdin go out at once; on
// SIGINT (the context cancelled) what was read is delivered, counted, and
// the exit code is 0.
func TestProduceInterrupt(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := newTopic(t, addr, 1)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	interrupt, stop := context.WithCancel(ctx)
	done := make(chan result, 1)
	go func() { done <- runCtx(interrupt, pr, "produce", "-b", addr, topic) }()

	for i, line := range []string{"one\n", "two\n", "three\n"} {
		if _, err := io.WriteString(pw, line); err != nil {
			t.Fatal(err)
		}
		waitForEnd(t, addr, topic, int64(i+1)) // no batch to fill: each line goes at once
	}
	stop()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("produce did not stop after the interrupt")
	}
	if r.Code != 0 {
		t.Errorf("exit %d, want 0; stderr %q", r.Code, r.Stderr)
	}
	golden(t, "produce", "stderr", scrubTopic(r.Stderr, topic))
	want := []string{`p0 null="one"`, `p0 null="two"`, `p0 null="three"`}
	if diff := cmp.Diff(want, rendered(t, addr, topic)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestProduceBrokerGone: the broker goes away while lines keep coming. The
// run ends within about the delivery timeout, exits 1, and says how many
// messages were delivered and which lines failed, and why.
func TestProduceBrokerGone(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		done <- runCtx(ctx, pr, "produce", "-b", addr, "t", "--delivery-timeout", "2s", "--connect-timeout", "1s")
	}()
	for i, line := range []string{"one\n", "two\n", "three\n"} {
		if _, err := io.WriteString(pw, line); err != nil {
			t.Fatal(err)
		}
		waitForEnd(t, addr, "t", int64(i+1))
	}
	c.Close()
	go func() { // lines keep coming until produce stops reading
		for i := 4; ; i++ {
			if _, err := fmt.Fprintf(pw, "line %d\n", i); err != nil {
				return
			}
		}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("produce did not end after the broker went away")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("produce took %s; want about the delivery timeout", d.Round(time.Second))
	}
	if r.Code != ExitError {
		t.Errorf("exit %d, want %d; stderr %q", r.Code, ExitError, r.Stderr)
	}
	first := regexp.MustCompile(`^streamctl: 3 of (\d+) messages delivered to topic "t", (\d+) failed; stopped reading at the delivery timeout\n`)
	m := first.FindStringSubmatch(r.Stderr)
	if m == nil || m[1] == "3" || strconv.Itoa(mustAtoi(t, m[1])-3) != m[2] {
		t.Errorf("stderr %q: want the counts, 3 delivered and the rest failed", r.Stderr)
	}
	for _, want := range []string{"\nline 4: delivery timed out after 2s: ", "\nline 5: delivery timed out after 2s: ",
		"\nhint: no acknowledgement within --delivery-timeout 2s"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q: want %q", r.Stderr, want)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
