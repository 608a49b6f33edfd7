// Package kafkaerr decides, in one table that consume and produce share,
// which Kafka errors may clear by themselves when the request is made again
// (after a metadata or coordinator refresh), and which are the broker's
// final word.
package kafkaerr

import (
	"context"
	"errors"
	"time"

	"github.com/IBM/sarama"
)

// retriable are the error codes the Java client marks RetriableException:
// a leader moving, a broker restarting, replicas catching up, a coordinator
// loading or moving, metadata not yet everywhere.
var retriable = map[sarama.KError]bool{
	sarama.ErrUnknownTopicOrPartition:         true, // metadata not yet on every broker
	sarama.ErrLeaderNotAvailable:              true,
	sarama.ErrNotLeaderForPartition:           true,
	sarama.ErrRequestTimedOut:                 true,
	sarama.ErrBrokerNotAvailable:              true,
	sarama.ErrReplicaNotAvailable:             true,
	sarama.ErrNetworkException:                true,
	sarama.ErrOffsetsLoadInProgress:           true, // COORDINATOR_LOAD_IN_PROGRESS
	sarama.ErrConsumerCoordinatorNotAvailable: true, // COORDINATOR_NOT_AVAILABLE
	sarama.ErrNotCoordinatorForConsumer:       true, // NOT_COORDINATOR
	sarama.ErrNotEnoughReplicas:               true,
	sarama.ErrNotEnoughReplicasAfterAppend:    true,
	sarama.ErrNotController:                   true,
	sarama.ErrConcurrentTransactions:          true,
	sarama.ErrKafkaStorageError:               true,
	sarama.ErrFencedLeaderEpoch:               true,
	sarama.ErrUnknownLeaderEpoch:              true,
	sarama.ErrOffsetNotAvailable:              true,
	sarama.ErrPreferredLeaderNotAvailable:     true,
	sarama.ErrUnstableOffsetCommit:            true,
	sarama.ErrThrottlingQuotaExceeded:         true,
}

// Retriable reports whether err may go away if the request is made again.
// An error code is judged by the table above. Anything else that is not
// about the request itself (a refused, reset or timed-out connection, no
// broker reachable) is retriable too: it is not the broker's verdict. A
// request that cannot be encoded or decoded is not.
func Retriable(err error) bool {
	if err == nil {
		return false
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		return retriable[ke]
	}
	var pe sarama.PacketEncodingError
	var pd sarama.PacketDecodingError
	if errors.As(err, &pe) || errors.As(err, &pd) {
		return false
	}
	return true
}

// Coordinator reports whether err says a group's or a transaction's
// coordinator is loading, moved or is away: ask for the coordinator again,
// then retry.
func Coordinator(err error) bool {
	return errors.Is(err, sarama.ErrOffsetsLoadInProgress) ||
		errors.Is(err, sarama.ErrConsumerCoordinatorNotAvailable) ||
		errors.Is(err, sarama.ErrNotCoordinatorForConsumer)
}

// Retry calls fn until it succeeds, fails with an error Retriable does not
// call retriable, ctx is done, or giveUp has passed since its first failure,
// and returns fn's last error. Before each new attempt it waits a little
// longer (100 ms doubling to a second) and calls refresh, if not nil, which
// asks the cluster again where the request should go (metadata, a
// coordinator).
func Retry(ctx context.Context, giveUp time.Duration, refresh func(), fn func() error) error {
	var first time.Time
	backoff := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil || !Retriable(err) {
			return err
		}
		if first.IsZero() {
			first = time.Now()
		} else if time.Since(first) >= giveUp {
			return err
		}
		// The last try comes as the give-up bound ends, not a whole
		// backoff after it.
		t := time.NewTimer(min(backoff, giveUp-time.Since(first)))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
		if refresh != nil {
			refresh()
		}
	}
}
