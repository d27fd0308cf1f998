package pagestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
	"strata/internal/placement"
	"strata/internal/storage"
)

// ScanSegment is the peer's side of a copy: it calls pages with the number of pages segment
// seg has versions of, then emit with each of them as of lsn (sealed, every record below lsn
// applied; pages without a version below lsn are skipped), waiting first until the store has
// consumed the log up to lsn. It returns ErrNotOwned for a segment the store does not serve
// and ErrCompacted when its history at lsn is not here any more.
func (s *Store) ScanSegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(n int), emit func(p *page.Page) error) error {
	st := s.own.Load()
	lo, hi, err := segmentBounds(seg, st.SegmentPages)
	if err != nil {
		return err
	}
	if !st.serves(lo) {
		return s.notOwned(lo)
	}
	if err := s.damaged(); err != nil {
		return err
	}
	if err := s.waitPersisted(ctx, lsn); err != nil {
		return err
	}
	if f := s.own.Load().floorOf(lo); lsn < f {
		return fmt.Errorf("pagestore: segment %d at lsn %d (copied as of %d): %w", seg, lsn, f, ErrCompacted)
	}
	ids, err := s.pagesIn(lo, hi)
	if err != nil {
		return s.readErr(err)
	}
	pages(len(ids))
	var p page.Page
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		clear(p[:])
		_, err := s.build(id, 0, lsn, &p)
		if errors.Is(err, storage.ErrPageNotFound) {
			continue
		}
		if err != nil {
			return s.readErr(err)
		}
		p.Seal()
		if err := emit(&p); err != nil {
			return err
		}
	}
	return nil
}

// segmentBounds returns the first page of segment seg and the page after its last (0: none).
func segmentBounds(seg, pages uint64) (lo, hi page.ID, err error) {
	if pages == 0 {
		if seg != 0 {
			return 0, 0, fmt.Errorf("pagestore: segment %d of a store without segments: %w", seg, ErrNotOwned)
		}
		return 1, 0, nil
	}
	if seg > math.MaxUint64/pages-1 {
		return 0, 0, fmt.Errorf("pagestore: segment %d of %d pages is out of range: %w", seg, pages, ErrNotOwned)
	}
	return page.ID(max(seg*pages, 1)), page.ID((seg + 1) * pages), nil
}

// pagesIn returns the pages in [lo, hi) (hi 0: no bound) that have a delta or an image, here
// or, in a branch store, in its base (whose pages it shares).
func (s *Store) pagesIn(lo, hi page.ID) ([]page.ID, error) {
	seen := map[page.ID]struct{}{}
	if b, ok := s.opts.Base.(*Store); ok {
		ids, err := b.pagesIn(lo, hi)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			seen[id] = struct{}{}
		}
	}
	err := s.skipScan(lo, hi, func(id page.ID) (page.ID, bool) {
		seen[id] = struct{}{}
		return id + 1, id != math.MaxUint64
	})
	ids := make([]page.ID, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, err
}

// skipScan calls visit with the page of the first delta and of the first image at or after
// lo, then after each page visit returns (more false: stop), below hi (0: no bound).
func (s *Store) skipScan(lo, hi page.ID, visit func(id page.ID) (next page.ID, more bool)) error {
	return s.withDB(func(db *pebble.DB) error {
		for _, kind := range []byte{kindDelta, kindImage} {
			upper := []byte{kind + 1}
			if hi != 0 {
				upper = versionKey(kind, hi, 0)
			}
			it, err := db.NewIter(&pebble.IterOptions{LowerBound: versionKey(kind, lo, 0), UpperBound: upper})
			if err != nil {
				return err
			}
			for valid := it.First(); valid; {
				_, id, _, err := parseVersionKey(it.Key())
				if err != nil {
					it.Close()
					return err
				}
				next, more := visit(id)
				if !more {
					break
				}
				valid = it.SeekGE(versionKey(kind, next, 0))
			}
			if err := it.Close(); err != nil {
				return err
			}
		}
		return nil
	})
}

// UsedSegments returns the segments the store holds versions of, sorted.
func (s *Store) UsedSegments() ([]uint64, error) {
	pages := s.own.Load().SegmentPages
	if pages == 0 {
		return []uint64{0}, nil
	}
	found := map[uint64]struct{}{}
	if b, ok := s.opts.Base.(*Store); ok { // a branch store shares its base's pages
		segs, err := b.UsedSegments()
		if err != nil {
			return nil, err
		}
		for _, seg := range segs {
			found[seg] = struct{}{}
		}
	}
	err := s.skipScan(0, 0, func(id page.ID) (page.ID, bool) {
		seg := placement.SegmentOf(id, pages)
		found[seg] = struct{}{}
		return page.ID((seg + 1) * pages), seg <= math.MaxUint64/pages-1
	})
	out := make([]uint64, 0, len(found))
	for seg := range found {
		out = append(out, seg)
	}
	slices.Sort(out)
	return out, err
}
