package consume

import (
	"context"
	"sync"
)

// demand keeps the fetcher from fetching what -n will never print: while
// the messages handed to the loop and not yet handled could make up what
// -n still wants, a further fetch waits. With -n 1 the first fetch is the
// only one: a second would cost a megabyte read, parsed (and allocated,
// which starts the garbage collector in a run that lasts milliseconds),
// and the broker's work to send it, all for nothing. Messages a filter
// leaves out, or that fail to decode and are skipped, are handled without
// being written: the fetching goes on once they are.
type demand struct {
	mu sync.Mutex
	// active says -n is given; without it the fetcher never waits.
	active bool
	// handed counts the messages sent to the loop and not yet handled;
	// left is what -n wants beyond what has been written.
	handed, left int
	// changed is closed (and replaced) by handled when a fetcher waits:
	// each leader's loop may be waiting.
	changed chan struct{}
}

func newDemand(num int) *demand {
	return &demand{active: num > 0, left: num}
}

// hand counts n messages about to be sent to the loop (less, with n
// negative: a send given up).
func (d *demand) hand(n int) {
	if !d.active || n == 0 {
		return
	}
	d.mu.Lock()
	d.handed += n
	d.mu.Unlock()
}

// handled counts n messages the loop is done with, left being what -n
// still wants, and wakes the fetchers waiting in await.
func (d *demand) handled(n, left int) {
	if !d.active {
		return
	}
	d.mu.Lock()
	d.handed = max(d.handed-n, 0)
	d.left = left
	if d.changed != nil {
		close(d.changed)
		d.changed = nil
	}
	d.mu.Unlock()
}

// await returns once what was handed may fall short of what -n wants, or
// when ctx ends (then false): the loop stops the run once -n is met.
func (d *demand) await(ctx context.Context) bool {
	if !d.active {
		return true
	}
	for {
		d.mu.Lock()
		if d.handed < d.left {
			d.mu.Unlock()
			return true
		}
		if d.changed == nil {
			d.changed = make(chan struct{})
		}
		changed := d.changed
		d.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}
