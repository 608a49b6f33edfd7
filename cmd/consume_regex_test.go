package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

func TestConsumeRegex(t *testing.T) {
	addr := kafkatest.Broker(t)
	base := kafkatest.Topic(t)
	for _, name := range []string{"a", "b", "xa"} {
		kafkatest.CreateTopic(t, addr, base+"."+name, 1)
		kafkatest.Produce(t, addr, base+"."+name, kafkatest.Message{Value: []byte(name)})
	}
	r := mustRun(t, 0, "", "consume", "-r", base+`\.[ab]`, "-b", addr, "-e")
	if diff := cmp.Diff([]string{"a", "b"}, sortLines(r.Stdout)); diff != "" {
		t.Errorf("-r (-want +got):\n%s", diff)
	}
	// Whole names: "a" alone matches nothing, which is exit 1 naming it.
	r = mustRun(t, 1, "", "consume", "-r", "a", "-b", addr, "-e")
	if !strings.Contains(r.Stderr, `"a"`) {
		t.Errorf("stderr %q does not name the expression", r.Stderr)
	}
	mustRun(t, 2, "", "consume", "-r", "(", "-b", addr, "-e")
	// Internal topics only when named literally.
	r = mustRun(t, 1, "", "consume", "-r", "__consumer_offset.*", "-b", addr, "-e")
	if !strings.Contains(r.Stderr, "no topic matches") {
		t.Errorf("internal topic matched by a pattern: %q", r.Stderr)
	}
}

func TestConsumeRegexWaitsWhenFollowing(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := newSignalWriter()
	done := runInBackground(ctx, out, "consume", "-r", topic+".*", "-b", addr)
	kafkatest.CreateTopic(t, addr, topic+"-late", 1)
	kafkatest.Produce(t, addr, topic+"-late", kafkatest.Message{Value: []byte("late")})
	waitForOutput(t, out, "consume -r")
	cancel()
	if code := exitCode(t, done, "consume -r"); code != 0 {
		t.Errorf("exit %d", code)
	}
	if out.String() != "late\n" {
		t.Errorf("stdout %q", out.String())
	}
}

func TestConsumeRegexPicksUpNewTopics(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic+"-1", 1)
	kafkatest.Produce(t, addr, topic+"-1", kafkatest.Message{Value: []byte("first")})
	out := followNewTopic(t, addr, topic, "consume -r", "consume", "-r", topic+"-.*", "-b", addr)
	if out != "first\nsecond\n" {
		t.Errorf("stdout %q, want the new topic's message too", out)
	}
}

// A SIGINT while -r waits for a first match is a clean stop: exit 0, and
// no "context canceled" on stderr as if something failed.
func TestConsumeRegexInterruptedWhileWaiting(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errw := newSignalWriter()
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"streamctl", "consume", "-r", topic + ".*", "-b", addr},
			Streams{In: strings.NewReader(""), Out: &strings.Builder{}, Err: errw})
	}()
	waitForOutput(t, errw, "consume -r") // "no topic matches ... yet; waiting"
	cancel()
	if code := exitCode(t, done, "consume -r"); code != 0 {
		t.Errorf("exit %d", code)
	}
	if strings.Contains(errw.String(), "context canceled") {
		t.Errorf("stderr %q reports the clean stop as an error", errw.String())
	}
}

// In a group, -r rejoins with the wider subscription when a new matching
// topic appears while following, and commits what it read of it.
func TestConsumeRegexGroupPicksUpNewTopics(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	group := topic + "-g"
	kafkatest.CreateTopic(t, addr, topic+"-1", 1)
	kafkatest.Produce(t, addr, topic+"-1", kafkatest.Message{Value: []byte("first")})
	out := followNewTopic(t, addr, topic, "consume -r -g", "consume", "-r", topic+"-.*", "-g", group, "-b", addr)
	if out != "first\nsecond\n" {
		t.Fatalf("stdout %q, want the new topic's message too", out)
	}
	// Both topics' messages were committed: the group has nothing left.
	kafkatest.Produce(t, addr, topic+"-2", kafkatest.Message{Value: []byte("third")})
	r := mustRun(t, 0, "", "consume", "-r", topic+"-.*", "-g", group, "-b", addr, "-e")
	if r.Stdout != "third\n" {
		t.Errorf("the group resumed with %q, want only the message after", r.Stdout)
	}
}

// followNewTopic runs args (a consume -r following TOPIC-1, which holds
// "first"), creates TOPIC-2 holding "second" once the first is printed,
// and stops the run once that came too (or after 30 s); the run must exit
// 0. It returns what the run printed.
func followNewTopic(t *testing.T, addr, topic, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := newSignalWriter()
	done := runInBackground(ctx, out, args...)
	waitForOutput(t, out, name)
	kafkatest.CreateTopic(t, addr, topic+"-2", 1)
	kafkatest.Produce(t, addr, topic+"-2", kafkatest.Message{Value: []byte("second")})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "second") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond) // polling the output, not synchronising
	}
	cancel()
	if code := exitCode(t, done, name); code != 0 {
		t.Errorf("exit %d", code)
	}
	return out.String()
}
