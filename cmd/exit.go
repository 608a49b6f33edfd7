package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamctl/streamctl/agent"
	"github.com/streamctl/streamctl/consume"
)

// The exit codes of streamctl, the one place that says which code means what.
// The README's exit-code table mirrors this list.
const (
	// ExitOK is a normal stop: the input was sent, a stop condition was met,
	// or SIGINT/SIGTERM asked it to stop.
	ExitOK = 0
	// ExitError is a runtime failure: broker, topic, decoding, delivery.
	ExitError = 1
	// ExitUsage is a command line that cannot be run: unknown flag or command,
	// missing topic, bad flag value.
	ExitUsage = 2
	// ExitTimeout means --timeout or --idle-timeout ran out before the
	// requested -n count or -e end was reached, or offsets --wait-lag was
	// not reached by its --timeout, or fewer messages matched than
	// consume --expect asked for.
	ExitTimeout = 3
	// ExitSignal plus the signal's number is the exit code of a run that a
	// second SIGINT or SIGTERM stopped at once: 130 and 143, as shells
	// report a process that signal ended.
	ExitSignal = 128
)

// Abort kills what a run started that would outlive it, the commands
// consume --exec runs and what they started: main calls it before it exits
// at once on a second signal (ExitSignal), which waits for nothing.
func Abort() { agent.Kill() }

// usageError marks a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error (exit 2).
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	var u usageError
	var t *consume.TimeoutError
	var lag *lagError
	var expect *expectError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &u):
		return ExitUsage
	case errors.As(err, &t), errors.As(err, &lag), errors.As(err, &expect):
		return ExitTimeout
	case errors.Is(err, context.Canceled):
		return ExitOK
	default:
		return ExitError
	}
}
