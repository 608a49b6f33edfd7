package consume

import (
	"context"
	"time"

	"github.com/streamctl/streamctl/internal/kafkaerr"
)

// retry calls fn until it succeeds, fails with an error kafkaerr does not
// call retriable, ctx is done, or giveUp has passed since its first failure,
// and returns fn's last error. Before each new attempt it waits a little
// longer (100 ms doubling to a second) and calls refresh, which asks the
// cluster again where the request should go (metadata, a coordinator).
func retry(ctx context.Context, giveUp time.Duration, refresh func(error), fn func() error) error {
	var first time.Time
	backoff := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil || !kafkaerr.Retriable(err) {
			return err
		}
		if first.IsZero() {
			first = time.Now()
		} else if time.Since(first) >= giveUp {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
		if refresh != nil {
			refresh(err)
		}
	}
}
