package pagenode

import (
	"context"
	"errors"
	"fmt"

	"strata/internal/archive"
	"strata/internal/page"
	"strata/internal/pagestore"
)

// rebuildSource is the segment source of a Page Store of a cluster being rebuilt from the
// archive (`strata up --rebuild-from`, docs/history.md): an empty store finds the log starting
// at the archive's base and copies every segment as of it from the base; any other copy (a
// segment moved later) comes from its peers, as always.
type rebuildSource struct {
	base  archive.BaseSource
	peers pagestore.SegmentSource
}

var _ pagestore.SegmentSource = rebuildSource{}

// CopySegment copies from the base at its position, else from the peers.
func (r rebuildSource) CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(n int), emit func(*page.Page) error) error {
	if lsn == r.base.Base.LSN {
		return r.base.CopySegment(ctx, seg, lsn, pages, emit)
	}
	return r.peers.CopySegment(ctx, seg, lsn, pages, emit)
}

// UsedSegments asks the peers, and the base when none answers (they are being rebuilt too).
func (r rebuildSource) UsedSegments(ctx context.Context) ([]uint64, error) {
	segs, err := r.peers.UsedSegments(ctx)
	if err == nil {
		return segs, nil
	}
	segs, berr := r.base.UsedSegments(ctx)
	if berr != nil {
		return nil, errors.Join(err, berr)
	}
	return segs, nil
}

// rebuildSourceOf returns the source of a store rebuilt from the archive at spec: peers, with
// the base the rebuild starts from before them; peers alone when the rebuild has no base.
func rebuildSourceOf(ctx context.Context, spec string, peers pagestore.SegmentSource) (pagestore.SegmentSource, error) {
	st, err := archive.Open(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("pagenode: the archive to rebuild from: %w", err)
	}
	plan, err := st.RebuildPlan(ctx)
	if err != nil {
		return nil, fmt.Errorf("pagenode: the archive to rebuild from: %w", err)
	}
	if plan.Base == nil {
		return peers, nil
	}
	return rebuildSource{base: archive.BaseSource{Store: st, Base: *plan.Base}, peers: peers}, nil
}
