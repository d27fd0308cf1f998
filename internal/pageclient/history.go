package pageclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/storage"
)

var _ storage.TimeIndex = (*Client)(nil)

// timeAnswer is one Page Store's answer to LSNAt.
type timeAnswer struct {
	addr  string
	tp    storage.TimePoint
	found bool
	err   error // the call failed; the other fields are zero
}

// LSNAt implements storage.TimeIndex over every Page Store of the placement, asked in
// parallel (each indexes every commit, but keeps its own history window): a store that found
// the time answers (when several did and disagree, the highest position, which is the same
// committed state and readable on more of them). When none found it, the error wraps
// storage.ErrBeforeHistory with the union of the stores' windows; when no store answered at
// all, it is their errors.
func (c *Client) LSNAt(ctx context.Context, at int64, atLeast page.LSN) (storage.TimePoint, error) {
	return c.askTimes(ctx, fmtMicros(at), func(r *replica) *pageserverpb.LSNAtRequest {
		return &pageserverpb.LSNAtRequest{Timeline: r.timeline, TimeMicros: at, AtLeast: uint64(atLeast)}
	})
}

var _ storage.CommitIndex = (*Client)(nil)

// CommitAtOrBefore implements storage.CommitIndex over every Page Store of the placement, as
// LSNAt does.
func (c *Client) CommitAtOrBefore(ctx context.Context, lsn page.LSN) (storage.TimePoint, error) {
	return c.askTimes(ctx, fmt.Sprintf("log position %d", lsn), func(r *replica) *pageserverpb.LSNAtRequest {
		return &pageserverpb.LSNAtRequest{Timeline: r.timeline, ByLsn: uint64(lsn)}
	})
}

// askTimes asks every Page Store of the placement the time index question req builds (about
// asked: a time or a position, for messages), in parallel, and merges their answers.
func (c *Client) askTimes(ctx context.Context, asked string, req func(*replica) *pageserverpb.LSNAtRequest) (storage.TimePoint, error) {
	addrs := c.Placement().Addrs()
	if len(addrs) == 0 {
		return storage.TimePoint{}, fmt.Errorf("pageclient: the time index at %s: no Page Store in the placement", asked)
	}
	answers := make([]timeAnswer, len(addrs))
	c.each(addrs, func(i int, r *replica) error {
		resp, err := r.pb.LSNAt(ctx, req(r))
		if err != nil {
			return err
		}
		answers[i] = timeAnswer{addr: r.addr, found: resp.GetFound(), tp: storage.TimePoint{
			LSN: page.LSN(resp.GetLsn()), Oldest: resp.GetOldestMicros(), Newest: resp.GetNewestMicros()}}
		return nil
	}, func(i int, addr string, err error) { answers[i] = timeAnswer{addr: addr, err: err} })
	return c.mergeTimeAnswers(ctx, asked, answers)
}

// mergeTimeAnswers makes one answer of the stores' answers to LSNAt (see LSNAt).
func (c *Client) mergeTimeAnswers(ctx context.Context, asked string, answers []timeAnswer) (storage.TimePoint, error) {
	var best, window storage.TimePoint
	var found, answered, windowed bool
	var errs []error
	for _, a := range answers {
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		answered = true
		if a.tp.Newest != 0 || a.tp.Oldest != 0 { // the store has indexed something
			if !windowed || a.tp.Oldest < window.Oldest {
				window.Oldest = a.tp.Oldest
			}
			window.Newest = max(window.Newest, a.tp.Newest)
			windowed = true
		}
		if !a.found {
			continue
		}
		if found && a.tp.LSN != best.LSN {
			c.log.Debug("pageclient: Page Stores disagree on LSNAt; taking the highest position",
				"asked", asked, "lsn", max(a.tp.LSN, best.LSN), "other", min(a.tp.LSN, best.LSN), "store", a.addr)
		}
		if !found || a.tp.LSN > best.LSN {
			best.LSN = a.tp.LSN
		}
		found = true
	}
	switch {
	case found:
		best.Oldest, best.Newest = window.Oldest, window.Newest
		return best, nil
	case !answered:
		if err := ctx.Err(); err != nil {
			errs = append([]error{err}, errs...)
		}
		return storage.TimePoint{}, fmt.Errorf("pageclient: the time index at %s: %w", asked, errors.Join(errs...))
	}
	msg := fmt.Sprintf("pageclient: %s is before the history window", asked)
	if windowed {
		msg += fmt.Sprintf(" [%s, %s]", fmtMicros(window.Oldest), fmtMicros(window.Newest))
	} else {
		msg += " (no commit time indexed yet)"
	}
	if len(errs) > 0 {
		failed := make([]string, len(errs))
		for i, err := range errs {
			failed[i] = err.Error()
		}
		msg += fmt.Sprintf(" (%d Page Stores did not answer: %s)", len(errs), strings.Join(failed, "; "))
	}
	return window, fmt.Errorf("%s: %w", msg, storage.ErrBeforeHistory)
}

// fmtMicros formats a time in µs since the Unix epoch as RFC 3339 in UTC, with microseconds.
func fmtMicros(at int64) string {
	return time.UnixMicro(at).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
}
