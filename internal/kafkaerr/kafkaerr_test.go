package kafkaerr

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
)

func TestRetriable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{sarama.ErrNotLeaderForPartition, true},
		{sarama.ErrUnknownTopicOrPartition, true},
		{sarama.ErrOffsetsLoadInProgress, true},
		{sarama.ErrNotCoordinatorForConsumer, true},
		{fmt.Errorf("partition 3: %w", sarama.ErrNotEnoughReplicas), true},
		{sarama.ErrMessageSizeTooLarge, false},
		{sarama.ErrTopicAuthorizationFailed, false},
		{sarama.ErrUnsupportedVersion, false},
		{sarama.ErrInvalidRecord, false},
		{sarama.ErrOutOfOrderSequenceNumber, false},
		{sarama.PacketEncodingError{Info: "bad"}, false},
		{sarama.PacketDecodingError{Info: "bad"}, false},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{io.EOF, true},
		{sarama.ErrOutOfBrokers, true},
		{errors.New("connection reset"), true},
	} {
		if got := Retriable(tc.err); got != tc.want {
			t.Errorf("Retriable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestCoordinator(t *testing.T) {
	for _, err := range []error{sarama.ErrOffsetsLoadInProgress, sarama.ErrConsumerCoordinatorNotAvailable, sarama.ErrNotCoordinatorForConsumer} {
		if !Coordinator(fmt.Errorf("group: %w", err)) {
			t.Errorf("Coordinator(%v) = false, want true", err)
		}
		if !Retriable(err) {
			t.Errorf("Retriable(%v) = false: a coordinator error must be retriable too", err)
		}
	}
	if Coordinator(sarama.ErrNotLeaderForPartition) {
		t.Error("Coordinator(NOT_LEADER) = true, want false")
	}
}
