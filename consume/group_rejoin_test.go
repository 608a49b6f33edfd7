package consume

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// endedSessionGroup is a sarama.ConsumerGroup whose first Consume comes
// back as a session that ended while its Setup still asked for offsets (a
// rebalance began: sarama cancels the session's context); the second ends
// the run.
type endedSessionGroup struct {
	sarama.ConsumerGroup
	calls  atomic.Int32
	cancel context.CancelFunc
}

func (g *endedSessionGroup) Consume(ctx context.Context, _ []string, _ sarama.ConsumerGroupHandler) error {
	if g.calls.Add(1) == 1 {
		return fmt.Errorf("group %q offsets: %w", "g", context.Canceled)
	}
	g.cancel()
	return nil
}

// coordinatorOnly is a client that can only be asked to look the
// coordinator up again, as the retry after a failed session does.
type coordinatorOnly struct{ sarama.Client }

func (coordinatorOnly) RefreshCoordinator(string) error { return nil }

// TestGroupRejoinsQuietlyAfterASessionEndedInSetup: members started
// together rebalance while each one's first session is still being set
// up; that session's end is not a failure, so the member joins again at
// once and says nothing ("context canceled; retrying" was printed before).
func TestGroupRejoinsQuietlyAfterASessionEndedInSetup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := &endedSessionGroup{cancel: cancel}
	r := &runner{client: coordinatorOnly{}, o: Options{Group: "g", Topics: []string{"t"}, Exit: true}, warnc: make(chan string, 8), errs: make(chan error, 1)}
	r.consumeGroup(ctx, g, &groupHandler{r: r, ctx: ctx})
	if got := g.calls.Load(); got != 2 {
		t.Errorf("Consume called %d times, want 2 (joined again once)", got)
	}
	select {
	case msg := <-r.warnc:
		t.Errorf("warned %q, want no warning", msg)
	default:
	}
	select {
	case err := <-r.errs:
		t.Errorf("failed with %v", err)
	default:
	}
}
