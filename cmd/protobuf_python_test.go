package cmd

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// confluentProtobuf runs Confluent's own Protobuf serializer or
// deserializer (testdata/cmd/protobuf/confluent_protobuf.py) with the
// Python STREAMCTL_SR_PYTHON names, one record per line; without it the
// test skips.
func confluentProtobuf(t *testing.T, registry, mode, topic string, lines []string) []string {
	t.Helper()
	py := os.Getenv("STREAMCTL_SR_PYTHON")
	if py == "" {
		t.Skip("STREAMCTL_SR_PYTHON is not set: it names a Python with confluent-kafka and protobuf")
	}
	cmd := exec.Command(py, filepath.Join("..", "testdata", "cmd", "protobuf", "confluent_protobuf.py"), registry, mode, topic)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("confluent_protobuf.py %s: %v\n%s", mode, err, stderr.String())
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// jsonValues parses each line as JSON, so that key order does not matter.
func jsonValues(t *testing.T, lines []string) []any {
	t.Helper()
	var out []any
	for _, l := range lines {
		var v any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, v)
	}
	return out
}

// TestProtobufConfluentPythonLive: what Confluent's Python serializer
// writes, streamctl consumes to the same JSON; what streamctl writes with
// the schema Python registered (the base64 form, with its import as a
// subject), Python's deserializer reads back to the same objects. Nested
// messages, a reference, a timestamp, a map and an enum are in the records.
// The registry is STREAMCTL_SR_URL (Apicurio in make test-sr) or srfake.
func TestProtobufConfluentPythonLive(t *testing.T) {
	addr := kafkatest.Broker(t)
	url := os.Getenv("STREAMCTL_SR_URL")
	if url == "" {
		url = schemaRegistry(t).URL()
	}
	records := []struct{ message, json string }{
		{"shop.Order", `{"id":"o-1","customer":{"name":"Ada","address":{"city":"Paris"}},"items":[{"sku":"tea","qty":2,"price":{"currency":"EUR","units":"3","nanos":500000000}}],"placedAt":"2026-12-01T09:30:00.250Z","tags":{"gift":"yes"},"status":"PLACED"}`},
		{"shop.Order", `{"id":"o-2","status":"SHIPPED"}`},
		{"shop.Order.Customer.Address", `{"city":"Oslo","zip":"0150"}`},
		{"shop.Refund", `{"orderId":"o-1","amount":{"value":"MDk=","precision":5,"scale":2}}`},
	}
	var in, want []string
	for _, r := range records {
		in = append(in, r.message+"\t"+r.json)
		want = append(want, r.json)
	}

	// Python writes, streamctl reads.
	topic := newTopic(t, addr, 1)
	var msgs []kafkatest.Message
	for _, h := range confluentProtobuf(t, url, "serialize", topic, in) {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatalf("serializer output %q: %v", h, err)
		}
		msgs = append(msgs, kafkatest.Message{Value: b})
	}
	src := seed(t, addr, 1, msgs...)
	r := mustRun(t, ExitOK, "", "consume", src, "-b", addr, "-e", "-s", "sr", "--schema-registry", url)
	if diff := cmp.Diff(jsonValues(t, want), jsonValues(t, strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n"))); diff != "" {
		t.Errorf("streamctl's JSON of Python's records (-want +got):\n%s", diff)
	}

	// The Confluent 8 form: the GUID and the message index in a header.
	msgs = nil
	var wantHeader []string
	for i, l := range confluentProtobuf(t, url, "serialize-header", topic, in) {
		if l == "skip" {
			continue
		}
		if l == "no-guid" {
			t.Logf("the registry at %s gives no schema GUIDs: no header form to read", url)
			break
		}
		v, h, _ := strings.Cut(l, "\t")
		value, err1 := hex.DecodeString(v)
		header, err2 := hex.DecodeString(h)
		if err1 != nil || err2 != nil || len(header) <= 17 {
			t.Fatalf("serializer output %q", l)
		}
		msgs = append(msgs, kafkatest.Message{Value: value, Headers: []sarama.RecordHeader{{Key: []byte("__value_schema_id"), Value: header}}})
		wantHeader = append(wantHeader, want[i])
	}
	t.Logf("%d records in the header form", len(msgs))
	if len(msgs) > 0 {
		src = seed(t, addr, 1, msgs...)
		r = mustRun(t, ExitOK, "", "consume", src, "-b", addr, "-e", "-s", "protobuf", "--schema-registry", url)
	}
	if len(msgs) > 0 {
		if diff := cmp.Diff(jsonValues(t, wantHeader), jsonValues(t, strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n"))); diff != "" {
			t.Errorf("streamctl's JSON of Python's records in the header form (-want +got):\n%s", diff)
		}
	}

	// streamctl writes with the schema Python registered under
	// <topic>-value, Python reads.
	var lines []string
	for _, rec := range records {
		mustRun(t, ExitOK, rec.json, "produce", "-b", addr, topic, "-s", "protobuf", "--proto-message", rec.message, "--schema-registry", url)
	}
	for i, rec := range kafkatest.ReadAll(t, addr, topic) {
		lines = append(lines, records[i].message+"\t"+hex.EncodeToString(rec.Value))
	}
	got := confluentProtobuf(t, url, "deserialize", topic, lines)
	if diff := cmp.Diff(jsonValues(t, want), jsonValues(t, got)); diff != "" {
		t.Errorf("Python's JSON of streamctl's records (-want +got):\n%s", diff)
	}
}
