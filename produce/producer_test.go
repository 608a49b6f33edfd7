package produce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"
)

// fakeSink is a Sink that holds every message until AsyncClose and then
// answers them in reverse order, so that acknowledgements arrive out of
// input order; fail decides which messages fail.
type fakeSink struct {
	in   chan *sarama.ProducerMessage
	succ chan *sarama.ProducerMessage
	errs chan *sarama.ProducerError
	fail func(value string) error
	got  chan []*sarama.ProducerMessage // everything sent, in the order sent
}

var _ Sink = (*fakeSink)(nil)

func newFakeSink(fail func(string) error) *fakeSink {
	s := &fakeSink{
		in:   make(chan *sarama.ProducerMessage, 16),
		succ: make(chan *sarama.ProducerMessage),
		errs: make(chan *sarama.ProducerError),
		fail: fail,
		got:  make(chan []*sarama.ProducerMessage, 1),
	}
	go func() {
		var all []*sarama.ProducerMessage
		for m := range s.in {
			all = append(all, m)
		}
		s.got <- all
		next := map[int32]int64{}
		for i := len(all) - 1; i >= 0; i-- {
			m := all[i]
			var v []byte
			if m.Value != nil {
				v, _ = m.Value.Encode()
			}
			if err := s.fail(string(v)); err != nil {
				s.errs <- &sarama.ProducerError{Msg: m, Err: err}
				continue
			}
			m.Partition = int32(len(v) % 2)
			m.Offset = next[m.Partition]
			next[m.Partition]++
			s.succ <- m
		}
		close(s.succ)
		close(s.errs)
	}()
	return s
}

func (s *fakeSink) Input() chan<- *sarama.ProducerMessage     { return s.in }
func (s *fakeSink) Successes() <-chan *sarama.ProducerMessage { return s.succ }
func (s *fakeSink) Errors() <-chan *sarama.ProducerError      { return s.errs }
func (s *fakeSink) AsyncClose()                               { close(s.in) }

func failOn(bad ...string) func(string) error {
	return func(v string) error {
		for _, b := range bad {
			if v == b {
				return fmt.Errorf("rejected %q", v)
			}
		}
		return nil
	}
}

func TestProducerAccounting(t *testing.T) {
	cases := []struct {
		name    string
		inputs  []Input
		f       Format
		o       Options
		fail    []string
		stats   Stats
		err     string
		offsets string
	}{
		{name: "all acknowledged, offsets in input order",
			inputs:  []Input{{R: strings.NewReader("a\nbb\nc\ndd\n")}},
			o:       Options{Offsets: &strings.Builder{}},
			stats:   Stats{Sent: 4, Acked: 4},
			offsets: "1 1\n0 1\n1 0\n0 0\n"},
		{name: "failures by line, first five in input order",
			inputs: []Input{{R: strings.NewReader("ok\nx1\nok\nx2\nx3\nx4\nx5\nx6\nx7\n")}},
			fail:   []string{"x1", "x2", "x3", "x4", "x5", "x6", "x7"},
			stats:  Stats{Sent: 9, Acked: 2, Failed: 7},
			err: `2 of 9 messages delivered to topic "t", 7 failed
line 2: rejected "x1"
line 4: rejected "x2"
line 5: rejected "x3"
line 6: rejected "x4"
line 7: rejected "x5"
... and 2 more`},
		{name: "failed messages print no offsets",
			inputs:  []Input{{R: strings.NewReader("a\nx\nb\n")}},
			o:       Options{Offsets: &strings.Builder{}},
			fail:    []string{"x"},
			stats:   Stats{Sent: 3, Acked: 2, Failed: 1},
			err:     "2 of 3 messages delivered to topic \"t\", 1 failed\nline 2: rejected \"x\"",
			offsets: "1 1\n1 0\n"},
		{name: "files are numbered on their own",
			inputs: []Input{{Name: "a.txt", R: strings.NewReader("1\n2")}, {Name: "b.txt", R: strings.NewReader("x\n")}},
			fail:   []string{"x"},
			stats:  Stats{Sent: 3, Acked: 2, Failed: 1},
			err:    "2 of 3 messages delivered to topic \"t\", 1 failed\nline 1 of b.txt: rejected \"x\""},
		{name: "bad input stops after delivering what came before",
			inputs: []Input{{R: strings.NewReader("a\nb\nbad\nc\n")}},
			f:      Format{ValueEncoder: upper{}},
			stats:  Stats{Sent: 2, Acked: 2},
			err:    "line 3: value: bad text"},
		{name: "skip invalid goes on",
			inputs: []Input{{R: strings.NewReader("a\nbad\nc\nbad\n")}},
			f:      Format{ValueEncoder: upper{}},
			o:      Options{SkipInvalid: true},
			stats:  Stats{Sent: 2, Acked: 2, Skipped: 2}},
		{name: "bad input and failures both reported",
			inputs: []Input{{R: strings.NewReader("x\nbad\n")}},
			f:      Format{ValueEncoder: upper{}},
			fail:   []string{"X"},
			stats:  Stats{Sent: 1, Failed: 1},
			err:    "line 2: value: bad text\n0 of 1 messages delivered to topic \"t\", 1 failed\nline 1: rejected \"X\""},
		{name: "read error",
			inputs: []Input{{R: io.MultiReader(strings.NewReader("a\n"), iotestErrReader{})}},
			stats:  Stats{Sent: 1, Acked: 1},
			err:    "reading stdin: disk on fire"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.Topic = "t"
			c.o.Partition = -1
			var skipped []string
			c.o.Invalid = func(err error) { skipped = append(skipped, err.Error()) }
			p := New(&c.f, c.o)
			st, err := p.Run(context.Background(), c.inputs, newFakeSink(failOn(c.fail...)))
			if diff := cmp.Diff(c.stats, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != c.err {
				t.Errorf("error:\n%s\nwant:\n%s", gotErr, c.err)
			}
			if int64(len(skipped)) != c.stats.Skipped {
				t.Errorf("skipped lines reported: %q, want %d", skipped, c.stats.Skipped)
			}
			if c.o.Offsets != nil {
				if got := c.o.Offsets.(*strings.Builder).String(); got != c.offsets {
					t.Errorf("offsets: got %q, want %q", got, c.offsets)
				}
			}
		})
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestProducerMessages checks what reaches the sink: null stays null, the
// fixed partition and line travel in Metadata.
func TestProducerMessages(t *testing.T) {
	sink := newFakeSink(failOn())
	p := New(&Format{KeyDelimiter: []byte(":"), Tombstone: true}, Options{Topic: "t", Partition: 3})
	if _, err := p.Run(context.Background(), []Input{{R: strings.NewReader("k:v\nnokey\nk:\n")}}, sink); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range <-sink.got {
		pm := m.Metadata.(*pending)
		s := fmt.Sprintf("line %d topic %s partition %d", pm.line, m.Topic, pm.partition)
		for _, e := range []sarama.Encoder{m.Key, m.Value} {
			if e == nil {
				s += " null"
			} else {
				b, _ := e.Encode()
				s += fmt.Sprintf(" %q", b)
			}
		}
		got = append(got, s)
	}
	want := []string{
		`line 1 topic t partition 3 "k" "v"`,
		`line 2 topic t partition 3 null "nokey"`,
		`line 3 topic t partition 3 "k" null`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

// TestProducerInterrupt cancels the run while the input is still open: what
// was read is delivered and counted, and Run returns without waiting for
// the blocked read.
func TestProducerInterrupt(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	sink := &echoSink{in: make(chan *sarama.ProducerMessage), succ: make(chan *sarama.ProducerMessage, 100), errs: make(chan *sarama.ProducerError)}
	go sink.run()
	p := New(&Format{}, Options{Topic: "t", Partition: -1})
	done := make(chan struct{})
	var st Stats
	var err error
	go func() {
		st, err = p.Run(ctx, []Input{{R: pr}}, sink)
		close(done)
	}()
	if _, err := io.WriteString(pw, "a\nb\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for p.Progress().Acked < 2 {
		select {
		case <-deadline:
			t.Fatalf("lines not acknowledged: %+v", p.Progress())
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{Sent: 2, Acked: 2, Interrupted: true}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

// echoSink acknowledges each message as it arrives.
type echoSink struct {
	in   chan *sarama.ProducerMessage
	succ chan *sarama.ProducerMessage
	errs chan *sarama.ProducerError
}

func (s *echoSink) run() {
	for m := range s.in {
		s.succ <- m
	}
	close(s.succ)
	close(s.errs)
}

func (s *echoSink) Input() chan<- *sarama.ProducerMessage     { return s.in }
func (s *echoSink) Successes() <-chan *sarama.ProducerMessage { return s.succ }
func (s *echoSink) Errors() <-chan *sarama.ProducerError      { return s.errs }
func (s *echoSink) AsyncClose()                               { close(s.in) }
