// Package consume reads records from Kafka partitions and writes them,
// decoded and formatted, to an io.Writer. It owns start offsets, stop
// conditions and offset commits.
package consume

// TimeoutError says a timeout cut short a stop condition the user asked for.
type TimeoutError struct{ Msg string }

func (e *TimeoutError) Error() string { return e.Msg }
