// Package srtest_test is the real-registry tier: streamctl's schema-registry
// codecs against Apicurio Registry (Confluent-compatible API) and a real
// Apache Kafka, with Confluent's own Python serializers (confluent-kafka,
// testdata/sr/confluent_ref.py) on the other end of every topic. What
// Python writes, streamctl must read to the same JSON; what streamctl
// writes, Python must read back to the same objects.
//
// It needs three things, which `make test-sr` provides:
//
//	STREAMCTL_TEST_REGISTRY  the registry's Confluent API (scripts/registry/start.sh)
//	STREAMCTL_TEST_KAFKA     a real broker (scripts/kafka/start.sh)
//	STREAMCTL_SR_PYTHON      a python with confluent-kafka (scripts/registry/venv.sh)
//
// With none of them (a plain `go test ./...`) the tests skip. Once the
// tier is asked for (STREAMCTL_TEST_REGISTRY or STREAMCTL_TEST_SR=1 set),
// a missing one is a broken setup and fails the tests under CI=true.
package srtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// Environment the tier reads.
const (
	EnvRegistry = "STREAMCTL_TEST_REGISTRY" // Confluent-compatible API base URL
	EnvPython   = "STREAMCTL_SR_PYTHON"     // python with confluent-kafka
	EnvAsked    = "STREAMCTL_TEST_SR"       // "1": the tier was asked for (make test-sr)
	EnvBinary   = "STREAMCTL_SR_BIN"        // a built streamctl to test (make test-sr's bin/streamctl); else built here
)

// runFor bounds every program the tests start: the Python client's start-up
// and the broker's group and metadata round trips take a few seconds.
const runFor = 120 * time.Second

var (
	streamctl string // the binary TestMain builds
	dataDir   string // testdata/sr, absolute
	buildErr  error  // why TestMain could not build it
)

func asked() bool { return os.Getenv(EnvRegistry) != "" || os.Getenv(EnvAsked) == "1" }

func TestMain(m *testing.M) {
	if !asked() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "streamctl-srtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildErr = build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles streamctl into dir once, unless EnvBinary names one:
// every test runs it as the separate process a user would.
func build(dir string) error {
	var err error
	if dataDir, err = filepath.Abs(filepath.Join("..", "testdata", "sr")); err != nil {
		return err
	}
	if streamctl = os.Getenv(EnvBinary); streamctl == "" {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		streamctl = filepath.Join(dir, "streamctl")
		out, err := exec.Command(goTool, "build", "-o", streamctl, "..").CombinedOutput()
		if err != nil {
			return fmt.Errorf("building streamctl: %v\n%s", err, out)
		}
	}
	// A clear failure, rather than one per command, for a tree without the
	// schema-registry codecs.
	help, err := exec.Command(streamctl, "--help").CombinedOutput()
	if err != nil || !bytes.Contains(help, []byte("--schema-registry")) {
		return fmt.Errorf("this streamctl has no global --schema-registry flag (the schema-registry codecs are not in this tree; --help: %v)", err)
	}
	return nil
}

// tier is what one test talks to.
type tier struct {
	registry, kafka, python string
}

// need returns the tier's endpoints, or ends t: skipped when the tier was
// not asked for, failed when it was and something is missing under CI.
func need(t *testing.T) tier {
	t.Helper()
	vals := map[string]string{}
	for _, n := range []string{EnvRegistry, kafkatest.Env, EnvPython} {
		vals[n] = os.Getenv(n)
		if vals[n] != "" {
			continue
		}
		msg := fmt.Sprintf("the real-registry tier needs %s: run make test-sr (scripts/registry/start.sh, scripts/kafka/start.sh, scripts/registry/venv.sh)", n)
		if asked() && (os.Getenv("CI") != "" || os.Getenv(EnvAsked) == "1") {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return tier{registry: vals[EnvRegistry], kafka: vals[kafkatest.Env], python: vals[EnvPython]}
}

// topic makes a fresh single-partition topic; its subjects (<topic>-value)
// are fresh too, since the registry outlives the tests.
func (tr tier) topic(t *testing.T) string {
	t.Helper()
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, tr.kafka, topic, 1)
	return topic
}

// result is how a program ended.
type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, stdin io.Reader, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), runFor, r.stderr)
	}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", name, err)
		}
		r.code = ee.ExitCode()
	}
	return r
}

// sc runs streamctl against the tier's broker and registry.
func (tr tier) sc(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	global := []string{"-b", tr.kafka, "--schema-registry", tr.registry}
	return run(t, strings.NewReader(stdin), streamctl, append(global, args...)...)
}

// scOK runs streamctl and fails t unless it exits 0.
func (tr tier) scOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := tr.sc(t, stdin, args...)
	if r.code != 0 {
		t.Fatalf("streamctl %s: exit %d\nstderr:\n%s\nstdout:\n%s", strings.Join(args, " "), r.code, r.stderr, r.stdout)
	}
	return r.stdout
}

// pyProduce writes the JSON lines of file dataFile to topic with Confluent's
// serializer for codec, schema schemaFile; extra goes to confluent_ref.py.
func (tr tier) pyProduce(t *testing.T, topic, codec, schemaFile, dataFile string, extra ...string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, dataFile))
	if err != nil {
		t.Fatal(err)
	}
	tr.pyProduceText(t, topic, codec, schemaFile, string(data), extra...)
}

// pyProduceText is pyProduce with the JSON lines given as text.
func (tr tier) pyProduceText(t *testing.T, topic, codec, schemaFile, data string, extra ...string) {
	t.Helper()
	args := append([]string{"produce", "--codec", codec, "--schema", filepath.Join(dataDir, schemaFile)}, extra...)
	tr.py(t, strings.NewReader(data), topic, args...)
}

// pyConsume reads n records of topic with Confluent's deserializer for
// codec and returns the canonical JSON lines it prints.
func (tr tier) pyConsume(t *testing.T, topic, codec string, n int, extra ...string) []string {
	t.Helper()
	// The deserializer waits for records that may never come: fail at once
	// when the topic holds fewer than n.
	if have := tr.records(t, topic); have < int64(n) {
		t.Fatalf("topic %s holds %d records, want %d to read back", topic, have, n)
	}
	args := append([]string{"consume", "--codec", codec, "--count", fmt.Sprint(n)}, extra...)
	return lines(tr.py(t, nil, topic, args...))
}

// records is the number of records in partition 0 of topic.
func (tr tier) records(t *testing.T, topic string) int64 {
	t.Helper()
	c := kafkatest.Client(t, tr.kafka)
	end, err := c.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		t.Fatalf("end offset of %s: %v", topic, err)
	}
	start, err := c.GetOffset(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("start offset of %s: %v", topic, err)
	}
	return end - start
}

func (tr tier) py(t *testing.T, stdin io.Reader, topic string, args ...string) string {
	t.Helper()
	full := append([]string{filepath.Join(dataDir, "confluent_ref.py"), args[0],
		"--registry", tr.registry, "--bootstrap", tr.kafka, "--topic", topic}, args[1:]...)
	r := run(t, stdin, tr.python, full...)
	if r.code != 0 {
		t.Fatalf("confluent_ref.py %s: exit %d\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// readData returns the non-empty lines of a testdata/sr file.
func readData(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return lines(string(b))
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// sameObjects fails t unless got and want hold the same JSON values, line by
// line. Numbers compare exactly (a long past 2^53 must survive), RFC3339
// timestamps compare as instants, local timestamps and times of day by
// value, and the fields named in decimals compare
// as exact numbers whether given as text or as JSON numbers: the tier checks
// values, not which of the documented spellings streamctl picked.
func sameObjects(t *testing.T, what string, got, want []string, decimals ...string) {
	t.Helper()
	dec := map[string]bool{}
	for _, d := range decimals {
		dec[d] = true
	}
	norm := func(side string, ls []string) []any {
		out := make([]any, len(ls))
		for i, l := range ls {
			d := json.NewDecoder(strings.NewReader(l))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				t.Fatalf("%s: %s line %d is not JSON: %v\n%s", what, side, i+1, err, l)
			}
			if d.More() {
				t.Fatalf("%s: %s line %d holds more than one JSON value (not compact JSON per line?)\n%s", what, side, i+1, l)
			}
			out[i] = normalize(v, "", dec)
		}
		return out
	}
	if diff := cmp.Diff(norm("want", want), norm("got", got)); diff != "" {
		t.Errorf("%s: values differ (-want +got):\n%s\ngot:\n%s", what, diff, strings.Join(got, "\n"))
	}
}

func normalize(v any, field string, decimals map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e, k, decimals)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e, field, decimals)
		}
		return out
	case json.Number:
		return exact(string(x))
	case string:
		if decimals[field] {
			if r := exact(x); r != nil {
				return r
			}
		}
		if ts, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return "instant " + ts.UTC().Format(time.RFC3339Nano)
		}
		// Local timestamps and times of day: the same value whatever the
		// number of fraction digits.
		for _, layout := range []string{"2006-01-02T15:04:05.999999999", "15:04:05.999999999"} {
			if ts, err := time.Parse(layout, x); err == nil {
				return "local " + ts.Format(layout)
			}
		}
		return x
	}
	return v
}

// exact is a number's exact value as text, or nil when s is not a number.
func exact(s string) any {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil
	}
	return "number " + r.RatString()
}

// subjectID returns the schema id of the latest version of subject.
func (tr tier) subjectID(t *testing.T, subject string) int {
	t.Helper()
	var v struct {
		ID int `json:"id"`
	}
	tr.registryCall(t, http.MethodGet, "/subjects/"+subject+"/versions/latest", nil, &v)
	return v.ID
}

// registerText registers schema text (type AVRO, PROTOBUF or JSON) under
// subject with references, as a Java client or a user with curl would, and
// returns its id.
func (tr tier) registerText(t *testing.T, subject, schemaType, text string, refs ...map[string]any) int {
	t.Helper()
	body := map[string]any{"schema": text, "schemaType": schemaType}
	if len(refs) > 0 {
		body["references"] = refs
	}
	var v struct {
		ID int `json:"id"`
	}
	tr.registryCall(t, http.MethodPost, "/subjects/"+subject+"/versions", body, &v)
	return v.ID
}

func (tr tier) registryCall(t *testing.T, method, path string, body, into any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(tr.registry, "/")+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("registry %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registry %s %s: %s\n%s", method, path, resp.Status, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("registry %s %s: %v\n%s", method, path, err, b)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
