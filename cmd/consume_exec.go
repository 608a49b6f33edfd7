package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/agent"
	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/produce"
	"github.com/urfave/cli/v2"
)

// execFlags are consume's agent flags: --exec and what goes with it.
func execFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "exec", EnvVars: envVars("exec"),
			Usage: "run `CMD` (with sh -c) for each message, its value on stdin and STREAMCTL_TOPIC, _PARTITION, _OFFSET, _TIMESTAMP, _KEY, _KEY_BASE64, _HEADERS in its environment; with -g a message is committed only once CMD succeeded for it and for every message before it in its partition"},
		&cli.StringFlag{Name: "exec-mode", Value: "message", EnvVars: envVars("exec-mode"),
			Usage: "message: run CMD once per message; line: keep one CMD running, write it a line per message (the -J envelope with -J) and read one line back per message, ok or why it failed"},
		&cli.IntFlag{Name: "concurrency", Value: 1, EnvVars: envVars("concurrency"),
			Usage: "run CMD for up to `N` messages at once (line mode: keep N commands), keeping each partition's order (each key's with --order key)"},
		&cli.StringFlag{Name: "order", Value: "partition", EnvVars: envVars("order"),
			Usage: "what --concurrency keeps in order: partition, or key (messages of one key, within a partition)"},
		&cli.IntFlag{Name: "retries", EnvVars: envVars("retries"),
			Usage: "try CMD again up to `N` times for a message it failed on"},
		&cli.DurationFlag{Name: "retry-backoff", Value: time.Second, EnvVars: envVars("retry-backoff"),
			Usage: "wait this long before the first retry, doubling each time up to 30s"},
		&cli.StringFlag{Name: "dead-letter", EnvVars: envVars("dead-letter"),
			Usage: "write a message CMD failed on (after --retries) to `TOPIC` with its key, value and headers and streamctl.error.* headers saying why, and go on (default: stop with exit 1)"},
	}
}

// execSetup is what the agent flags asked for, checked before connecting.
type execSetup struct {
	o          agent.Options
	deadLetter string
	to         *toSetup // --to, if given
}

// newExecSetup reads the agent flags; nil when --exec is not given.
func newExecSetup(c *cli.Context, s Streams, o *consume.Options) (*execSetup, error) {
	if !c.IsSet("exec") {
		for _, f := range []string{"exec-mode", "concurrency", "order", "retries", "retry-backoff", "dead-letter", "to", "to-json", "exactly-once", "transactional-id"} {
			if c.IsSet(f) {
				return nil, usagef("--%s goes with --exec", f)
			}
		}
		return nil, nil
	}
	e := &execSetup{deadLetter: c.String("dead-letter")}
	// CMD's stderr and streamctl's own messages share one writer, a write
	// at a time.
	stderr := &lockedWriter{w: s.Err}
	o.Warn = func(msg string) { fmt.Fprintf(stderr, "streamctl: %s\n", msg) }
	e.o = agent.Options{
		Command:     c.String("exec"),
		Concurrency: c.Int("concurrency"),
		Retries:     c.Int("retries"),
		Backoff:     c.Duration("retry-backoff"),
		Stdout:      s.Out,
		Stderr:      stderr,
		Stopping:    func() { o.Warn("stopping: commands under way finish first (a second signal kills them)") },
	}
	if e.o.Command == "" {
		return nil, usagef("--exec needs a command")
	}
	switch {
	case e.o.Concurrency < 1:
		return nil, usagef("--concurrency %d: want 1 or more", e.o.Concurrency)
	case e.o.Retries < 0:
		return nil, usagef("--retries %d: want 0 or more", e.o.Retries)
	case e.o.Backoff <= 0:
		return nil, usagef("--retry-backoff %s: want a positive duration", e.o.Backoff)
	}
	switch c.String("exec-mode") {
	case "message":
	case "line":
		e.o.Mode = agent.Line
		e.o.Envelope = c.Bool("json")
	default:
		return nil, usagef("--exec-mode: want message or line, got %q", c.String("exec-mode"))
	}
	switch c.String("order") {
	case "partition":
	case "key":
		e.o.Order = agent.ByKey
	default:
		return nil, usagef("--order: want partition or key, got %q", c.String("order"))
	}
	switch {
	case c.IsSet("format") || c.Bool("pretty"):
		return nil, usagef("-f and --pretty print messages; with --exec, CMD's output is printed")
	case c.Bool("json") && e.o.Mode != agent.Line:
		return nil, usagef("-J with --exec is for --exec-mode line (an envelope per line); CMD gets the value on its stdin")
	}
	if s.Environ != nil {
		e.o.Env = s.Environ()
	}
	if err := readToFlags(c, e, o); err != nil {
		return nil, err
	}
	if o.Group == "" {
		o.Warn("without -g/--group nothing is committed: CMD runs for every message read, from --offset, each time")
	}
	return e, nil
}

// run consumes with CMD as the processor of every message.
func (e *execSetup) run(c *cli.Context, ctx context.Context, client sarama.Client, conf *sarama.Config, o consume.Options, timeout time.Duration) (consume.Stats, error) {
	if e.deadLetter != "" {
		if err := ensureTopics(ctx, c, client, []string{e.deadLetter}, o.Warn); err != nil {
			return consume.Stats{}, err
		}
		dl, err := newDeadLetters(ctx, client, conf, e.deadLetter, o.Warn)
		if err != nil {
			return consume.Stats{}, err
		}
		defer func() {
			if cerr := dl.s.Close(); cerr != nil {
				o.Warn(cerr.Error())
			}
		}()
		e.o.DeadLetters = dl
	}
	if e.to != nil {
		stop, err := e.to.start(ctx, c, client, conf, e, &o)
		if err != nil {
			return consume.Stats{}, err
		}
		defer func() {
			if cerr := stop(); cerr != nil {
				o.Warn(cerr.Error())
			}
		}()
	}
	r, err := agent.New(c.Context, e.o)
	if err != nil {
		return consume.Stats{}, fmt.Errorf("--exec: %w", err)
	}
	o.Processor = r
	st, err := consume.Run(c.Context, client, o, nopWriter{})
	if cerr := r.Close(); cerr != nil && err == nil && e.o.Mode == agent.Line {
		o.Warn(cerr.Error())
	}
	if terr := toError(err); terr != nil {
		return st, terr
	}
	return st, execError(err, timeout, o.Group != "")
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// execError words the agent's errors, and consume's as consume does;
// grouped says what failed was held back from a group's commits.
func execError(err error, timeout time.Duration, grouped bool) error {
	var ce *agent.CommandError
	var ae *agent.AgentExitError
	var de *agent.DeadLetterError
	var ne *agent.NewlineError
	held := func(src agent.Source) string {
		if grouped {
			return fmt.Sprintf("nothing from %s on in its partition was committed", src)
		}
		return fmt.Sprintf("the run stopped at %s (without -g nothing is committed: a run again starts where -o says)", src)
	}
	switch {
	case errors.As(err, &ne):
		return withHint(fmt.Errorf("consume: %w", err), "-J writes each message as its -J envelope, one line whatever the value holds; %s", held(ne.Source))
	case errors.As(err, &de):
		if grouped {
			return withHint(fmt.Errorf("consume: %w", err), "%s: it is read again next time", held(de.Failure.Source))
		}
		return withHint(fmt.Errorf("consume: %w", err), "%s", held(de.Failure.Source))
	case errors.As(err, &ce) && ce.Attempts > 1:
		return withHint(fmt.Errorf("consume: %w", err), "%s; --dead-letter TOPIC sets such messages aside and goes on", held(ce.Source))
	case errors.As(err, &ce):
		return withHint(fmt.Errorf("consume: %w", err), "%s; --retries N tries again, --dead-letter TOPIC sets such messages aside and goes on", held(ce.Source))
	case errors.As(err, &ae):
		return withHint(fmt.Errorf("consume: %w", err), "with --exec-mode line, CMD reads a line per message and answers each with one line: ok, or why it failed")
	}
	return consumeError(err, timeout)
}

// deadLetters writes dead letters through the producer engine (a
// produce.Sender), each acknowledged before Send returns: the message it
// stands for is done only once it is safely aside.
type deadLetters struct {
	s     *produce.Sender
	topic string
}

var _ agent.DeadLetters = (*deadLetters)(nil)

// newDeadLetters starts the sender of the dead-letter topic.
func newDeadLetters(ctx context.Context, client sarama.Client, conf *sarama.Config, topic string, warn func(string)) (*deadLetters, error) {
	s, err := produce.NewSender(ctx, client, produce.SenderConfig{Batch: produce.BatchConfig{
		Acks: sarama.WaitForAll, Version: conf.Version, Timeout: conf.Producer.Timeout,
		MaxMessageBytes: maxMessageBytes(client, topic, func(string) {}),
		Idempotent:      true, MaxInFlight: 1, RetryBackoff: conf.Producer.Retry.Backoff,
		IdempotenceOff: func(err error) {
			warn(fmt.Sprintf("%v: dead letters are sent without idempotence, so a retried one may be written twice", err))
		},
	}})
	if err != nil {
		return nil, fmt.Errorf("dead-letter topic %q: %w", topic, err)
	}
	return &deadLetters{s: s, topic: topic}, nil
}

func (d *deadLetters) Send(ctx context.Context, m agent.DeadLetter) error {
	res := make(chan produce.Result, 1)
	err := d.s.Send(ctx, produce.Message{Topic: d.topic, Key: m.Key, Value: m.Value, Headers: m.Headers, Partition: -1},
		func(r produce.Result) { res <- r })
	if err != nil {
		return err
	}
	select {
	case r := <-res:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}
