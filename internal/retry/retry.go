// Package retry is the one way Strata's loops wait before trying again: an exponential backoff
// (github.com/cenkalti/backoff) that doubles without jitter between a floor and a ceiling, and a
// wait that gives up when its context ends.
package retry

import (
	"context"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Backoff waits initial, then twice as long after each failure, up to a ceiling; Reset goes back to
// initial after a success. It is not safe for concurrent use.
type Backoff struct{ b backoff.ExponentialBackOff }

// NewBackoff returns a Backoff from initial to ceiling (a ceiling below initial: initial).
func NewBackoff(initial, ceiling time.Duration) *Backoff {
	return &Backoff{b: backoff.ExponentialBackOff{InitialInterval: initial, Multiplier: 2,
		MaxInterval: max(initial, ceiling)}}
}

// Next returns the wait before the next try, and doubles the one after it.
func (b *Backoff) Next() time.Duration { return b.b.NextBackOff() }

// Reset makes the next wait the initial one again.
func (b *Backoff) Reset() { b.b.Reset() }

// Wait waits for the next backoff or until ctx ends; it reports false when ctx ended.
func (b *Backoff) Wait(ctx context.Context) bool { return Sleep(ctx, b.Next()) }

// Sleep waits d or until ctx ends; it reports false when ctx ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
