package agent

import (
	"bytes"
	"fmt"

	"github.com/streamctl/streamctl/consume"
)

// NewlineError says a record's value holds a newline, in Line mode
// without the envelope: it cannot go as one line, and the command's
// answers would slide onto the wrong records.
type NewlineError struct {
	Source
}

// Is makes it a consume.ErrRefused: the records before it are done first.
func (e *NewlineError) Is(target error) bool { return target == consume.ErrRefused }

func (e *NewlineError) Error() string {
	return fmt.Sprintf("%s: the value holds a newline, so it cannot be written to the command as one line", e.Source)
}

// oneLine checks that m's value can be written as one line.
func (r *Runner) oneLine(m consume.Message) error {
	if r.o.Mode != Line || r.o.Envelope || bytes.IndexByte(m.Record.Value, '\n') < 0 {
		return nil
	}
	return &NewlineError{Source{TopicPartition: m.Ticket.TopicPartition, Offset: m.Ticket.Offset, Session: m.Ticket.Session}}
}
