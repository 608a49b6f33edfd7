package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/agent"
	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/produce"
	"github.com/urfave/cli/v2"
)

// toFlags are the flags that stream an agent's output to a topic.
func toFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "to", EnvVars: envVars("to"),
			Usage: "produce each line CMD writes to `TOPIC` (created if missing) instead of printing it; a message is committed only once its output is acknowledged"},
		&cli.BoolFlag{Name: "to-json", EnvVars: envVars("to-json"),
			Usage: "with --to, read each line CMD writes as a -J envelope: its key, value, headers and partition make the record"},
		&cli.BoolFlag{Name: "exactly-once", EnvVars: envVars("exactly-once"),
			Usage: "with --to and -g, produce CMD's output and commit the messages' offsets in one Kafka transaction per commit: a read_committed reader of the --to topic sees each message's output exactly once, even across crashes"},
		&cli.StringFlag{Name: "transactional-id", EnvVars: envVars("transactional-id"),
			Usage: "the Kafka transactional id of this worker for --exactly-once, the same at each restart: the new worker aborts what the old one left open", DefaultText: "streamctl-GROUP-INSTANCE, from -g and --instance-id"},
	}
}

// toSetup is what the --to flags asked for.
type toSetup struct {
	topic      string
	json       bool
	exactly    bool
	txnID      string
	instanceID string
}

// readToFlags reads the --to flags into e (nil when --to is not given).
func readToFlags(c *cli.Context, e *execSetup, o *consume.Options) error {
	o.InstanceID = c.String("instance-id")
	if !c.IsSet("to") {
		for _, f := range []string{"to-json", "exactly-once", "transactional-id"} {
			if c.IsSet(f) {
				return usagef("--%s goes with --to", f)
			}
		}
		return nil
	}
	t := &toSetup{topic: c.String("to"), json: c.Bool("to-json"), exactly: c.Bool("exactly-once"),
		txnID: c.String("transactional-id"), instanceID: o.InstanceID}
	switch {
	case t.topic == "":
		return usagef("--to needs a topic")
	case e.o.Mode != agent.PerMessage:
		return usagef("--to produces what CMD writes in --exec-mode message; in line mode its output is its acknowledgements")
	case c.IsSet("transactional-id") && !t.exactly:
		return usagef("--transactional-id goes with --exactly-once")
	case t.exactly && o.Group == "":
		return usagef("--exactly-once commits the messages' offsets with their output: it needs -g/--group")
	}
	if t.exactly && t.txnID == "" {
		if t.instanceID == "" {
			return withHint(usagef("--exactly-once needs a transactional id that stays the same when this worker restarts"),
				"give --instance-id NAME (one per worker of the group), or --transactional-id ID")
		}
		t.txnID = "streamctl-" + o.Group + "-" + t.instanceID
	}
	e.to = t
	return nil
}

// start creates the --to topic if missing and the sender to it, and sets
// the agent's Output (and, with --exactly-once, consume's Committer).
// stop closes the sender once the run is over.
func (t *toSetup) start(ctx context.Context, c *cli.Context, client sarama.Client, conf *sarama.Config, e *execSetup, o *consume.Options) (stop func() error, err error) {
	if err := ensureTopics(ctx, c, client, []string{t.topic}, o.Warn); err != nil {
		return nil, err
	}
	parts, err := client.Partitions(t.topic)
	if err != nil {
		return nil, fmt.Errorf("--to topic %q: %w", t.topic, err)
	}
	inFlight := min(maxInFlight, max(conf.Net.MaxOpenRequests, 1))
	sc := produce.SenderConfig{Batch: produce.BatchConfig{
		Acks: sarama.WaitForAll, Version: conf.Version, Timeout: conf.Producer.Timeout,
		MaxMessageBytes: maxMessageBytes(client, t.topic, func(string) {}),
		Idempotent:      true, MaxInFlight: inFlight, RetryBackoff: conf.Producer.Retry.Backoff,
		IdempotenceOff: func(err error) {
			o.Warn(fmt.Sprintf("%v: --to sends without idempotence, so a retried batch may be written twice", err))
		},
	}}
	if t.exactly {
		sc.TransactionalID = t.txnID
	}
	// A transactional sender starts before the group is joined: it aborts
	// what a killed worker left open, so the offsets it had put in that
	// transaction are not read as committed.
	s, err := produce.NewSender(ctx, client, sc)
	if err != nil {
		return nil, fmt.Errorf("--to %q: %w", t.topic, err)
	}
	f := &produce.Format{Envelope: t.json, Partitions: int32(len(parts)), MaxBytes: sc.Batch.MaxMessageBytes}
	if t.exactly {
		out := &agent.TxnOutput{Sender: s, Topic: t.topic, Format: f, Group: o.Group}
		e.o.Output, o.Committer = out, out
	} else {
		e.o.Output = &agent.TopicOutput{Sender: s, Topic: t.topic, Format: f}
	}
	return s.Close, nil
}

// toError words the errors of --to and --exactly-once; nil for others.
func toError(err error) error {
	var oe *agent.OutputError
	var fe *produce.FencedError
	var te *produce.TxnError
	var pe *produce.PartitionError
	var le *produce.LineError
	switch {
	case errors.As(err, &fe):
		return withHint(fmt.Errorf("consume: %w", err), "another worker runs with the same --instance-id or --transactional-id: give each worker its own")
	case errors.As(err, &te):
		return withHint(fmt.Errorf("consume: %w", err), "the transaction was aborted: neither its output nor its offsets count, and its messages are read again next time")
	case errors.As(err, &oe) && errors.As(err, &pe):
		return withHint(fmt.Errorf("consume: %w", err), "nothing from %s on in its partition was committed; the --to topic has %s", oe.Source, produce.PartitionRange(pe.Partitions))
	case errors.As(err, &oe) && errors.As(err, &le):
		return withHint(fmt.Errorf("consume: %w", err), "nothing from %s on in its partition was committed; with --to-json each line CMD writes is a -J envelope", oe.Source)
	case errors.As(err, &oe):
		return withHint(fmt.Errorf("consume: %w", err), "nothing from %s on in its partition was committed: it is read again next time", oe.Source)
	}
	return nil
}
