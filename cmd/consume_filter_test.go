package cmd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// mixedTopic holds JSON values of different shapes, a text value and
// headers on some messages.
func mixedTopic(t *testing.T, addr string) string {
	t.Helper()
	h := func(k, v string) []sarama.RecordHeader {
		return []sarama.RecordHeader{{Key: []byte(k), Value: []byte(v)}}
	}
	return seed(t, addr, 1,
		kafkatest.Message{Key: []byte("a"), Value: []byte(`{"status":"ok","sha":"abc"}`), Headers: h("env", "prod")},
		kafkatest.Message{Key: []byte("b"), Value: []byte(`{"status":"failed","sha":"abc"}`)},
		kafkatest.Message{Key: []byte("c"), Value: []byte(`{"other":{"deep":1}}`), Headers: h("env", "dev")},
		kafkatest.Message{Key: []byte("d"), Value: []byte(`[1,2,3]`)},
		kafkatest.Message{Key: []byte("e"), Value: []byte(`{"status":"ok","sha":"def"}`), Headers: h("env", "prod")},
	)
}

func TestConsumeWhere(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := mixedTopic(t, addr)
	for _, tc := range []struct {
		where []string
		want  string
	}{
		{[]string{`.value.status == "ok"`}, `{"status":"ok","sha":"abc"}` + "\n" + `{"status":"ok","sha":"def"}` + "\n"},
		{[]string{`.value.status == "ok"`, `.value.sha == "def"`}, `{"status":"ok","sha":"def"}` + "\n"},
		{[]string{`header("env") == "dev"`}, `{"other":{"deep":1}}` + "\n"},
		{[]string{`.value.other.deep`}, `{"other":{"deep":1}}` + "\n"}, // missing fields are null elsewhere
		{[]string{`.key == "b"`}, `{"status":"failed","sha":"abc"}` + "\n"},
		{[]string{`$ENV.NOPE != null`}, ""},
	} {
		args := []string{"consume", topic, "-b", addr, "-s", "json", "-e"}
		for _, w := range tc.where {
			args = append(args, "--where", w)
		}
		r := mustRun(t, 0, "", args...)
		if r.Stdout != tc.want {
			t.Errorf("--where %q: stdout %q, want %q", tc.where, r.Stdout, tc.want)
		}
	}
}

func TestConsumeWhereRuntimeErrorIsNoMatch(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := mixedTopic(t, addr)
	// .value.status on an array is an error: reported once, counted.
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-s", "json", "-e", "--where", `.value.status == "ok"`, "-v")
	if strings.Count(r.Stderr, "expected an object") != 1 {
		t.Errorf("stderr %q: want the error once", r.Stderr)
	}
	for _, want := range []string{"--where failed on 1 message (counted as no match)", "2 of 5 messages matched"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr %q lacks %q", r.Stderr, want)
		}
	}
}

func TestConsumeGrep(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := mixedTopic(t, addr)
	for _, tc := range []struct {
		grep []string
		want string
	}{
		{[]string{`v:"ok"`}, "a\ne\n"},
		{[]string{`v:"ok"`, `!v:def`}, "a\n"},
		{[]string{`k:^[bc]$`}, "b\nc\n"},
		{[]string{`h:env=^prod$`}, "a\ne\n"},
		{[]string{`hk:env`, `!hv:prod`}, "c\n"},
		{[]string{`t:^` + topic + `$`, `v:^\[`}, "d\n"},
	} {
		args := []string{"consume", topic, "-b", addr, "-e", "-f", `%k\n`}
		for _, g := range tc.grep {
			args = append(args, "--grep", g)
		}
		r := mustRun(t, 0, "", args...)
		if r.Stdout != tc.want {
			t.Errorf("--grep %q: stdout %q, want %q", tc.grep, r.Stdout, tc.want)
		}
	}
	// -n counts matches.
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-G", `v:"ok"`, "-n", "2", "-f", `%k\n`)
	if r.Stdout != "a\ne\n" {
		t.Errorf("-n 2: stdout %q", r.Stdout)
	}
}

func TestConsumeFilterUsage(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1)
	for _, args := range [][]string{
		{"--grep", "x:abc"},
		{"--grep", "v:("},
		{"--grep", "h:=x"},
		{"--where", ".value |"},
		{"--where", "nosuchfn(1)"},
		{"--expect", "-2"},
	} {
		r := mustRun(t, 2, "", append([]string{"consume", topic, "-b", addr, "-e"}, args...)...)
		if !strings.Contains(r.Stderr, args[0]) {
			t.Errorf("%v: stderr %q does not name %s", args, r.Stderr, args[0])
		}
	}
}

func TestConsumeExpect(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := mixedTopic(t, addr)
	base := []string{"consume", topic, "-b", addr, "-s", "json", "-e"}
	mustRun(t, 0, "", append(base, "--where", `.value.status == "ok"`, "--expect", "2")...)
	r := mustRun(t, 3, "", append(base, "--where", `.value.status == "ok"`, "--expect", "3")...)
	if !strings.Contains(r.Stderr, "2 messages matched") {
		t.Errorf("stderr %q", r.Stderr)
	}
	// A deadline that cuts a wait short stays exit 3; found is exit 0.
	follow := []string{"consume", topic, "-b", addr, "-s", "json", "--timeout", "1s"}
	mustRun(t, 3, "", append(follow, "--where", `.value.sha == "zzz"`, "--expect", "1")...)
	mustRun(t, 0, "", append(follow, "--where", `.value.sha == "def"`, "--expect", "1")...)
	mustRun(t, 3, "", append(follow, "--where", `.value.sha == "zzz"`, "-n", "1")...)
}

func TestConsumeWhereWaitsForEvent(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := seed(t, addr, 1, kafkatest.Message{Value: []byte(`{"sha":"old","status":"ok"}`)})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errb strings.Builder
	out := newSignalWriter()
	// The start is a time taken before the trigger: a start at "end"
	// could be looked up after the event and miss it.
	t0 := time.Now().Add(-time.Second)
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"streamctl", "consume", topic, "-b", addr, "-s", "json", "-o", fmt.Sprintf("@%d", t0.UnixMilli()),
			"--where", `.value.sha == $ENV.GIT_SHA and .value.status == "ok"`, "-n", "1", "--timeout", "50s"},
			Streams{In: strings.NewReader(""), Out: out, Err: &errb, Environ: func() []string { return []string{"GIT_SHA=new"} }})
	}()
	// Until the event comes, the waiting run has nothing to print: send
	// non-matching messages, then the event.
	kafkatest.Produce(t, addr, topic, kafkatest.Message{Value: []byte(`{"sha":"new","status":"pending"}`)})
	kafkatest.Produce(t, addr, topic, kafkatest.Message{Value: []byte(`{"sha":"new","status":"ok"}`)})
	if code := exitCode(t, done, "consume --where"); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	if out.String() != `{"sha":"new","status":"ok"}`+"\n" {
		t.Errorf("stdout %q", out.String())
	}
}

func TestConsumeFilterGroupCommitsNonMatching(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := mixedTopic(t, addr)
	group := topic + "-g"
	r := mustRun(t, 0, "", "consume", topic, "-b", addr, "-g", group, "-e", "--grep", "k:^a$", "-f", `%k\n`)
	if r.Stdout != "a\n" {
		t.Fatalf("stdout %q", r.Stdout)
	}
	r = mustRun(t, 0, "", "offsets", topic, "-b", addr, "-g", group, "-J")
	if !strings.Contains(r.Stdout, `"lag":0`) {
		t.Errorf("offsets after a filtered group run: %s, want lag 0", r.Stdout)
	}
}
