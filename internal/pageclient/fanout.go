package pageclient

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/placement"
)

// Status is one Page Store's answer to Status.
type Status struct {
	Addr         string
	Consumed     page.LSN
	Persisted    page.LSN
	Floor        page.LSN
	SegmentPages uint64
	Segments     []uint64 // listed segments it serves
	Rest         bool     // keeps every unlisted segment
	Excluded     []uint64 // listed segments it does not keep
	Copying      []placement.CopyProgress
	CopyingRest  bool  // every unlisted segment is being copied from peers
	Err          error // the call failed; the other fields are zero
}

// Status asks every Page Store of the placement for its positions, in parallel.
func (c *Client) Status(ctx context.Context) []Status {
	addrs := c.Placement().Addrs()
	out := make([]Status, len(addrs))
	c.each(addrs, func(i int, r *replica) error {
		st, err := r.pb.Status(ctx, &pageserverpb.StatusRequest{Timeline: r.timeline})
		if err != nil {
			return err
		}
		out[i] = Status{Addr: r.addr, Consumed: page.LSN(st.GetConsumed()), Persisted: page.LSN(st.GetPersisted()),
			Floor: page.LSN(st.GetFloor()), SegmentPages: st.GetSegmentPages(), Segments: st.GetSegments(),
			Rest: st.GetRest(), Excluded: st.GetExcluded(), CopyingRest: st.GetCopyingRest()}
		for _, c := range st.GetCopying() {
			out[i].Copying = append(out[i].Copying, placement.CopyProgress{Segment: c.GetSegment(),
				From: page.LSN(c.GetFrom()), Copied: int(c.GetCopied()), Total: int(c.GetTotal())})
		}
		return nil
	}, func(i int, addr string, err error) { out[i] = Status{Addr: addr, Err: err} })
	return out
}

// MinPersisted returns the lowest persisted position over every Page Store of the placement:
// the log below it may be truncated. It fails if any store does not answer.
func (c *Client) MinPersisted(ctx context.Context) (page.LSN, error) {
	var low page.LSN
	for i, st := range c.Status(ctx) {
		if st.Err != nil {
			return 0, st.Err
		}
		if i == 0 || st.Persisted < low {
			low = st.Persisted
		}
	}
	return low, nil
}

// SetHorizon tells every Page Store of the placement that no reader will ask below lsn any
// more but at the retained positions (snapshots, branch points), whose pages the stores keep.
// It returns the stores' errors joined; the others have the horizon.
func (c *Client) SetHorizon(ctx context.Context, lsn page.LSN, retain ...page.LSN) error {
	addrs := c.Placement().Addrs()
	errs := make([]error, len(addrs))
	keep := make([]uint64, 0, len(retain))
	for _, r := range retain {
		keep = append(keep, uint64(r))
	}
	c.each(addrs, func(_ int, r *replica) error {
		_, err := r.pb.SetHorizon(ctx, &pageserverpb.SetHorizonRequest{Timeline: r.timeline, Lsn: uint64(lsn), Retain: keep})
		return err
	}, func(i int, _ string, err error) { errs[i] = err })
	return errors.Join(errs...)
}

// each calls fn for every address in parallel, and fail for those whose connection or call
// failed, with the error wrapped with the address.
func (c *Client) each(addrs []string, fn func(i int, r *replica) error, fail func(i int, addr string, err error)) {
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			r, err := c.replica(addr)
			if err == nil {
				err = fn(i, r)
			}
			if err != nil {
				fail(i, addr, fmt.Errorf("pageclient: %s: %w", addr, err))
			}
		})
	}
	wg.Wait()
}
