package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/kafkainfo"
	"github.com/urfave/cli/v2"
)

func offsetsCommand(s Streams) *cli.Command {
	return &cli.Command{
		Name:      "offsets",
		Usage:     "show where each partition of topics, and a consumer group, stand",
		ArgsUsage: "TOPIC [TOPIC...]",
		Description: `Prints, per partition, the start and end offsets; with -g the group's committed
offset and lag (a partition the group never committed has no committed offset
and its lag counts from the start offset); with --at the first offset at or
after a time (the end offset when no message is that late). It creates
nothing: a missing topic is exit 1.

Output: a table with totals, or with -J one JSON object per partition:
{"topic","partition","start","end"} plus "committed","lag" with -g and "at"
with --at.

--wait-lag N --timeout D waits until the group's total lag is at most N
(exit 0), or exits 3 at the deadline with the lag it last saw on stderr.

Exit codes: 0 done, 1 error (also a missing topic), 2 usage, 3 --wait-lag
not reached by the deadline.

Examples:
   streamctl offsets orders                                  # start and end of each partition
   streamctl offsets orders -g billing -J | jq -s 'map(.lag) | add'
   streamctl offsets orders --at @2026-12-01T10:00:00Z       # offsets at a time
   streamctl offsets orders -g billing --wait-lag 0 --timeout 2m   # CI: wait for the consumer`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, EnvVars: envVars("group"),
				Usage: "add consumer group `ID`'s committed offsets and lag"},
			&cli.StringFlag{Name: "at", EnvVars: envVars("at"),
				Usage: "add the first offset at or after `@TIME` (RFC3339, YYYY-MM-DD, unix ms, or -1h)"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"J"}, EnvVars: envVars("json"),
				Usage: "print one JSON object per partition"},
			&cli.Int64Flag{Name: "wait-lag", Value: -1, EnvVars: envVars("wait-lag"),
				Usage: "with -g: wait until the group's total lag is at most `N`, then print", DefaultText: "do not wait"},
			&cli.DurationFlag{Name: "timeout", EnvVars: envVars("timeout"),
				Usage: "give up waiting after this long (exit 3)"},
		},
		Action: func(c *cli.Context) error { return runOffsets(c, s) },
	}
}

// lagError is a --wait-lag the group did not reach by the deadline.
type lagError struct {
	lag, want int64
	timeout   time.Duration
}

func (e *lagError) Error() string {
	if e.lag < 0 {
		return fmt.Sprintf("timed out: --timeout %s reached before the group's lag could be read (--wait-lag %d)", e.timeout, e.want)
	}
	return fmt.Sprintf("timed out: --timeout %s reached with a total lag of %d (--wait-lag %d)", e.timeout, e.lag, e.want)
}

func runOffsets(c *cli.Context, s Streams) error {
	topics := c.Args().Slice()
	if len(topics) == 0 {
		return usagef("offsets needs at least one topic")
	}
	for _, t := range topics {
		if err := checkTopicName(t); err != nil {
			return err
		}
	}
	q := kafkainfo.Query{Topics: topics, Group: c.String("group")}
	if c.IsSet("at") {
		at := c.String("at")
		if !strings.HasPrefix(at, "@") {
			at = "@" + at
		}
		o, err := consume.ParseOffset(at, time.Now())
		if err != nil || o.Kind != consume.AtTime {
			return usagef("--at: want @TIME (RFC3339, YYYY-MM-DD, unix ms, or -1h), got %q", c.String("at"))
		}
		q.At = o.Time
	}
	wait, timeout := c.Int64("wait-lag"), c.Duration("timeout")
	if timeout < 0 {
		return usagef("--timeout must not be negative")
	}
	if c.IsSet("wait-lag") {
		switch {
		case wait < 0:
			return usagef("--wait-lag must not be negative")
		case q.Group == "":
			return usagef("--wait-lag needs -g/--group: lag is a group's")
		}
	}
	warn := func(msg string) { fmt.Fprintf(s.Err, "streamctl: %s\n", msg) }
	conf, err := kafkaConfig(c, warn)
	if err != nil {
		return err
	}
	ctx := c.Context
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	client, err := connect(ctx, c, conf)
	if err != nil {
		return err
	}
	defer client.Close()
	// The deadline ends the wait; what was last seen is the answer.
	var offs []kafkainfo.Offsets
	for {
		got, err := kafkainfo.Stand(ctx, client, q)
		if err != nil && !(wait >= 0 && ctx.Err() != nil) {
			return infoError(err)
		}
		if err == nil {
			offs = got
			if wait < 0 || kafkainfo.TotalLag(offs) <= wait {
				break
			}
		}
		if ctx.Err() == nil {
			t := time.NewTimer(250 * time.Millisecond)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if ctx.Err() != nil {
			if c.Context.Err() != nil {
				return nil // interrupted: SIGINT is a normal stop
			}
			e := &lagError{lag: -1, want: wait, timeout: timeout}
			if offs != nil {
				e.lag = kafkainfo.TotalLag(offs)
			}
			return e
		}
	}
	return printOffsets(s.Out, offs, q, c.Bool("json"))
}

// infoError words kafkainfo's errors for the command line.
func infoError(err error) error {
	var mt *kafkainfo.MissingTopicError
	if errors.As(err, &mt) {
		return withHint(err, "'streamctl topics' lists the topics there are")
	}
	return err
}

// offsetsLine is one partition in -J, its fields in the README's order.
type offsetsLine struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	// groupStand is there with -g only; a nil pointer leaves its fields out.
	*groupStand
	At *int64 `json:"at,omitempty"`
}

// groupStand is where a group stands on a partition: committed is null
// where the group never committed.
type groupStand struct {
	Committed *int64 `json:"committed"`
	Lag       int64  `json:"lag"`
}

func printOffsets(w io.Writer, offs []kafkainfo.Offsets, q kafkainfo.Query, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, o := range offs {
			line := offsetsLine{Topic: o.Topic, Partition: o.Partition, Start: o.Start, End: o.End, At: o.At}
			if q.Group != "" {
				line.groupStand = &groupStand{Committed: o.Committed, Lag: *o.Lag}
			}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "TOPIC\tPARTITION\tSTART\tEND\tMESSAGES\t"
	if q.Group != "" {
		head += "COMMITTED\tLAG\t"
	}
	if !q.At.IsZero() {
		head += "AT\t"
	}
	fmt.Fprintln(tw, head)
	var msgs, lag int64
	for _, o := range offs {
		line := fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t", o.Topic, o.Partition, o.Start, o.End, o.End-o.Start)
		msgs += o.End - o.Start
		if q.Group != "" {
			committed := "-"
			if o.Committed != nil {
				committed = strconv.FormatInt(*o.Committed, 10)
			}
			line += fmt.Sprintf("%s\t%d\t", committed, *o.Lag)
			lag += *o.Lag
		}
		if o.At != nil {
			line += fmt.Sprintf("%d\t", *o.At)
		}
		fmt.Fprintln(tw, line)
	}
	total := fmt.Sprintf("total\t%d\t\t\t%d\t", len(offs), msgs)
	if q.Group != "" {
		total += fmt.Sprintf("\t%d\t", lag)
	}
	if !q.At.IsZero() {
		total += "\t"
	}
	fmt.Fprintln(tw, total)
	return tw.Flush()
}

func topicsCommand(s Streams) *cli.Command {
	return &cli.Command{
		Name:      "topics",
		Usage:     "list topics with their partitions, leaders and replicas",
		ArgsUsage: "[REGEX...]",
		Description: `Lists the cluster's topics, or those whose whole name matches a regular
expression (Go syntax, as if wrapped in ^...$), with partitions, replication
factor, leaders and in-sync replicas. Internal topics (__consumer_offsets,
__transaction_state) are hidden unless --internal or named literally. It
creates nothing; an expression that matches no topic is exit 1.

-J prints one JSON object per topic:
{"topic","partitions":[{"partition","leader","replicas","isr"}],"replication_factor"}

Examples:
   streamctl topics                         # every topic
   streamctl topics 'orders\..*' -J | jq -r .topic
   streamctl topics __consumer_offsets      # an internal topic, named`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Aliases: []string{"J"}, EnvVars: envVars("json"),
				Usage: "print one JSON object per topic"},
			&cli.BoolFlag{Name: "internal", EnvVars: envVars("internal"),
				Usage: "include internal topics"},
		},
		Action: func(c *cli.Context) error { return runTopics(c, s) },
	}
}

func runTopics(c *cli.Context, s Streams) error {
	exprs := c.Args().Slice()
	for _, e := range exprs {
		if _, err := kafkainfo.Match(e); err != nil {
			return usagef("topic expression %q: %v", e, err)
		}
	}
	warn := func(msg string) { fmt.Fprintf(s.Err, "streamctl: %s\n", msg) }
	conf, err := kafkaConfig(c, warn)
	if err != nil {
		return err
	}
	client, err := connect(c.Context, c, conf)
	if err != nil {
		return err
	}
	defer client.Close()
	all, err := kafkainfo.Topics(c.Context, client, nil, kafkainfo.Options{})
	if err != nil {
		return err
	}
	sel, err := kafkainfo.Select(all, exprs, c.Bool("internal"))
	if err != nil {
		return withHint(err, "the expression must match the whole name: 'orders.*', not 'orders'")
	}
	if c.Bool("json") {
		enc := json.NewEncoder(s.Out)
		for _, t := range sel {
			if err := enc.Encode(t); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tLEADER\tREPLICAS\tISR")
	for _, t := range sel {
		for _, p := range t.Partitions {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", t.Topic, p.Partition, p.Leader, ints(p.Replicas), ints(p.ISR))
		}
	}
	return tw.Flush()
}

func ints(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}
