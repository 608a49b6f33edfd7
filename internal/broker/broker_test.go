package broker

import (
	"net"
	"strings"
	"testing"
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
