package registry

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamctl/streamctl/codec"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func TestBasicAuthAndCache(t *testing.T) {
	fake := srfake.New(srfake.WithAuth("Basic dXNlcjpzM2NyZXQ=")) // user:s3cret
	t.Cleanup(fake.Close)
	id, _, err := fake.RegisterSchema("t-value", sr.Schema{Schema: `"string"`})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	fake.Intercept(func(http.ResponseWriter, *http.Request) bool { calls.Add(1); return false })

	bad, err := New(context.Background(), Config{URL: fake.URL(), User: "user", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.SchemaByID(id)
	var re *Error
	if !errors.As(err, &re) || re.Code != http.StatusForbidden || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v, want a 403 that does not show the password", err)
	}

	c, err := New(context.Background(), Config{URL: fake.URL(), User: "user", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	calls.Store(0)
	for range 3 {
		s, err := c.SchemaByID(id)
		if err != nil || s.Text != `"string"` || s.Type != codec.Avro {
			t.Fatalf("SchemaByID = %+v, %v", s, err)
		}
	}
	ss, err := c.SchemaByVersion("t-value", -1)
	if err != nil || ss.ID != id {
		t.Fatalf("SchemaByVersion(latest) = %+v, %v", ss, err)
	}
	if _, err := c.SchemaByVersion("t-value", -1); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d requests for 3 lookups of an id and 2 of a subject, want 2 (the rest cached)", calls.Load())
	}
	if _, err := c.SchemaByVersion("nope", -1); !errors.Is(err, codec.ErrNotFound) {
		t.Errorf("unknown subject: %v, want ErrNotFound", err)
	}
}

func TestTimeoutAndRedactedURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// It accepts connections and never answers.
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-done; conn.Close() }()
		}
	}()
	c, err := New(context.Background(), Config{URL: "http://user:s3cret@" + ln.Addr().String(), Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.SchemaByID(1)
	if err == nil || !strings.Contains(err.Error(), "no answer within 200ms") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("SchemaByID against a silent server: %v, want no answer within 200ms, password hidden", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s, want about the 200ms timeout", d)
	}
}

func TestTLSCA(t *testing.T) {
	ts := httptest.NewTLSServer(srfake.NewRegistry().Handler())
	t.Cleanup(ts.Close)
	ca := t.TempDir() + "/ca.pem"
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(context.Background(), Config{URL: ts.URL, CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.SchemaByID(1); !errors.Is(err, codec.ErrNotFound) {
		t.Errorf("with the CA: %v, want an answer (schema 1 not found)", err)
	}
	untrusted, err := New(context.Background(), Config{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	if _, err := untrusted.SchemaByID(1); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("without the CA: %v, want a certificate error", err)
	}
	if _, err := New(context.Background(), Config{URL: ts.URL, CAFile: t.TempDir() + "/none.pem"}); err == nil {
		t.Error("a missing CA file: no error")
	}
}
