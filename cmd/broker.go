package cmd

import (
	"fmt"
	"math"
	"runtime/debug"

	"github.com/streamctl/streamctl/internal/broker"
	"github.com/urfave/cli/v2"
)

func brokerCommand(s Streams) *cli.Command {
	return &cli.Command{
		Name:  "broker",
		Usage: "run a local Kafka broker in this process (for development and tests, NOT for production)",
		Description: `Starts a single-node, Kafka-protocol-compatible broker (franz-go's kfake) that
streamctl, kcat and the Java clients can all talk to. It is meant for trying
streamctl out, local development and tests: one node, no replication, no
security, and no durability promises. Do not run it in production.

It prints its address on stderr once ready and stops cleanly on SIGINT or
SIGTERM. Data lives in memory unless --data-dir is given.

Examples:
   streamctl broker &                           # localhost:9092
   streamctl broker --listen 127.0.0.1:0        # a free port, printed on stderr
   streamctl broker --partitions 3 --data-dir ./.kafka-data
   streamctl broker --registry 127.0.0.1:8081   # and a schema registry, for -s avro|protobuf|jsonschema|sr`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9092", EnvVars: envVars("listen"),
				Usage: "`host:port` to listen on (port 0 picks a free port)"},
			&cli.IntFlag{Name: "partitions", Value: 1, EnvVars: envVars("broker-partitions"),
				Usage: "partitions of topics created without a count"},
			&cli.StringFlag{Name: "data-dir", EnvVars: envVars("data-dir"),
				Usage: "keep data in `DIR` across restarts (default: in memory)"},
			&cli.StringFlag{Name: "registry", EnvVars: envVars("broker-registry"),
				Usage: "also serve a Confluent-compatible schema registry (franz-go's srfake, in memory) on `host:port`"},
			&cli.BoolFlag{Name: "no-auto-create", EnvVars: envVars("no-auto-create"),
				Usage: "do not create a missing topic when a client's metadata request asks to (Kafka's auto.create.topics.enable=false)"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("broker takes no arguments, got %q", c.Args().First())
			}
			if c.Int("partitions") < 1 {
				return usagef("--partitions must be at least 1")
			}
			// The broker keeps every topic in memory: the soft memory limit
			// that suits the clients would make it collect without end.
			debug.SetMemoryLimit(math.MaxInt64)
			b, err := broker.Start(broker.Options{
				Listen:     c.String("listen"),
				Partitions: c.Int("partitions"),
				DataDir:    c.String("data-dir"),
				Registry:   c.String("registry"),
				// Kafka's default auto.create.topics.enable=true: a
				// Faust worker started before its topic sees it at once.
				AutoCreateTopics: !c.Bool("no-auto-create"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Err, "streamctl: broker listening on %s (development only; Ctrl-C stops it)\n", b.Addr())
			if u := b.RegistryURL(); u != "" {
				fmt.Fprintf(s.Err, "streamctl: schema registry listening on %s (in memory)\n", u)
			}
			<-c.Context.Done()
			b.Close()
			fmt.Fprintln(s.Err, "streamctl: broker stopped")
			return nil
		},
	}
}
