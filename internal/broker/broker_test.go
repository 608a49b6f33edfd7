package broker

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/registry"
)

func TestStartListensWhereAsked(t *testing.T) {
	b, err := Start(Options{Listen: "127.0.0.1:0", Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:<port>", b.Addr())
	}
	conn, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", b.Addr(), err)
	}
	conn.Close()
}

func TestStartRejectsBadAddress(t *testing.T) {
	if _, err := Start(Options{Listen: "nonsense"}); err == nil {
		t.Fatal("Start with a bad address: got nil error")
	}
}

func TestStartServesRegistry(t *testing.T) {
	b, err := Start(Options{Listen: "127.0.0.1:0", Registry: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if !strings.HasPrefix(b.RegistryURL(), "http://127.0.0.1:") {
		t.Fatalf("RegistryURL() = %q, want http://127.0.0.1:<port>", b.RegistryURL())
	}
	reg, err := registry.New(context.Background(), registry.Config{URL: b.RegistryURL()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	s := codec.Schema{Type: codec.Avro, Text: `{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}`}
	ss, err := reg.RegisterSchema("t-value", s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := reg.SchemaByID(ss.ID)
	if err != nil || got.Type != codec.Avro {
		t.Fatalf("SchemaByID(%d) = %+v, %v; want the Avro schema registered", ss.ID, got, err)
	}
	if _, err := reg.SchemaByID(ss.ID + 1); !errors.Is(err, codec.ErrNotFound) {
		t.Errorf("SchemaByID of an unknown id: %v, want ErrNotFound", err)
	}
}

func TestStartRejectsBusyRegistryPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Start(Options{Listen: "127.0.0.1:0", Registry: ln.Addr().String()}); err == nil || !strings.Contains(err.Error(), "schema registry on ") {
		t.Fatalf("Start on a busy registry port: %v, want an error naming the registry", err)
	}
}

// metadataFor asks b for topic's metadata the way clients such as Faust's
// aiokafka do, allowing auto-creation, and returns its partition count.
func metadataFor(t *testing.T, b *Broker, topic string) (int, error) {
	t.Helper()
	conf := sarama.NewConfig()
	conf.Metadata.AllowAutoTopicCreation = true
	conf.Metadata.Retry.Max = 0
	client, err := sarama.NewClient([]string{b.Addr()}, conf)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ps, err := client.Partitions(topic)
	return len(ps), err
}

func TestAutoCreateTopics(t *testing.T) {
	b, err := Start(Options{Listen: "127.0.0.1:0", Partitions: 2, AutoCreateTopics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	n, err := metadataFor(t, b, "made-on-demand")
	if err != nil {
		t.Fatalf("metadata for a missing topic with auto-creation on: %v", err)
	}
	if n != 2 {
		t.Fatalf("auto-created topic has %d partitions, want --partitions' 2", n)
	}
}

func TestNoAutoCreateTopics(t *testing.T) {
	b, err := Start(Options{Listen: "127.0.0.1:0", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if _, err := metadataFor(t, b, "never-made"); !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("metadata for a missing topic with auto-creation off: err = %v, want %v", err, sarama.ErrUnknownTopicOrPartition)
	}
}
