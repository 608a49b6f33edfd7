package cmd

import (
	"strings"
	"testing"

	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// schemaRegistry starts an in-process registry for the test.
func schemaRegistry(t *testing.T) *srfake.Registry {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg
}

// registerSchema registers text under subject and returns its id.
func registerSchema(t *testing.T, reg *srfake.Registry, subject string, typ sr.SchemaType, text string, refs ...sr.SchemaReference) int {
	t.Helper()
	id, _, err := reg.RegisterSchema(subject, sr.Schema{Schema: text, Type: typ, References: refs})
	if err != nil {
		t.Fatalf("registering %s: %v", subject, err)
	}
	return id
}

// framed is payload behind the Confluent framing for id.
func framed(id int, payload string) string {
	return string(codec.AppendHeader(nil, id)) + payload
}

func TestConsumeSchemaDecodeErrors(t *testing.T) {
	addr := kafkatest.Broker(t)
	reg := schemaRegistry(t)
	topic := seed(t, addr, 1, values(`{"plain":"json"}`, framed(99, "x"))...)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no magic byte", []string{"-n", "1"}, ExitError,
			`offset 0: cannot decode value: no schema registry framing: first byte is 0x7b, not the magic byte 0x00`},
		{"unknown id", []string{"-o", "1"}, ExitError,
			`offset 1: cannot decode value: schema 99: `},
		{"skipped", []string{"--skip-invalid"}, ExitOK,
			`offset 1: cannot decode value: schema 99: `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"consume", topic, "-b", addr, "-e", "-s", "sr", "--schema-registry", reg.URL()}, tc.args...)
			r := mustRun(t, tc.code, "", args...)
			if !strings.Contains(r.Stderr, `topic "`+topic+`" partition 0 `+tc.want) {
				t.Errorf("stderr = %q, want it to contain topic %q partition 0 %s", r.Stderr, topic, tc.want)
			}
			if r.Stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.Stdout)
			}
		})
	}
}

func TestSchemaCodecNeedsRegistry(t *testing.T) {
	for _, args := range [][]string{
		{"consume", "t", "-s", "avro"},
		{"produce", "t", "--key-serializer", "jsonschema"},
	} {
		r := mustRun(t, ExitUsage, "", args...)
		if !strings.Contains(r.Stderr, "needs a schema registry\nhint: give its URL with --schema-registry URL") {
			t.Errorf("%v: stderr = %q, want the registry hint", args, r.Stderr)
		}
	}
	r := mustRun(t, ExitUsage, "", "produce", "t", "--value-schema-id", "3")
	if !strings.Contains(r.Stderr, "--value-schema-id chooses a schema, which only the schema codecs use: add -s avro") {
		t.Errorf("stderr = %q, want a hint to add -s", r.Stderr)
	}
}
