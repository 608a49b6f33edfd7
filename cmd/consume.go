package cmd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/consume"
	"github.com/streamctl/streamctl/internal/format"
	"github.com/urfave/cli/v2"
)

func consumeCommand(s Streams) *cli.Command {
	return &cli.Command{
		Name:      "consume",
		Usage:     "print messages from one or more topics",
		ArgsUsage: "TOPIC [TOPIC...]",
		Description: `Subscribes to the topics (creating a missing one, unless --no-create), decodes
each message with the chosen serializers and prints it. With no stop condition
it waits for new messages until interrupted; -n, -e, --idle-timeout and
--timeout stop it, in any combination.

Output: into a pipe, each value and a newline, nothing else; on a terminal, a
readable form with topic, partition, offset, time and key; -f prints a
kcat-style format, -J one lossless JSON object per message.

Exit codes: 0 stopped normally (also on SIGINT/SIGTERM), 1 error, 2 usage,
3 --timeout/--idle-timeout reached before -n, -e or a range end was
satisfied, or fewer messages matched than --expect N.

Filters: --grep on the raw bytes (cheap, before decoding), --where a jq
expression on the -J document; -n counts matches, -v says how many matched.

Examples:
   streamctl consume example_kafka_topic                    # follow, like the Faust worker
   streamctl consume orders -e | wc -l                      # count what is there now
   streamctl consume orders -s json -J -e | jq .value.id    # JSON values, embedded
   streamctl consume orders -o -10 -e -f '%p:%o %k=%s\n'    # the last 10 of each partition
   streamctl consume orders -g billing -n 1 --timeout 30s   # wait for one message in CI
   streamctl consume orders -g billing --instance-id billing-$(hostname) -e   # one of N processes sharing orders
   streamctl consume orders -g billing --balancer roundrobin  # spread partitions one by one
   streamctl consume orders -o @-1h -e                      # the last hour
   streamctl consume orders -s avro --schema-registry localhost:8081 -e   # Avro values as JSON
   streamctl consume orders -s sr -J -e | streamctl produce copy -s sr -J # copy a schema'd topic
   streamctl consume orders -o 100:200                      # offsets 100-199 of each partition
   streamctl consume orders -o @2026-12-01T10:00:00Z:@2026-12-01T11:00:00Z | wc -l
   streamctl consume orders -o 0=100,1=@-1h,2=end           # starts per partition
   streamctl consume -r 'orders\..*' -e                      # every topic named orders.<something>
   streamctl consume deploys -o @$T0 -s json -n 1 --timeout 2m --where '.value.sha == $ENV.GIT_SHA'
   streamctl consume deploys -o @-1h -e --grep 'v:"failed"' --expect 1   # exit 3 unless one
   streamctl consume orders -g billing --exec ./bill.sh     # an agent: commit each once bill.sh succeeded
   streamctl consume orders -g billing -J --exec-mode line --exec 'python3 agent.py' --dead-letter orders.failed`,
		Flags: append([]cli.Flag{
			// Not STREAMCTL_OFFSET: --exec gives its command that name for
			// the message's offset, and a streamctl it runs must not read it.
			&cli.StringFlag{Name: "offset", Aliases: []string{"o"}, Value: "start", EnvVars: envVars("consume-offset"),
				Usage: "where to start in each partition: start, end, N, +N (after start), -N (before end), @TIME (RFC3339, YYYY-MM-DD, unix ms, or -1h); in a group, only where nothing is committed. START:END also stops each partition before END (N, +N after START, end, -N, @TIME) or at the end it had at start, whichever comes first (only an END time still ahead waits, for a message that late), and 0=100,1=@-1h,2=end starts partitions apart"},
			&cli.IntFlag{Name: "num", Aliases: []string{"n"}, EnvVars: envVars("num"),
				Usage: "stop after `N` messages in all"},
			&cli.BoolFlag{Name: "exit", Aliases: []string{"e"}, EnvVars: envVars("exit"),
				Usage: "stop at the end: once every partition reached the end offset it had at start"},
			&cli.DurationFlag{Name: "idle-timeout", EnvVars: envVars("idle-timeout"),
				Usage: "stop after this long without a message (exit 3 if -n or -e was not satisfied)"},
			&cli.DurationFlag{Name: "timeout", EnvVars: envVars("timeout"),
				Usage: "stop after this long in all (exit 3 if -n or -e was not satisfied)"},
			&cli.StringFlag{Name: "partitions", Aliases: []string{"p"}, EnvVars: envVars("partitions"),
				Usage: "read only these partitions, `0,2,5`"},
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, EnvVars: envVars("group"),
				Usage: "consume as a member of consumer group `ID`: resume from its committed offsets and commit what was printed"},
			&cli.StringFlag{Name: "balancer", Value: "range", EnvVars: envVars("balancer"),
				Usage: "how the group shares partitions among its members: range, roundrobin or sticky (with -g; every member of a group must name the same)"},
			&cli.StringFlag{Name: "instance-id", EnvVars: envVars("instance-id"),
				Usage: "static group membership under this `ID` (group.instance.id, with -g): a member restarted under the same ID within the session timeout (10s) gets its partitions back without a rebalance; give each member its own"},
			&cli.StringFlag{Name: "value-serializer", Aliases: []string{"s"}, Value: "raw", EnvVars: envVars("value-serializer"),
				Usage: "decode values with: " + codecList() + ", or a Faust chain such as json|binary (Faust apps default to json)"},
			&cli.StringFlag{Name: "key-serializer", Value: "raw", EnvVars: envVars("key-serializer"),
				Usage: "decode keys with the same codecs (Faust apps default to raw)"},
			&cli.StringFlag{Name: "isolation", Value: "read_committed", EnvVars: envVars("isolation"),
				Usage: "read_committed hides records of open and aborted transactions (and -e ends at the last stable offset); read_uncommitted shows everything"},
			&cli.BoolFlag{Name: "skip-invalid", EnvVars: envVars("skip-invalid"),
				Usage: "report messages that do not decode on stderr and go on (default: stop with exit 1)"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, EnvVars: envVars("format"),
				Usage: "print with a kcat format: %t topic, %p partition, %o offset, %T timestamp (ms), %k key, %K key length, %s value, %S value length, %R value length as 4 big-endian bytes, %h headers, %% a percent sign; \\n \\r \\t \\0 \\\\ \\xHH escapes; nothing is added, so end with \\n for one line per message"},
			&cli.BoolFlag{Name: "pretty", Aliases: []string{"P"}, EnvVars: envVars("pretty"),
				Usage: "print the readable form (topic/partition, offset, time, key, headers, indented JSON) even when stdout is not a terminal; it is the default on a terminal"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"J"}, EnvVars: envVars("json"),
				Usage: "print one lossless JSON envelope per message (topic, partition, offset, timestamp, key, value, headers), readable by 'produce -J'"},
			&cli.StringFlag{Name: "faust-meta", Value: "auto", EnvVars: envVars("faust-meta"),
				Usage: "Faust record metadata (\"__faust\") in JSON keys and values: show, hide, or auto (hide on a terminal)"},
			avroJSONFlag(),
		}, append(append(append(filterFlags(), regexFlags()...), topicFlags()...), append(execFlags(), toFlags()...)...)...),
		Action: func(c *cli.Context) error { return runConsume(c, s) },
	}
}

func codecList() string { return strings.Join(codec.Names(), ", ") }

func runConsume(c *cli.Context, s Streams) error {
	topics := c.Args().Slice()
	if len(topics) == 0 {
		return usagef("consume needs at least one topic")
	}
	regex := c.Bool("regex")
	for _, t := range topics {
		if err := checkTopicExpr(t, regex); err != nil {
			return err
		}
	}
	o := consume.Options{
		Topics:      topics,
		Num:         c.Int("num"),
		Exit:        c.Bool("exit"),
		IdleTimeout: c.Duration("idle-timeout"),
		Group:       c.String("group"),
		Balancer:    c.String("balancer"),
		InstanceID:  c.String("instance-id"),
		SkipInvalid: c.Bool("skip-invalid"),
		Warn:        func(msg string) { fmt.Fprintf(s.Err, "streamctl: %s\n", msg) },
	}
	timeout := c.Duration("timeout")
	if o.Num < 0 || o.IdleTimeout < 0 || timeout < 0 {
		return usagef("-n, --idle-timeout and --timeout must not be negative")
	}
	fo, err := applyFilter(c, s, &o)
	if err != nil {
		return err
	}
	ex, err := newExecSetup(c, s, &o)
	if err != nil {
		return err
	}
	ranges, err := consume.ParseRanges(c.String("offset"), time.Now())
	if err != nil {
		return usagef("--offset: %v", err)
	}
	o.Start, o.End, o.PartitionRanges = ranges.Default.Start, ranges.Default.End, ranges.Partitions
	if o.Group != "" && (ranges.HasEnd() || len(ranges.Partitions) > 0) {
		// A group resumes where it committed: a range or per-partition
		// start would apply to some partitions and not others.
		return usagef("-o START:END and -o P=START are for reading without -g/--group")
	}
	if err := checkMembership(c, o); err != nil {
		return err
	}
	if o.Partitions, err = parsePartitions(c.String("partitions")); err != nil {
		return err
	}
	if len(o.Partitions) > 0 && o.Group != "" {
		// A group assigns partitions itself; reading a chosen few as a
		// member would make it rebalance without end.
		return usagef("-p/--partitions and -g/--group do not go together: a group assigns its members' partitions")
	}
	if len(o.Partitions) > 0 {
		for _, p := range slices.Sorted(maps.Keys(o.PartitionRanges)) {
			if !slices.Contains(o.Partitions, p) {
				return usagef("--offset names partition %d, which -p/--partitions %s leaves out: add it to -p or drop its %d= entry", p, c.String("partitions"), p)
			}
		}
	}
	switch c.String("isolation") {
	case "read_committed":
	case "read_uncommitted":
		o.ReadUncommitted = true
	default:
		return usagef("--isolation: want read_committed or read_uncommitted, got %q", c.String("isolation"))
	}
	schemas := &schemaSetup{c: c}
	defer schemas.close()
	if o.ValueCodec, err = schemas.chain("--value-serializer", c.String("value-serializer"), "", false, false); err != nil {
		return err
	}
	if o.KeyCodec, err = schemas.chain("--key-serializer", c.String("key-serializer"), "", true, false); err != nil {
		return err
	}
	term := isTerminal(s.Out)
	switch c.String("faust-meta") {
	case "show":
	case "hide":
		o.HideFaustMeta = true
	case "auto":
		o.HideFaustMeta = term
	default:
		return usagef("--faust-meta: want show, hide or auto, got %q", c.String("faust-meta"))
	}
	colors, err := useColor(c.String("color"), s.Out, s.Getenv)
	if err != nil {
		return err
	}
	switch {
	case c.Bool("json") && c.IsSet("format"), c.Bool("pretty") && (c.Bool("json") || c.IsSet("format")):
		return usagef("-J, -f and --pretty are different output forms; choose one")
	case c.Bool("json"):
		o.Format = format.JSON{}
	case c.IsSet("format"):
		if o.Format, err = format.ParseTemplate(c.String("format")); err != nil {
			return usagef("--format: %v", err)
		}
	case term || c.Bool("pretty"):
		o.Format = format.Pretty{Palette: palette(colors)}
	default:
		o.Format = format.Plain{}
	}

	warn := o.Warn
	conf, err := kafkaConfig(c, warn)
	if err != nil {
		return err
	}
	conf.Consumer.Return.Errors = true
	conf.Consumer.Fetch.Default = 1 << 20
	conf.Consumer.MaxWaitTime = 100 * time.Millisecond
	conf.ChannelBufferSize = 1024
	conf.Consumer.Offsets.Initial = sarama.OffsetOldest
	conf.Consumer.Offsets.AutoCommit.Enable = true
	conf.Consumer.Offsets.AutoCommit.Interval = time.Second
	conf.Consumer.Group.Rebalance.Timeout = 30 * time.Second
	conf.Consumer.IsolationLevel = sarama.ReadCommitted
	if o.ReadUncommitted {
		conf.Consumer.IsolationLevel = sarama.ReadUncommitted
	}

	// --timeout is the whole run's: connecting and creating topics count.
	// Its deadline is made here, once; consume stops at the same instant.
	ctx := c.Context
	if timeout > 0 {
		o.Deadline = time.Now().Add(timeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, o.Deadline)
		defer cancel()
	}
	timedOut := func(err error) error {
		if timeout > 0 && errors.Is(err, context.DeadlineExceeded) && c.Context.Err() == nil {
			if o.Num == 0 && !o.Exit {
				return nil // the timeout was the only stop asked for
			}
			return consumeError(&consume.TimeoutError{Starting: true, Num: o.Num}, timeout)
		}
		return err
	}
	client, err := connect(ctx, c, conf)
	if err != nil {
		return fo.outcome(consume.Stats{}, timedOut(err))
	}
	defer client.Close()
	if regex {
		following := o.Num == 0 && !o.Exit && timeout == 0 && o.IdleTimeout == 0 && !ranges.HasEnd()
		if o.Topics, err = matchTopics(ctx, client, topics, following, warn); err != nil {
			return fo.outcome(consume.Stats{}, timedOut(err))
		}
		if !o.Exit {
			o.Discover = func(ctx context.Context) ([]string, error) { return discoverTopics(ctx, client, topics) }
			o.DiscoverEvery = discoverEvery
		}
	} else if err := ensureTopics(ctx, c, client, topics, warn); err != nil {
		return fo.outcome(consume.Stats{}, timedOut(err))
	}
	if ex != nil {
		st, err := ex.run(c, ctx, client, conf, o, timeout)
		return fo.outcome(st, err)
	}
	st, err := consume.Run(c.Context, client, o, s.Out)
	return fo.outcome(st, consumeError(err, timeout))
}

// consumeError words what consume returned for the command line: a
// timeout names its flag and the user's own value; a missing partition
// and an undecodable message get a hint at the fix.
func consumeError(err error, timeout time.Duration) error {
	var te *consume.TimeoutError
	var pe *consume.PartitionError
	var de *consume.DecodeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		why := fmt.Sprintf("--timeout %s reached", timeout)
		if te.Idle {
			why = fmt.Sprintf("no message for %s (--idle-timeout)", te.After)
		}
		return wordedTimeout{te, "timed out: " + why + " " + te.Short()}
	case errors.As(err, &pe):
		return withHint(fmt.Errorf("consume: %w", err), "%s", partitionRange(pe.Valid))
	case errors.As(err, &de) && errors.Is(err, codec.ErrRegistryFailed):
		return withHint(fmt.Errorf("consume: %w", err), "check --schema-registry and its credentials; nothing past this message was printed or committed")
	case errors.As(err, &de):
		flag := "-s raw"
		if de.Part == "key" {
			flag = "--key-serializer raw"
		}
		return withHint(fmt.Errorf("consume: %w", err), "--skip-invalid reports such messages and goes on; %s shows the bytes", flag)
	case errors.Is(err, sarama.ErrInconsistentGroupProtocol):
		// Kafka refuses a member whose assignors share none with the
		// group's: other streamctl members with another --balancer, or
		// a running Faust app's group, which uses Faust's own.
		return withHint(fmt.Errorf("consume: %w", err), "every member of a group must give the same --balancer (range unless one is named); "+
			"a running Faust app's group uses Faust's own assignor: give -g a group of streamctl's own, or leave -g out to read without a group")
	case errors.Is(err, consume.ErrNoLeader):
		return withHint(fmt.Errorf("consume: %w", err), "are the brokers up?")
	default:
		return fmt.Errorf("consume: %w", err)
	}
}

// partitionRange says which partitions a topic has: "it has partitions
// 0-5" (Kafka numbers them from 0 up, so a range is the usual answer).
func partitionRange(valid []int32) string {
	ps := slices.Sorted(slices.Values(valid))
	switch {
	case len(ps) == 0:
		return "it has no partitions"
	case len(ps) == 1:
		return fmt.Sprintf("it has only partition %d", ps[0])
	case int(ps[len(ps)-1]-ps[0]) == len(ps)-1:
		return fmt.Sprintf("it has partitions %d-%d", ps[0], ps[len(ps)-1])
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = strconv.Itoa(int(p))
	}
	return "it has partitions " + strings.Join(names, ",")
}

// wordedTimeout is a consume.TimeoutError in the command line's words.
type wordedTimeout struct {
	err *consume.TimeoutError
	msg string
}

func (w wordedTimeout) Error() string { return w.msg }
func (w wordedTimeout) Unwrap() error { return w.err }

// parsePartitions reads "0,2,5".
func parsePartitions(s string) ([]int32, error) {
	var out []int32
	for _, f := range splitList(s) {
		n, err := strconv.ParseInt(f, 10, 32)
		if err != nil || n < 0 {
			return nil, usagef("--partitions: %q is not a partition number (want a list such as 0,2,5)", f)
		}
		out = append(out, int32(n))
	}
	return out, nil
}

// checkMembership checks the group member's flags: the assignor exists
// and both go with -g.
func checkMembership(c *cli.Context, o consume.Options) error {
	for _, name := range []string{"balancer", "instance-id"} {
		if c.IsSet(name) && o.Group == "" {
			return usagef("--%s is for a group member: add -g/--group", name)
		}
	}
	switch {
	case o.Balancer == "cooperative-sticky":
		return withHint(usagef("--balancer cooperative-sticky is not supported: streamctl commits exactly what it printed when a session ends, "+
			"and cooperative rebalancing keeps one session and takes partitions away one at a time"),
			"--balancer sticky also keeps partitions where they were across rebalances (the rebalance itself is eager)")
	case !slices.Contains(consume.Balancers, o.Balancer):
		return usagef("--balancer: want %s, got %q", strings.Join(consume.Balancers, ", "), o.Balancer)
	}
	return nil
}
