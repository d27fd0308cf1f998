package pagestore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"strata/internal/page"
	"strata/internal/storage"
)

// A branch store (Options.Base) holds only what its branch wrote: the records of the log
// that starts at the branch point, and the images made from them. A page it has no image of
// is read from the base at the branch point and its records here are applied on top, so
// that the branch shares every page it did not change with its base, and a page it changed
// is copied once, when its first image here is made (the materialiser, or compaction). Its
// time index holds its own commits; the times and positions before its first commit are
// answered by the base, up to the branch point (history.go). ScanSegment and UsedSegments list
// the base's pages too, so that a copy of a branch store's segment (an archive base of a
// restored main database) holds every page of the branch.

// baseWait bounds a read of the base at the branch point (it has that position already).
const baseWait = 30 * time.Second

// basePage fills p with page id as the branch starts from it: the base's page at the branch
// point, or a zero page (false) when the base has none or the store is not a branch.
func (s *Store) basePage(id page.ID, p *page.Page) (bool, error) {
	clear(p[:])
	if s.opts.Base == nil {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), baseWait)
	defer cancel()
	err := s.opts.Base.GetPage(ctx, id, s.opts.BaseLSN, p)
	if errors.Is(err, storage.ErrPageNotFound) {
		clear(p[:])
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("pagestore: page %d of the base at the branch point %d: %w", id, s.opts.BaseLSN, err)
	}
	return true, nil
}
