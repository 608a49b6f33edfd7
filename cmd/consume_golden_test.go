package cmd

import (
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// goldenRecords are the records every output form is shown with: text,
// JSON, binary, null and empty fields, and repeated headers.
func goldenRecords() []kafkatest.Message {
	ts := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC)
	return []kafkatest.Message{
		{Key: []byte("alice"), Value: []byte(`{"user":"alice","n":1,"tags":["a","b"],"ok":true,"__faust":{"ns":"app.Event"}}`), Timestamp: ts,
			Headers: []sarama.RecordHeader{{Key: []byte("trace"), Value: []byte("t-1")}, {Key: []byte("trace"), Value: []byte("t-2")}}},
		{Key: nil, Value: []byte("plain text"), Timestamp: ts.Add(time.Second)},
		{Key: []byte(""), Value: []byte{}, Timestamp: ts.Add(2 * time.Second)},
		{Key: []byte("k"), Value: nil, Timestamp: ts.Add(3 * time.Second)},
		{Key: []byte{0xff, 0xfe}, Value: []byte{0x00, 0xff, 0x10}, Timestamp: ts.Add(4 * time.Second),
			Headers: []sarama.RecordHeader{{Key: []byte("bin"), Value: []byte{0xff}}, {Key: []byte("nil"), Value: nil}}},
	}
}

func TestConsumeGolden(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, goldenRecords()...)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"json", []string{"-J"}},
		{"format", []string{"-f", `%t|%p|%o|%T|%k|%K|%s|%S|%h\n`}},
		{"pretty-color", []string{"--pretty", "--color", "always"}},
		{"pretty-color-faust-show", []string{"--pretty", "--color", "always", "--faust-meta", "show", "-n", "1", "-s", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", topic, "-b", addr, "-e"}, tc.args...)
			r := mustRun(t, 0, "", args...)
			golden(t, "cmd", tc.name, strings.ReplaceAll(r.Stdout, topic, "TOPIC"))
		})
	}
}

func TestConsumeGoldenJSONSerializer(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, goldenRecords()[0])
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"json-envelope", []string{"-s", "json", "-J"}},
		{"json-envelope-hide-meta", []string{"-s", "json", "-J", "--faust-meta", "hide"}},
		{"pretty", []string{"-s", "json", "--pretty", "--color", "always"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", topic, "-b", addr, "-e"}, tc.args...)
			r := mustRun(t, 0, "", args...)
			golden(t, "cmd", tc.name, strings.ReplaceAll(r.Stdout, topic, "TOPIC"))
		})
	}
}

func TestConsumeInvalidJSONStopsWithPosition(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, values(`{"ok":1}`, `not json`, `{"ok":2}`)...)
	r := mustRun(t, ExitError, "", "consume", topic, "-b", addr, "-e", "-s", "json")
	if r.Stdout != "{\"ok\":1}\n" {
		t.Errorf("stdout = %q, want the message before the bad one", r.Stdout)
	}
	for _, want := range []string{topic, "partition 0", "offset 1", "\nhint: --skip-invalid reports such messages and goes on; -s raw shows the bytes\n"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q lacks %q", r.Stderr, want)
		}
	}
	r = mustRun(t, 0, "", "consume", topic, "-b", addr, "-e", "-s", "json", "--skip-invalid")
	if r.Stdout != "{\"ok\":1}\n{\"ok\":2}\n" {
		t.Errorf("--skip-invalid stdout = %q, want both good messages", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "offset 1") || !strings.Contains(r.Stderr, "skipped") {
		t.Errorf("--skip-invalid stderr = %q, want a report naming offset 1", r.Stderr)
	}
}

// TestConsumeFaustMetaInKeys: Faust writes Record keys with "__faust" as it
// does values; --faust-meta applies to both.
func TestConsumeFaustMetaInKeys(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, kafkatest.Message{
		Key:   []byte(`{"id":"o-1","__faust":{"ns":"shop.OrderKey"}}`),
		Value: []byte(`{"n":1,"__faust":{"ns":"shop.Order"}}`),
	})
	base := []string{"consume", topic, "-b", addr, "-e", "-s", "json", "--key-serializer", "json", "-f", "%k %s\n"}
	if r := mustRun(t, 0, "", append(base, "--faust-meta", "hide")...); r.Stdout != `{"id":"o-1"} {"n":1}`+"\n" {
		t.Errorf("--faust-meta hide: stdout %q, want key and value without __faust", r.Stdout)
	}
	want := `{"id":"o-1","__faust":{"ns":"shop.OrderKey"}} {"n":1,"__faust":{"ns":"shop.Order"}}` + "\n"
	if r := mustRun(t, 0, "", append(base, "--faust-meta", "show")...); r.Stdout != want {
		t.Errorf("--faust-meta show: stdout %q, want %q", r.Stdout, want)
	}
}
