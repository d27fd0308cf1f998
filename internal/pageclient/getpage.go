package pageclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"strata/internal/page"
	"strata/internal/storage"
)

// GetPage implements storage.PageSource: it fills dst with page id as of lsn from the first
// replica of the page's segment that answers with a good page (see the package comment).
func (c *Client) GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error {
	if id == page.Invalid {
		return fmt.Errorf("pageclient: page %d: %w", id, storage.ErrPageNotFound)
	}
	reps, err := c.order(id)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx) // ends the other requests once one has answered
	defer cancel()
	results := make(chan result, len(reps))
	next, inflight := 0, 0
	launch := func() time.Duration {
		r := reps[next]
		next++
		inflight++
		go func() { results <- r.getPage(ctx, id, lsn) }()
		return c.hedgeDelay(r)
	}
	hedge := time.NewTimer(launch())
	defer hedge.Stop()
	var errs []error
	for {
		select {
		case res := <-results:
			inflight--
			if res.err == nil {
				*dst = *res.p
				res.release()
				c.demoteSlower(reps[:next], res.r)
				return nil
			}
			if res.final {
				return res.err
			}
			if ctx.Err() != nil {
				return fmt.Errorf("pageclient: page %d at lsn %d: %w (%w)", id, lsn, ctx.Err(), errors.Join(append(errs, res.err)...))
			}
			errs = append(errs, res.err)
			if !errors.Is(res.err, storage.ErrCompacted) { // a sound replica without that history
				res.r.avoid(c.opts.AvoidFor)
			}
			c.log.Debug("pageclient: replica failed", "addr", res.r.addr, "page", id, "lsn", lsn, "err", res.err)
			if next < len(reps) {
				hedge.Reset(launch())
			} else if inflight == 0 {
				return fmt.Errorf("pageclient: page %d at lsn %d: every replica failed: %w", id, lsn, errors.Join(errs...))
			}
		case <-hedge.C:
			if next < len(reps) {
				hedge.Reset(launch())
			}
		case <-ctx.Done():
			return fmt.Errorf("pageclient: page %d at lsn %d: %w", id, lsn, ctx.Err())
		}
	}
}

// demoteSlower marks the replicas asked before the winner that had not answered yet as
// avoided: they lost a hedge, so the next reads go elsewhere first.
func (c *Client) demoteSlower(asked []*replica, winner *replica) {
	for _, r := range asked {
		if r == winner {
			return
		}
		if !r.avoided(time.Now()) {
			r.avoid(c.opts.AvoidFor)
			c.log.Debug("pageclient: replica lost a hedged read", "addr", r.addr, "winner", winner.addr)
		}
	}
}
