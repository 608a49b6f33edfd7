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
	ctx, cancel := context.WithCancel(context.Background())
	// The first signal asks for a clean stop; a second one stops at once.
	// The handler stays to the end: stopping it would bring back the
	// disposition streamctl started with, and a background job of a script
	// starts with SIGINT ignored.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		cancel()
		sig := <-signals
		cmd.Abort()
		os.Exit(cmd.ExitSignal + int(sig.(syscall.Signal)))
	}()
	os.Exit(cmd.Run(ctx, os.Args, cmd.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv, Environ: os.Environ}))
}
