// Command streamctl produces to and consumes from Apache Kafka.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/streamctl/streamctl/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks for a clean stop; a second one kills at once.
	context.AfterFunc(ctx, stop)
	code := cmd.Run(ctx, os.Args, cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}
