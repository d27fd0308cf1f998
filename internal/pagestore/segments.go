package pagestore

import (
	"errors"
	"fmt"
	"slices"

	"strata/internal/page"
)

// ErrNotOwned is returned (wrapped) by GetPage for a page of a segment the store does not own
// (see Options.SegmentPages).
var ErrNotOwned = errors.New("pagestore: page of a segment this store does not own")

// segments is the set of segments a store keeps. The zero value owns every page.
type segments struct {
	pages uint64              // pages per segment; 0: every page is owned
	owned map[uint64]struct{} // owned segment numbers
	list  []uint64            // the same, sorted
}

func newSegments(pages uint64, owned []uint64) (segments, error) {
	if pages == 0 {
		if len(owned) > 0 {
			return segments{}, errors.New("pagestore: Options.Segments needs Options.SegmentPages")
		}
		return segments{}, nil
	}
	if len(owned) == 0 {
		return segments{}, errors.New("pagestore: Options.SegmentPages needs at least one owned segment")
	}
	s := segments{pages: pages, owned: make(map[uint64]struct{}, len(owned))}
	for _, seg := range owned {
		s.owned[seg] = struct{}{}
	}
	for seg := range s.owned {
		s.list = append(s.list, seg)
	}
	slices.Sort(s.list)
	return s, nil
}

// owns reports whether page id belongs to an owned segment.
func (s *segments) owns(id page.ID) bool {
	if s.pages == 0 {
		return true
	}
	_, ok := s.owned[uint64(id)/s.pages]
	return ok
}

// SegmentOf returns the segment of page id when segments have pagesPerSegment pages (0: one
// segment, 0, holds every page).
func SegmentOf(id page.ID, pagesPerSegment uint64) uint64 {
	if pagesPerSegment == 0 {
		return 0
	}
	return uint64(id) / pagesPerSegment
}

// Owns reports whether the store keeps page id: always, unless Options.SegmentPages is set.
func (s *Store) Owns(id page.ID) bool { return s.segs.owns(id) }

// Segments returns the pages per segment and the sorted owned segments; (0, nil) when the
// store keeps every page.
func (s *Store) Segments() (pagesPerSegment uint64, owned []uint64) {
	return s.segs.pages, slices.Clone(s.segs.list)
}

// notOwned is the error GetPage returns for a page the store does not keep.
func (s *Store) notOwned(id page.ID) error {
	return fmt.Errorf("pagestore: page %d is in segment %d (owned: %v): %w",
		id, SegmentOf(id, s.segs.pages), s.segs.list, ErrNotOwned)
}
