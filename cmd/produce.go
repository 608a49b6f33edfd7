package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/codec"
	"github.com/streamctl/streamctl/produce"
	"github.com/urfave/cli/v2"
)

// defaultMaxMessageBytes is assumed when the topic's max.message.bytes
// cannot be read (no DescribeConfigs permission).
const defaultMaxMessageBytes = 1 << 20

func produceCommand(s Streams) *cli.Command {
	return &cli.Command{
		Name:      "produce",
		Usage:     "publish stdin or files to a topic, and tell whether every message was acknowledged",
		ArgsUsage: "TOPIC",
		Description: `Sends each line of stdin (or of the -F files) as one message to TOPIC, then
says on stderr how many were sent and acknowledged. It exits 0 only when every
message was acknowledged; any failed message, or a bad input line, exits 1 and
names the input lines. stdout stays empty unless --print-offsets is given.

Every message is acknowledged or failed within --delivery-timeout, retries
included: if the brokers go away, produce stops reading at the first timeout,
says how many messages were delivered and which lines failed, and exits 1. On
SIGINT or SIGTERM it stops reading and waits for what was read, each message
at most its delivery timeout. With --acks none no broker answers: messages
count as sent, not acknowledged, and --print-offsets prints offset -1.

A missing key is a null key (never ""), so keyless messages spread over the
partitions; keyed messages land where the Java client, Faust and librdkafka's
murmur2_random put them. A missing topic is created (see --create-partitions).

Examples:
   echo hello | streamctl produce greetings
   streamctl produce orders -K: < keyed.txt                  # "key:value" lines
   streamctl produce events -F a.jsonl -F b.jsonl -s json    # validate and compact JSON
   streamctl produce t -D '\0' -F records.bin                # NUL-separated records
   streamctl consume A -J -e | streamctl produce B -J        # copy a topic, keys, headers, nulls and all
   echo '{"id":1}' | streamctl produce deploys -k ci -H source=ci --print-offsets
   streamctl produce users -K: -Z < deletes.txt              # "key:" lines become tombstones
   echo '{"version":"1.2"}' | streamctl produce deploys -q || exit 1   # a CI step fails unless acknowledged
   echo '{"id":1,"total":"9.90"}' | streamctl produce orders -s avro --schema-registry localhost:8081   # latest orders-value
   streamctl produce orders -s avro --value-schema order.avsc --register < orders.jsonl`,
		Flags: append([]cli.Flag{
			&cli.GenericFlag{Name: "file", Aliases: []string{"F"}, Value: &stringList{}, EnvVars: envVars("file"),
				Usage: "read messages from `PATH` instead of stdin (repeatable; - is stdin)"},
			&cli.StringFlag{Name: "delimiter", Aliases: []string{"D"}, Value: `\n`, EnvVars: envVars("delimiter"),
				Usage: "message delimiter, one or more bytes, with escapes \\n \\r \\t \\0 \\\\ \\xHH", DefaultText: `\n`},
			&cli.StringFlag{Name: "key-delimiter", Aliases: []string{"K"}, EnvVars: envVars("key-delimiter"),
				Usage: "split each message into key and value at the first `DELIM` (same escapes; no delimiter: null key)"},
			// Not STREAMCTL_KEY nor STREAMCTL_PARTITION (below): consume
			// --exec gives its command those names for the message's facts,
			// and a streamctl produce it runs must not take them for flags.
			&cli.StringFlag{Name: "key", Aliases: []string{"k"}, EnvVars: envVars("produce-key"),
				Usage: "key of every message (default: null)"},
			&cli.GenericFlag{Name: "header", Aliases: []string{"H"}, Value: &stringList{}, EnvVars: envVars("header"),
				Usage: "add header `NAME=VALUE` to every message (repeatable, order kept)"},
			&cli.BoolFlag{Name: "tombstone", Aliases: []string{"Z"}, EnvVars: envVars("tombstone"),
				Usage: "send an empty value (and an empty -K key) as null: a tombstone on compacted topics"},
			&cli.BoolFlag{Name: "json", Aliases: []string{"J"}, EnvVars: envVars("json"),
				Usage: "each line is the JSON envelope 'consume -J' prints (key, value, headers, partition, timestamp)"},
			&cli.StringFlag{Name: "value-serializer", Aliases: []string{"s"}, Value: "raw", EnvVars: envVars("value-serializer"),
				Usage: "encode values with `CODEC`: raw, json (validate and compact), binary, pickle, hex, avro, protobuf, jsonschema, sr (the schema registry's type), or a chain like json|binary"},
			&cli.StringFlag{Name: "key-serializer", Value: "raw", EnvVars: envVars("key-serializer"),
				Usage: "encode keys with `CODEC` (as --value-serializer)"},
			&cli.StringFlag{Name: "faust-record", EnvVars: envVars("faust-record"),
				Usage: "values are JSON objects of the Faust Record `NAMESPACE` (adds \"__faust\"; implies -s json)"},
			&cli.IntFlag{Name: "partition", Aliases: []string{"p"}, Value: -1, EnvVars: envVars("produce-partition"),
				Usage: "send every message to partition `N`", DefaultText: "the envelope's with -J, else the partitioner's"},
			&cli.StringFlag{Name: "partitioner", Value: "murmur2", EnvVars: envVars("partitioner"),
				Usage: "how keys pick partitions: murmur2 (Java client, Faust, librdkafka murmur2_random), fnv1a, random or roundrobin"},
			&cli.StringFlag{Name: "acks", Value: "all", EnvVars: envVars("acks"),
				Usage: "acknowledgement to wait for: all (idempotent where the broker allows), leader or none"},
			&cli.StringFlag{Name: "compression", Aliases: []string{"z"}, Value: "none", EnvVars: envVars("compression"),
				Usage: "compress batches: none, gzip, snappy, lz4 or zstd (max.message.bytes then limits the compressed batch: the broker judges)"},
			&cli.DurationFlag{Name: "delivery-timeout", Value: produce.DefaultDeliveryTimeout, EnvVars: envVars("delivery-timeout"),
				Usage: "fail a message not acknowledged within `DURATION`, retries included; reading stops then"},
			&cli.BoolFlag{Name: "print-offsets", EnvVars: envVars("print-offsets"),
				Usage: "print a line on stdout for each input line, in input order: \"PARTITION OFFSET\" when acknowledged (offset -1 with --acks none), \"-1 -1 ERROR\" when it failed or was invalid"},
			&cli.BoolFlag{Name: "skip-invalid", EnvVars: envVars("skip-invalid"),
				Usage: "report invalid input lines and go on, instead of stopping at the first"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, EnvVars: envVars("verbose"),
				Usage: "say how many messages were sent and acknowledged even when stderr is not a terminal"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, EnvVars: envVars("quiet"),
				Usage: "print nothing on stderr but errors"},
		}, append(produceSchemaFlags(), topicFlags()...)...),
		Action: func(c *cli.Context) error { return runProduce(c, s) },
	}
}

// stringList is a repeatable flag whose values may hold commas (urfave's
// StringSliceFlag splits on them, which would cut "-H tags=a,b").
type stringList struct{ values []string }

// selfCopy is what urfave/cli passes back to Set when it copies a flag's
// value to its alias; both names share this one value, so there is nothing
// to copy (StringSlice uses the same trick).
const selfCopy = "\x00streamctl:alias-copy"

func (l *stringList) Set(v string) error {
	if v != selfCopy {
		l.values = append(l.values, v)
	}
	return nil
}
func (l *stringList) String() string    { return strings.Join(l.values, ", ") }
func (l *stringList) Serialize() string { return selfCopy }

func listFlag(c *cli.Context, name string) []string {
	if l, ok := c.Generic(name).(*stringList); ok {
		return l.values
	}
	return nil
}

// produceSetup is what the flags say, checked before connecting.
type produceSetup struct {
	topic       string
	format      produce.Format
	partition   int32
	partName    string
	acks        sarama.RequiredAcks
	compression sarama.CompressionCodec
	files       []string
	delivery    time.Duration
	schemas     *schemaSetup
}

func parseProduceFlags(c *cli.Context) (*produceSetup, error) {
	args := c.Args().Slice()
	if len(args) == 0 {
		return nil, usagef("produce needs a topic: streamctl produce TOPIC")
	}
	if len(args) > 1 {
		return nil, usagef("produce takes one topic, got %d arguments (%s); -F names input files", len(args), strings.Join(args, " "))
	}
	ps := &produceSetup{topic: args[0], partition: -1, files: listFlag(c, "file")}
	if err := checkTopicName(ps.topic); err != nil {
		return nil, err
	}
	f := &ps.format
	var err error
	if f.Delimiter, err = produce.ParseDelimiter(c.String("delimiter")); err != nil {
		return nil, usagef("-D/--delimiter: %v", err)
	}
	if c.IsSet("key-delimiter") {
		if f.KeyDelimiter, err = produce.ParseDelimiter(c.String("key-delimiter")); err != nil {
			return nil, usagef("-K/--key-delimiter: %v", err)
		}
	}
	if c.IsSet("key") {
		f.Key = []byte(c.String("key"))
	}
	f.Envelope = c.Bool("json")
	if f.Envelope && (c.IsSet("key-delimiter") || c.IsSet("key")) {
		return nil, usagef("-J reads keys from the envelope: drop -K and -k")
	}
	if c.IsSet("key-delimiter") && c.IsSet("key") {
		return nil, usagef("-k sets one key for all messages and -K reads one per line: use one of them")
	}
	for _, h := range listFlag(c, "header") {
		name, value, ok := strings.Cut(h, "=")
		if !ok || name == "" {
			return nil, usagef("-H/--header %q: want NAME=VALUE", h)
		}
		f.Headers = append(f.Headers, sarama.RecordHeader{Key: []byte(name), Value: []byte(value)})
	}
	f.Tombstone = c.Bool("tombstone")

	valueSpec := c.String("value-serializer")
	if ns := c.String("faust-record"); ns != "" {
		if !c.IsSet("value-serializer") {
			valueSpec = "json"
		}
		f.ValueMeta = func(text []byte) ([]byte, error) { return codec.AddFaustMeta(text, ns) }
	}
	ps.schemas = &schemaSetup{c: c}
	if f.ValueEncoder, err = ps.schemas.encoder("-s/--value-serializer", valueSpec, ps.topic, false, f.Envelope); err != nil {
		ps.schemas.close()
		return nil, err
	}
	if f.KeyEncoder, err = ps.schemas.encoder("--key-serializer", c.String("key-serializer"), ps.topic, true, f.Envelope); err != nil {
		ps.schemas.close()
		return nil, err
	}

	if c.IsSet("partition") {
		p := c.Int("partition")
		if p < 0 || p > 1<<31-1 {
			return nil, usagef("-p/--partition %d: want a partition number, 0 or more", p)
		}
		ps.partition = int32(p)
	}
	f.IgnorePartition = c.IsSet("partition") || c.IsSet("partitioner")
	ps.partName = c.String("partitioner")
	if err = produce.CheckPartitioner(ps.partName); err != nil {
		return nil, usagef("--partitioner: %v", err)
	}
	switch a := c.String("acks"); a {
	case "all", "-1":
		ps.acks = sarama.WaitForAll
	case "leader", "1":
		ps.acks = sarama.WaitForLocal
	case "none", "0":
		ps.acks = sarama.NoResponse
	default:
		return nil, usagef("--acks %q: want all, leader or none", a)
	}
	switch z := c.String("compression"); z {
	case "none", "":
		ps.compression = sarama.CompressionNone
	case "gzip":
		ps.compression = sarama.CompressionGZIP
	case "snappy":
		ps.compression = sarama.CompressionSnappy
	case "lz4":
		ps.compression = sarama.CompressionLZ4
	case "zstd":
		ps.compression = sarama.CompressionZSTD
	default:
		return nil, usagef("-z/--compression %q: want none, gzip, snappy, lz4 or zstd", z)
	}
	if ps.delivery = c.Duration("delivery-timeout"); ps.delivery <= 0 {
		return nil, usagef("--delivery-timeout %s: want a positive duration, like 30s", ps.delivery)
	}
	if c.Bool("quiet") && c.Bool("verbose") {
		return nil, usagef("-q/--quiet and -v/--verbose contradict each other: use one")
	}
	return ps, nil
}

// encoder returns the codec chain named spec, or nil for raw (the hot path
// skips it). A schema codec picks its writer schema now, so that a missing
// subject shows before any input is read; with -J and no schema flag the
// envelopes' schema ids may be all it needs, so a missing subject is then
// an error only for a record without one.
func (s *schemaSetup) encoder(flag, spec, topic string, key, envelope bool) (produce.Encoder, error) {
	ch, err := s.chain(flag, spec, topic, key, true)
	if err != nil {
		return nil, err
	}
	if ch.Raw() {
		return nil, nil
	}
	side := "value"
	if key {
		side = "key"
	}
	if envelope && !s.writerChosen(side) {
		return ch, nil
	}
	if err := ch.Prepare(); err != nil {
		return nil, explainSchemaError(fmt.Errorf("%s %s: %w", flag, spec, err), side)
	}
	return ch, nil
}

// producerConfig sets the delivery side of the sarama configuration:
// streamctl builds record batches itself and sends them with the broker's
// produce requests, five in flight per broker.
func producerConfig(conf *sarama.Config, ps *produceSetup) {
	p := &conf.Producer
	p.RequiredAcks = ps.acks
	p.Compression = ps.compression
	p.Retry.Backoff = 100 * time.Millisecond
	p.Timeout = min(p.Timeout, ps.delivery)
	conf.Net.MaxOpenRequests = maxInFlight
}

// produceMemoryLimit is the Go runtime's soft memory limit while
// producing, unless GOMEMLIMIT says otherwise: the Batcher's MaxBuffered
// (12 MiB of record batches, sent as they are) lives under it with room
// for garbage. At 40 MiB, when sarama still copied what was in flight,
// peak RSS was 40 MB at 100k lines of 100 B and 54-56 MB from 1M to 3M;
// at 32 MiB it is 38, 47 and 48 MB, for the same CPU.
const produceMemoryLimit = 32 << 20

// maxInFlight is how many produce requests may await an answer per broker:
// Kafka's most with idempotence.
const maxInFlight = 5

func runProduce(c *cli.Context, s Streams) error {
	ps, err := parseProduceFlags(c)
	if err != nil {
		return err
	}
	defer ps.schemas.close()
	// Every message is a few short-lived objects: collecting less often
	// cuts a fifth of the CPU. The memory limit holds the heap (mostly
	// records in flight, bounded by the Batcher) well under 100 MB.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	if s.Getenv == nil || s.Getenv("GOMEMLIMIT") == "" {
		// With GOGC at 400 the heap fills whatever limit it has, so the
		// limit is what peak RSS comes to: produce's is lower than the
		// default, leaving the binary and the runtime room under 64 MB
		// whatever the input's length.
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(produceMemoryLimit))
	}
	quiet, verbose := c.Bool("quiet"), c.Bool("verbose")
	stderr := &lockedWriter{w: s.Err}
	tty := isTerminal(s.Err)
	say := func(msg string) {
		if !quiet {
			fmt.Fprintf(stderr, "streamctl: %s\n", msg)
		}
	}
	debug := func(msg string) {
		if verbose {
			fmt.Fprintf(stderr, "streamctl: %s\n", msg)
		}
	}
	warn := func(msg string) { fmt.Fprintf(stderr, "streamctl: %s\n", msg) }

	var inputs []produce.Input
	for _, name := range ps.files {
		if name == "-" {
			inputs = append(inputs, produce.Input{R: s.In})
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("-F: %w", err)
		}
		defer f.Close()
		inputs = append(inputs, produce.Input{Name: name, R: f})
	}
	if len(inputs) == 0 {
		inputs = []produce.Input{{R: s.In}}
	}

	conf, err := kafkaConfig(c, warn)
	if err != nil {
		return err
	}
	producerConfig(conf, ps)
	ctx := c.Context
	client, err := connect(ctx, c, conf)
	if err != nil {
		return err
	}
	defer client.Close()
	// A partition without a leader does not hold the others up: keyless
	// messages go elsewhere, keyed ones wait up to their delivery timeout.
	if err := ensureTopicsWait(ctx, c, client, []string{ps.topic}, say, false); err != nil {
		return err
	}
	parts, err := client.Partitions(ps.topic)
	if err != nil {
		return fmt.Errorf("topic %q: %w", ps.topic, err)
	}
	n := int32(len(parts))
	if ps.partition >= n {
		return withHint(fmt.Errorf("partition %d does not exist in topic %q", ps.partition, ps.topic),
			"the topic has %s: give one of them to -p, or leave -p out to let --partitioner choose", produce.PartitionRange(n))
	}
	ps.format.Partitions = n
	ps.format.MaxBytes = maxMessageBytes(client, ps.topic, debug)
	ps.format.Compressed = ps.compression != sarama.CompressionNone
	conf.Producer.MaxMessageBytes = ps.format.MaxBytes

	opts := produce.Options{
		Topic:       ps.topic,
		Partition:   ps.partition,
		SkipInvalid: c.Bool("skip-invalid"),
		Invalid:     func(err error) { warn(err.Error() + " (skipped)") },
		NoAcks:      ps.acks == sarama.NoResponse,
	}
	if c.Bool("print-offsets") {
		opts.Offsets = s.Out
	}
	p := produce.New(&ps.format, opts)

	stopProgress := func() {}
	if tty && !quiet {
		stopProgress = progress(stderr, p)
	}
	b, err := newBatcher(ctx, client, conf, ps, n, debug, warn)
	if err != nil {
		stopProgress()
		return err
	}
	st, err := p.Run(ctx, inputs, b)
	stopProgress()

	var de *produce.DeliveryError
	if !quiet && !errors.As(err, &de) && (verbose || tty || err != nil || st.Interrupted) {
		say(summary(ps.topic, st, opts.NoAcks))
	}
	var le *produce.LineError
	var pe *produce.PartitionError
	switch {
	case errors.As(err, &de) && de.Stats.TimedOut:
		return withHint(err, "no acknowledgement within --delivery-timeout %s: check that the brokers are up and reachable, or allow more time", ps.delivery)
	case errors.As(err, &de) && failedWith(de, sarama.ErrMessageSizeTooLarge):
		return withHint(err, "a message is larger than the topic's max.message.bytes (%d) even compressed: raise that setting of the topic, or split the message", ps.format.MaxBytes)
	case errors.As(err, &pe) && !errors.As(err, &de):
		// Skipping such lines would drop data: the fix is the topic, or
		// partitioning anew.
		return withHint(err, "topic %q has %s: copy into a topic with at least %d (--create-partitions %d when it does not exist yet), or re-partition by key with --partitioner murmur2, which overrides the envelope's partition",
			ps.topic, plural(int64(pe.Partitions), "partition"), pe.Partition+1, pe.Partition+1)
	case errors.Is(err, codec.ErrRegistryFailed) && !errors.As(err, &de):
		return withHint(err, "the schema registry failed, not the input: check --schema-registry and its credentials, then send the rest again from that line")
	case errors.As(err, &le) && !opts.SkipInvalid && !errors.As(err, &de):
		return withHint(err, "fix that line, or give --skip-invalid to report such lines and go on")
	}
	return err
}

// failedWith says whether one of the failures de lists is for target.
func failedWith(de *produce.DeliveryError, target error) bool {
	for _, f := range de.Failures {
		if errors.Is(f.Err, target) {
			return true
		}
	}
	return false
}

// newBatcher starts the batching sender, idempotent with acks=all. A
// broker that refuses idempotence for good (no IDEMPOTENT_WRITE
// permission, or no support) leaves acks=all without it, and warn says so
// whatever the verbosity: a retried batch may then be written twice.
func newBatcher(ctx context.Context, client sarama.Client, conf *sarama.Config, ps *produceSetup, partitions int32, debug, warn func(string)) (*produce.Batcher, error) {
	bc := produce.BatchConfig{
		Topic:           ps.topic,
		Partitions:      partitions,
		Partitioner:     ps.partName,
		Acks:            ps.acks,
		Compression:     ps.compression,
		Version:         conf.Version,
		Timeout:         conf.Producer.Timeout,
		MaxMessageBytes: ps.format.MaxBytes,
		Idempotent:      ps.acks == sarama.WaitForAll,
		IdempotenceOff: func(err error) {
			warn(fmt.Sprintf("%v: sending without idempotence, so a retried batch may be written twice", err))
		},
		// Retries are bounded by the delivery timeout alone, as in the
		// Java client since KIP-91: a leader election may take longer than
		// any fixed count of retries.
		DeliveryTimeout: ps.delivery,
		RetryBackoff:    conf.Producer.Retry.Backoff,
		MaxInFlight:     maxInFlight,
	}
	b, err := produce.NewBatcher(ctx, client, bc)
	if err != nil {
		return nil, fmt.Errorf("starting the producer: %w", err)
	}
	if b.Idempotent() {
		debug("idempotent producer: retries cannot duplicate or reorder messages")
	}
	return b, nil
}

// summary is the accounting line: what was sent and what came back.
func summary(topic string, st produce.Stats, noAcks bool) string {
	var b strings.Builder
	if st.Interrupted {
		b.WriteString("interrupted: ")
	}
	b.WriteString(plural(st.Sent, "message"))
	if noAcks {
		fmt.Fprintf(&b, " sent to topic %q (not acknowledged: --acks none)", topic)
	} else {
		fmt.Fprintf(&b, " sent, %d acknowledged to topic %q", st.Acked, topic)
	}
	if st.Skipped > 0 {
		fmt.Fprintf(&b, ", %s skipped", plural(st.Skipped, "invalid line"))
	}
	return b.String()
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// progress keeps a live count on the terminal's last line until stopped.
// It starts after a second, so short runs print only the summary.
func progress(w io.Writer, p *produce.Producer) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		start, shown := time.Now(), false
		for {
			select {
			case <-done:
				if shown {
					fmt.Fprint(w, "\r\033[K")
				}
				return
			case now := <-t.C:
				if now.Sub(start) < time.Second {
					continue
				}
				st := p.Progress()
				fmt.Fprintf(w, "\r\033[Kstreamctl: %d sent, %d acknowledged, %d failed", st.Sent, st.Acked, st.Failed)
				shown = true
			}
		}
	}()
	return func() { close(done); <-finished }
}

// maxMessageBytes reads the topic's max.message.bytes, or assumes 1 MiB.
func maxMessageBytes(client sarama.Client, topic string, debug func(string)) int {
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err == nil {
		// The admin shares the client: closing it would close ours.
		var entries []sarama.ConfigEntry
		entries, err = admin.DescribeConfig(sarama.ConfigResource{
			Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"max.message.bytes"},
		})
		for _, e := range entries {
			if e.Name == "max.message.bytes" {
				if n, perr := strconv.Atoi(e.Value); perr == nil && n > 0 {
					return n
				}
			}
		}
	}
	debug(fmt.Sprintf("cannot read max.message.bytes of topic %q (%v): assuming %d", topic, err, defaultMaxMessageBytes))
	return defaultMaxMessageBytes
}

// lockedWriter serialises writes from the progress line, skipped-line
// reports and the summary.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
