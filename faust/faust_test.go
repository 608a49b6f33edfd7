// Package faust_test proves that streamctl reads and writes what a real
// Faust app (faust-streaming) reads and writes: it runs the Faust apps of
// testdata/faust as workers against the test broker and the built
// streamctl binary on the other end of their topics.
//
// The tier needs a Python with faust-streaming, named by
// STREAMCTL_FAUST_PYTHON; `make test-faust` builds one with
// scripts/faust/venv.sh. Without it the tests skip; with it, any failure of
// Python or Faust fails them. STREAMCTL_TEST_KAFKA points them at a real
// broker, as for the rest of the suite.
package faust_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/envelope"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// PythonEnv names the python of a virtual environment with faust-streaming.
const PythonEnv = "STREAMCTL_FAUST_PYTHON"

// waitFor bounds each wait for a Faust worker: startup takes a second or
// two on an idle machine, the rest is the broker's group join.
const waitFor = 90 * time.Second

var (
	python    string // from PythonEnv; empty skips the tier
	streamctl string // the binary TestMain builds
	appDir    string // testdata/faust, absolute
)

func TestMain(m *testing.M) {
	python = os.Getenv(PythonEnv)
	if python == "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "streamctl-faust-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if err := setup(dir); err != nil {
		fmt.Fprintf(os.Stderr, "faust tier: %v\n", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// setup builds streamctl into dir once, since every test runs it many
// times as the separate process a Faust user would run.
func setup(dir string) error {
	var err error
	if appDir, err = filepath.Abs(filepath.Join("..", "testdata", "faust")); err != nil {
		return err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	streamctl = filepath.Join(dir, "streamctl")
	build := exec.Command(goTool, "build", "-o", streamctl, "..")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building streamctl: %v\n%s", err, out)
	}
	out, err := exec.Command(python, "-c", "import faust; print(faust.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s=%s cannot import faust: %v\n%s\nhint: scripts/faust/venv.sh builds a python that can", PythonEnv, python, err, out)
	}
	fmt.Fprintf(os.Stderr, "faust tier: faust-streaming %s, python %s\n", bytes.TrimSpace(out), python)
	return nil
}

func needFaust(t *testing.T) {
	t.Helper()
	if python == "" {
		t.Skip(PythonEnv + " not set: run make test-faust")
	}
}

// TestFaustTutorial is Faust's tutorial with streamctl as the other
// program: the tutorial's agent on example_kafka_topic, value_serializer
// 'raw', prints what `streamctl produce example_kafka_topic` sends, sent
// both before the worker starts and while it runs. Every message must
// arrive intact, key and all.
func TestFaustTutorial(t *testing.T) {
	needFaust(t)
	addr := kafkatest.Broker(t)
	// The tutorial's topic name is fixed, so a real broker may hold
	// messages of earlier runs: this run's carry its id.
	const topic = "example_kafka_topic"
	ensureTopics(t, addr, topic)
	run := runID()

	var before, after []string
	for i, body := range []string{
		"hello", "w\u00f6rld \u2713 \U0001F680", "tab\there", `{"looks":"like json"}`,
		"not utf-8 \xff\xfe\x00 bytes", strings.Repeat("long ", 20000),
	} {
		before = append(before, fmt.Sprintf("%s %d %s", run, i, body))
		after = append(after, fmt.Sprintf("%s %d %s", run, i+100, body))
	}
	streamctlOK(t, strings.Join(before, "\n")+"\n", "produce", "-b", addr, topic)

	w := startWorker(t, "tutorial.py", addr, nil)
	w.next(t, "ready")
	// Keyed, as `streamctl produce -K:` sends them; Faust's keys are raw.
	var keyed []string
	for i, v := range after {
		keyed = append(keyed, fmt.Sprintf("k%d:%s", i, v))
	}
	streamctlOK(t, strings.Join(keyed, "\n")+"\n", "produce", "-b", addr, topic, "-K:")

	type msg struct{ Key, Value string }
	var want []msg
	for _, v := range before {
		want = append(want, msg{"<null>", v})
	}
	for i, v := range after {
		want = append(want, msg{fmt.Sprintf("k%d", i), v})
	}
	var got []msg
	for len(got) < len(want) {
		r := w.next(t, "received")
		value := string(r.bytes(t, r.Value))
		if !strings.HasPrefix(value, run+" ") {
			continue // an earlier run's, on a shared broker
		}
		key := "<null>"
		if string(r.Key) != "null" {
			key = string(r.bytes(t, r.Key))
		}
		got = append(got, msg{key, value})
	}
	// One partition keeps them in order, but a shared broker's
	// example_kafka_topic may have more: compare them as a set.
	byValue := func(a, b msg) int { return strings.Compare(a.Value, b.Value) }
	slices.SortFunc(want, byValue)
	slices.SortFunc(got, byValue)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the Faust agent received (-want +got):\n%s", diff)
	}
}

// TestFaustTutorialWorkerFirst follows the README's order: `streamctl
// broker`, then the worker, then `streamctl produce`. The worker asks for
// example_kafka_topic before it exists; the built-in broker creates it, as
// Kafka does by default, so the worker reads what is produced next rather
// than logging "Ignoring missing topic" until its metadata refresh.
func TestFaustTutorialWorkerFirst(t *testing.T) {
	needFaust(t)
	addr := startBroker(t)
	w := startWorker(t, "tutorial.py", addr, nil)
	w.next(t, "ready")
	want := runID() + " hello"
	streamctlOK(t, want+"\n", "produce", "-b", addr, "example_kafka_topic")
	r := w.next(t, "received")
	if got := string(r.bytes(t, r.Value)); got != want {
		t.Errorf("the Faust agent received %q, want %q", got, want)
	}
}

// startBroker runs the built `streamctl broker` on a free port, as the
// README does, and stops it with SIGTERM at cleanup.
func startBroker(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(streamctl, "broker", "--listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("streamctl broker: %v", err)
	}
	exited := make(chan struct{})
	addrs := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "streamctl: broker listening on "); ok {
				addrs <- strings.Fields(a)[0]
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Log("streamctl broker ignored SIGTERM for 15s and was killed")
		}
	})
	select {
	case a := <-addrs:
		return a
	case <-exited:
		t.Fatal("streamctl broker exited before listening")
	case <-time.After(waitFor):
		t.Fatal("streamctl broker did not say where it listens")
	}
	return ""
}

// TestFaustRecord sends JSON with `streamctl produce --faust-record` to an
// agent typed with a Record, which must receive model instances (found both
// by its value_type and by the namespace alone) and answers each with a
// Record on a second topic that `streamctl consume -s json` decodes, with
// and without Faust's metadata.
func TestFaustRecord(t *testing.T) {
	needFaust(t)
	addr := kafkatest.Broker(t)
	base := kafkatest.Topic(t)
	orders, receipts := base+"-orders", base+"-receipts"
	ensureTopics(t, addr, orders, receipts)

	w := startWorker(t, "records.py", addr, map[string]string{
		"STREAMCTL_FAUST_TOPIC_ORDERS":   orders,
		"STREAMCTL_FAUST_TOPIC_RECEIPTS": receipts,
	})
	ready := w.next(t, "ready")
	// Faust names a script's models after its file, not __main__.
	if ready.OrderNS != "records.Order" || ready.ReceiptNS != "records.Receipt" {
		t.Fatalf("Faust's namespaces: got %q and %q, want records.Order and records.Receipt", ready.OrderNS, ready.ReceiptNS)
	}

	input := []struct{ key, value string }{
		{"o-1", `{"id":"o-1","amount":2.5,"items":["tea","cake"]}`},
		{"o-\u00fc", `{"id": "o-ü", "amount": 0.1, "items": ["cr\u00e8me brûlée"]}`},
		{"o-3", `{"id":"o-3","amount":1e3,"items":[]}`},
	}
	var lines []string
	for _, in := range input {
		lines = append(lines, in.key+"\t"+in.value)
	}
	streamctlOK(t, strings.Join(lines, "\n")+"\n",
		"produce", "-b", addr, orders, "-K", `\t`, "--faust-record", ready.OrderNS)

	wantReceipts := map[string]json.RawMessage{}
	for _, in := range input {
		r := w.next(t, "order")
		if r.Type != "Order" || !r.IsOrder || r.Detected != "Order" || r.NS != ready.OrderNS {
			t.Errorf("order %s: Faust got type %s (instance: %v), by namespace alone %s, namespace %q; want Order, Order, %q",
				r.Key, r.Type, r.IsOrder, r.Detected, r.NS, ready.OrderNS)
		}
		if got := r.text(t, r.Key); got != in.key {
			t.Errorf("order key: got %q, want %q", got, in.key)
		}
		// Typed by a person: 1e3 is Faust's 1000.0.
		jsonEquivalent(t, "order "+in.key+" fields", r.Fields, []byte(in.value))
		rec := w.next(t, "receipt")
		wantReceipts[in.key] = rec.Fields
	}

	n := fmt.Sprint(len(input))
	shown := consumeJSON(t, "-b", addr, receipts, "-s", "json", "-J", "-n", n, "--timeout", "60s", "--faust-meta", "show")
	hidden := consumeJSON(t, "-b", addr, receipts, "-s", "json", "-J", "-n", n, "--timeout", "60s", "--faust-meta", "hide")
	for i := range shown {
		key := string(shown[i].Key)
		want, ok := wantReceipts[key]
		if !ok {
			t.Errorf("receipt with key %q: the agent sent no such receipt", key)
			continue
		}
		var meta struct {
			Faust *struct {
				NS string `json:"ns"`
			} `json:"__faust"`
		}
		if err := json.Unmarshal(shown[i].Value, &meta); err != nil || meta.Faust == nil || meta.Faust.NS != ready.ReceiptNS {
			t.Errorf("receipt %s with --faust-meta show: got %s, want \"__faust\":{\"ns\":%q} in it", key, shown[i].Value, ready.ReceiptNS)
		}
		jsonEqual(t, "receipt "+key+" with --faust-meta hide", hidden[i].Value, want)
		if !hidden[i].ValueJSON {
			t.Errorf("receipt %s: -s json printed it as text, not JSON", key)
		}
	}
	// Into a pipe, auto means show: a script sees what Faust wrote.
	plain := streamctlOK(t, "", "consume", "-b", addr, receipts, "-s", "json", "-n", n, "--timeout", "60s")
	if c := strings.Count(plain, `"__faust":{"ns":"`+ready.ReceiptNS+`"}`); c != len(input) {
		t.Errorf("consume into a pipe: %d of %d values carry Faust's metadata:\n%s", c, len(input), plain)
	}
}

// codecs are the codecs Faust ships that the tier sends both ways; topic
// names write "|" as "-".
var codecs = []string{"raw", "json", "binary", "pickle", "json|binary"}

// TestFaustCodecs checks every Faust codec both ways: what a Faust app
// sends with it, `streamctl consume` decodes to what Faust sent, and what
// `streamctl produce` encodes with it, a Faust agent decodes to what was
// typed, in the bytes Faust itself would have written where Faust's output
// is deterministic.
func TestFaustCodecs(t *testing.T) {
	needFaust(t)
	addr := kafkatest.Broker(t)
	prefix := kafkatest.Topic(t)
	var topics []string
	for _, c := range codecs {
		topics = append(topics, outTopic(prefix, c), inTopic(prefix, c))
	}
	ensureTopics(t, addr, topics...)

	w := startWorker(t, "codec_app.py", addr, map[string]string{"STREAMCTL_FAUST_TOPIC_PREFIX": prefix})

	// streamctl -> Faust. (case, text typed into streamctl produce)
	doc := `{"name":"café ✓ 🚀 \u00e9","n":42,"big":1180591620717411303424,"f":2.5,"tiny":-1e-07,"ok":true,"nothing":null,"nested":[1,[2,[3,{"k":"v"}]],[]],"empty":{},"quote":"a \"q\" \\ and\ttab"}`
	ascii := `{"id":"A-1","amount":12.5,"items":["x","y"],"n":3}`
	sends := map[string][][2]string{
		"raw":         {{"text", "h\u00e9llo \u2713"}, {"bytes", "caf\xc3\xa9 \x00\x01\xfe\xff\ttab"}},
		"binary":      {{"text", "h\u00e9llo \u2713"}, {"bytes", "caf\xc3\xa9 \x00\x01\xfe\xff\ttab"}},
		"json":        {{"doc", doc}, {"ascii", ascii}, {"spaced", "{ \"a\" : [1, 2] }"}},
		"pickle":      {{"doc", doc}, {"ascii", ascii}, {"bytes", `{"b":{"__bytes__":"AP9yYXc="},"t":[1,"x",2.0],"neg":-5,"huge":-99999999999999999999}`}},
		"json|binary": {{"doc", doc}, {"ascii", ascii}},
	}
	total := 0
	for _, c := range codecs {
		for _, s := range sends[c] {
			streamctlOK(t, s[1], "produce", "-b", addr, inTopic(prefix, c), "-s", c, "-k", s[0], "-D", `\x1e`)
			total++
		}
	}

	t.Run("FaustToStreamctl", func(t *testing.T) {
		sent := map[string][]report{} // by codec
		for {
			r := w.nextOf(t, "sent", "all_sent")
			if r.Event == "all_sent" {
				break
			}
			sent[r.Codec] = append(sent[r.Codec], r)
		}
		for _, c := range codecs {
			t.Run(slug(c), func(t *testing.T) { checkFaustSent(t, addr, outTopic(prefix, c), c, sent[c]) })
		}
	})

	t.Run("StreamctlToFaust", func(t *testing.T) {
		got := map[string]report{}
		for len(got) < total {
			r := w.next(t, "received")
			got[r.Codec+"/"+r.text(t, r.Key)] = r
		}
		for _, c := range codecs {
			t.Run(slug(c), func(t *testing.T) {
				for _, s := range sends[c] {
					r, ok := got[c+"/"+s[0]]
					if !ok {
						t.Errorf("%s: Faust received nothing", s[0])
						continue
					}
					checkFaustReceived(t, c, s[0], s[1], r)
				}
			})
		}
	})
}

// checkFaustSent reads topic back with streamctl, raw and with codec, and
// compares it with what the Faust app said it sent.
func checkFaustSent(t *testing.T, addr, topic, codec string, sent []report) {
	t.Helper()
	if len(sent) == 0 {
		t.Fatal("the Faust app reported nothing sent")
	}
	n := fmt.Sprint(len(sent))
	raw := consumeJSON(t, "-b", addr, topic, "-J", "-e", "-n", n)
	decoded := consumeJSON(t, "-b", addr, topic, "-J", "-e", "-n", n, "-s", codec)
	if len(raw) != len(sent) || len(decoded) != len(sent) {
		t.Fatalf("read %d raw and %d decoded messages, Faust sent %d", len(raw), len(decoded), len(sent))
	}
	for i, s := range sent {
		if got := string(raw[i].Key); got != s.Case {
			t.Fatalf("message %d: key %q, want %q (Faust's order)", i, got, s.Case)
		}
		if got, want := raw[i].Value, s.bytes(t, s.Wire); !bytes.Equal(got, want) {
			t.Errorf("%s: the wire holds %q, the Faust app says it sent %q", s.Case, got, want)
		}
		got := decoded[i].Value
		switch {
		case codec == "raw" || codec == "binary":
			if want := s.bytes(t, s.Bytes); !bytes.Equal(got, want) {
				t.Errorf("%s: consume -s %s printed %q, Faust sent %q", s.Case, codec, got, want)
			}
		case s.Case == "objects":
			checkObjects(t, got)
		default:
			jsonEqual(t, s.Case+": consume -s "+codec, got, s.Value)
			if !decoded[i].ValueJSON {
				t.Errorf("%s: consume -s %s printed the value as text, not JSON", s.Case, codec)
			}
		}
		// consume prints JSON as the producer wrote it, byte for byte.
		if codec == "json" && !bytes.Equal(got, raw[i].Value) {
			t.Errorf("%s: consume -s json printed %s, Faust wrote %s", s.Case, got, raw[i].Value)
		}
	}
}

// checkObjects checks how a pickle of class instances reads: class names
// and state, nothing executed.
func checkObjects(t *testing.T, got []byte) {
	t.Helper()
	var objects map[string]struct {
		Class string         `json:"__class__"`
		Value string         `json:"value"`
		State map[string]any `json:"state"`
	}
	if err := json.Unmarshal(got, &objects); err != nil {
		t.Fatalf("objects: %v\n%s", err, got)
	}
	want := map[string][2]string{
		"when":  {"datetime.datetime", "2024-01-02T03:04:05.000006+00:00"},
		"price": {"decimal.Decimal", "19.99"},
		"point": {"__main__.Point", ""},
	}
	for name, w := range want {
		if c := objects[name]; c.Class != w[0] || c.Value != w[1] {
			t.Errorf("objects: %s is %s %q, want %s %q\n%s", name, c.Class, c.Value, w[0], w[1], got)
		}
	}
	if diff := cmp.Diff(map[string]any{"x": 1.0, "y": 2.0}, objects["point"].State); diff != "" {
		t.Errorf("objects: point's state (-want +got):\n%s", diff)
	}
}

// checkFaustReceived compares what a Faust agent decoded from what
// streamctl produced with text, and the bytes with those Faust writes.
func checkFaustReceived(t *testing.T, codec, name, text string, r report) {
	t.Helper()
	wire, faustWire := r.bytes(t, r.Wire), r.bytes(t, r.FaustWire)
	switch codec {
	case "raw", "binary":
		if r.Type != "bytes" {
			t.Fatalf("%s: Faust decoded a %s %s, want bytes", name, r.Type, r.Value)
		}
		if got := r.bytes(t, r.Bytes); string(got) != text {
			t.Errorf("%s: Faust decoded %q, streamctl was given %q", name, got, text)
		}
	default:
		// The app shows bytes as streamctl's pickle text does.
		jsonEqual(t, name+": what Faust decoded", r.Value, []byte(text))
	}
	switch {
	case bytes.Equal(wire, faustWire):
	case codec == "json" && name == "spaced":
		// streamctl compacts; the value is checked above.
		if want := compact(t, []byte(text)); !bytes.Equal(wire, want) {
			t.Errorf("%s: streamctl wrote %s, want it compacted: %s", name, wire, want)
		}
	case (codec == "json" || codec == "json|binary") && !isASCII(text):
		// Faust escapes non-ASCII as \uXXXX, streamctl writes UTF-8; both
		// decode to the same value, checked above.
		t.Logf("%s: %s bytes differ only in escaping: streamctl %q, Faust %q", name, codec, wire, faustWire)
	default:
		t.Errorf("%s: streamctl wrote %q, Faust writes %q for the same value", name, wire, faustWire)
	}
}

// report is one JSON line a Faust app of testdata/faust wrote; each event
// fills the fields it has (see the apps).
type report struct {
	Event     string          `json:"event"`
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Case      string          `json:"case"`
	Codec     string          `json:"codec"`
	Type      string          `json:"type"`
	Wire      json.RawMessage `json:"wire"`
	FaustWire json.RawMessage `json:"faust_wire"`
	Bytes     json.RawMessage `json:"bytes"`
	Fields    json.RawMessage `json:"fields"`
	IsOrder   bool            `json:"is_order"`
	Detected  string          `json:"detected"`
	NS        string          `json:"ns"`
	OrderNS   string          `json:"order_ns"`
	ReceiptNS string          `json:"receipt_ns"`
	line      string
}

// bytes decodes a base64 field of the report.
func (r report) bytes(t *testing.T, field json.RawMessage) []byte {
	t.Helper()
	var s string
	if err := json.Unmarshal(field, &s); err != nil {
		t.Fatalf("report %s: want a base64 string, got %s", r.line, field)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("report %s: %v", r.line, err)
	}
	return b
}

// text decodes a string field of the report.
func (r report) text(t *testing.T, field json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(field, &s); err != nil {
		t.Fatalf("report %s: want a string, got %s", r.line, field)
	}
	return s
}

// worker is a running Faust worker and the reports it writes.
type worker struct {
	name    string
	reports chan report // closed when the report pipe ends
	pending []report    // read, not yet asked for
	log     *lockedBuffer
	exited  chan struct{}
	err     error // of Wait, once exited is closed
}

// startWorker runs `python APP worker` against the broker at addr with a
// fresh app id (so a fresh consumer group) and data dir, and stops it at
// cleanup: SIGTERM, then SIGKILL after 15 seconds. Its output is logged
// when the test fails.
func startWorker(t *testing.T, app, addr string, env map[string]string) *worker {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{name: app, reports: make(chan report, 256), log: &lockedBuffer{}, exited: make(chan struct{})}
	cmd := exec.Command(python, filepath.Join(appDir, app), "worker", "--loglevel", "warn", "--without-web")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(),
		"STREAMCTL_FAUST_BROKER=kafka://"+addr,
		"STREAMCTL_FAUST_APP_ID=streamctl-test-"+runID(),
		"STREAMCTL_FAUST_DATADIR="+filepath.Join(cmd.Dir, "data"),
		"STREAMCTL_FAUST_REPORT_FD=3",
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = w.log, w.log
	cmd.ExtraFiles = []*os.File{pw}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the Faust worker %s: %v", app, err)
	}
	pw.Close()
	go func() {
		w.err = cmd.Wait()
		close(w.exited)
	}()
	go func() {
		defer close(w.reports)
		sc := bufio.NewScanner(pr)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var r report
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				r = report{Event: "unreadable"}
			}
			r.line = sc.Text()
			w.reports <- r
		}
		pr.Close()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-w.exited
			t.Logf("the Faust worker %s ignored SIGTERM for 15s and was killed", app)
		}
		if t.Failed() {
			t.Logf("the Faust worker %s said:\n%s", app, w.log.String())
		}
	})
	return w
}

// next waits for the worker's next report of event; reports of other
// events stay for later calls.
func (w *worker) next(t *testing.T, event string) report { t.Helper(); return w.nextOf(t, event) }

// nextOf waits for the worker's next report of any of events.
func (w *worker) nextOf(t *testing.T, events ...string) report {
	t.Helper()
	match := func(r report) bool { return slices.Contains(events, r.Event) }
	if i := slices.IndexFunc(w.pending, match); i >= 0 {
		r := w.pending[i]
		w.pending = slices.Delete(w.pending, i, i+1)
		return r
	}
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	for {
		select {
		case r, ok := <-w.reports:
			if !ok {
				<-w.exited
				t.Fatalf("the Faust worker %s exited (%v) before reporting %s", w.name, w.err, strings.Join(events, " or "))
			}
			if r.Event == "unreadable" {
				t.Fatalf("the Faust worker %s wrote a report that is not JSON: %s", w.name, r.line)
			}
			if match(r) {
				return r
			}
			w.pending = append(w.pending, r)
		case <-deadline.C:
			t.Fatalf("the Faust worker %s reported no %s in %s", w.name, strings.Join(events, " or "), waitFor)
		}
	}
}

// lockedBuffer collects a process's output, read while it runs. It keeps
// the first 1 MiB: Faust's banner and the first errors are what matter.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 1<<20 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// streamctlOK runs the built streamctl with stdin, bounded by 90 seconds,
// and returns its stdout; any exit but 0 fails t.
func streamctlOK(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, streamctl, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("streamctl %s: %v", strings.Join(args, " "), err)
		}
		t.Fatalf("streamctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// consumeJSON runs `streamctl consume ARGS` (which should include -J) and
// parses the envelopes it prints.
func consumeJSON(t *testing.T, args ...string) []envelope.Record {
	t.Helper()
	out := streamctlOK(t, "", append([]string{"consume"}, args...)...)
	var recs []envelope.Record
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		r, err := envelope.Parse([]byte(line))
		if err != nil {
			t.Fatalf("consume %s printed %q: %v", strings.Join(args, " "), line, err)
		}
		recs = append(recs, r)
	}
	return recs
}

// ensureTopics creates the topics with one partition each, unless they
// exist: Faust, like the real test broker, does not create the topics of
// agents and sends.
func ensureTopics(t *testing.T, addr string, topics ...string) {
	t.Helper()
	c := kafkatest.Client(t, addr)
	admin, err := sarama.NewClusterAdminFromClient(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range topics {
		err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			t.Fatalf("creating topic %s: %v", topic, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, topic := range topics {
		for {
			_ = c.RefreshMetadata(topic)
			parts, err := c.Partitions(topic)
			if err == nil && len(parts) > 0 {
				if _, err = c.Leader(topic, parts[0]); err == nil {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("topic %s has no leader after 30s: %v", topic, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// jsonEqual fails t unless got and want are the same JSON value with
// numbers written the same way: Python and streamctl's pickle text both
// print floats as repr does, so 3.0 is not 3 and 1e-07 is not 1e-7.
func jsonEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	jsonCompare(t, what, got, want, func(n json.Number) any { return string(n) })
}

// jsonEquivalent is jsonEqual with numbers compared by value (as float64,
// or by digits beyond), for input a person typed: 1e3 is 1000.0.
func jsonEquivalent(t *testing.T, what string, got, want []byte) {
	t.Helper()
	jsonCompare(t, what, got, want, func(n json.Number) any {
		if f, err := n.Float64(); err == nil {
			return f
		}
		return string(n)
	})
}

func jsonCompare(t *testing.T, what string, got, want []byte, number func(json.Number) any) {
	t.Helper()
	g, err := decodeJSON(got, number)
	if err != nil {
		t.Errorf("%s: not JSON: %v\n%s", what, err, got)
		return
	}
	w, err := decodeJSON(want, number)
	if err != nil {
		t.Fatalf("%s: the expected value is not JSON: %v\n%s", what, err, want)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func decodeJSON(b []byte, number func(json.Number) any) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	var walk func(any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				v[k] = walk(e)
			}
		case []any:
			for i, e := range v {
				v[i] = walk(e)
			}
		case json.Number:
			return number(v)
		}
		return v
	}
	return walk(v), nil
}

// compact is text as streamctl's json codec writes it.
func compact(t *testing.T, text []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, text); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return b.Bytes()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func slug(codec string) string             { return strings.ReplaceAll(codec, "|", "-") }
func outTopic(prefix, codec string) string { return prefix + "-out-" + slug(codec) }
func inTopic(prefix, codec string) string  { return prefix + "-in-" + slug(codec) }

func runID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
