package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// kcatPath finds kcat (Debian package kcat); without it the test skips, or
// fails in CI.
func kcatPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("kcat is not installed (apt-get install kcat): %v", err)
		}
		t.Skipf("kcat is not installed (apt-get install kcat): %v", err)
	}
	return path
}

// What kcat wrote must come out of consume -J as it went in: a null value
// is null and an empty one "", bytes that are not UTF-8 are base64, and
// headers keep their order and duplicates.
func TestInteropConsumeReadsKcat(t *testing.T) {
	kcat := kcatPath(t)
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)

	// Records end at \x1e so that values may hold newlines; the key ends
	// at the first ":". With -Z, an empty value (or key) is sent as null.
	records := []string{
		"k1:hello",
		"k2:", // null value: a tombstone
		"k3:line one\nline two",
		"bin:\x00\xff\x01\n\x02",
		"json:{\"a\": [1, 2]}",
		"utf8:ünïcode ✓",
		":no key", // null key
	}
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, []byte(strings.Join(records, "\x1e")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-P", "-b", addr, "-t", topic, "-p", "0", "-K", ":", "-D", `\x1e`, "-Z",
		"-H", "trace=abc", "-H", "empty=", "-H", "trace=second", "-l", in)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, errb.String())
	}

	r := mustRun(t, 0, "", "-b", addr, "consume", topic, "-e", "-J")
	var got []map[string]any
	for _, line := range lines(r.Stdout) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("consume -J line %q: %v", line, err)
		}
		if _, ok := m["timestamp"].(float64); !ok {
			t.Errorf("consume -J line has no numeric timestamp: %s", line)
		}
		delete(m, "timestamp")
		got = append(got, m)
	}
	headers := []any{
		map[string]any{"key": "trace", "value": "abc"},
		map[string]any{"key": "empty", "value": ""},
		map[string]any{"key": "trace", "value": "second"},
	}
	rec := func(offset int, key any, fields ...any) map[string]any {
		m := map[string]any{"topic": topic, "partition": 0.0, "offset": float64(offset), "key": key, "headers": headers}
		for i := 0; i < len(fields); i += 2 {
			m[fields[i].(string)] = fields[i+1]
		}
		return m
	}
	want := []map[string]any{
		rec(0, "k1", "value", "hello"),
		rec(1, "k2", "value", nil),
		rec(2, "k3", "value", "line one\nline two"),
		rec(3, "bin", "value", "AP8BCgI=", "value_encoding", "base64"),
		rec(4, "json", "value", `{"a": [1, 2]}`), // raw: JSON stays text
		rec(5, "utf8", "value", "ünïcode ✓"),
		rec(6, "", "key", nil, "value", "no key"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consume -J of what kcat wrote (-want +got):\n%s\nstdout:\n%s", diff, r.Stdout)
	}
}
