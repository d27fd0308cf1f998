package pagestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"strata/internal/page"
	"strata/internal/placement"
)

// Ownership. The page space is cut into segments of SegmentPages pages (placement.SegmentOf).
// A store keeps the segments its placement.Ownership names: it stores their records and
// serves their pages, and skips every other record (its consume position still moves past
// them). A segment the store is given while the log no longer holds its history is first
// copied from a peer replica (see copy.go): until then it is kept (its records are stored) but
// not served. The ownership, with the segments being copied, is persisted with the store.

// ErrNotOwned is returned (wrapped) by GetPage for a page of a segment the store does not
// serve: not owned, or still being copied from a peer.
var ErrNotOwned = errors.New("pagestore: page of a segment this store does not serve")

// ownershipOf turns the static Options.SegmentPages and Options.Segments into an ownership.
func ownershipOf(pages uint64, owned []uint64) (placement.Ownership, error) {
	if pages == 0 {
		if len(owned) > 0 {
			return placement.Ownership{}, errors.New("pagestore: Options.Segments needs Options.SegmentPages")
		}
		return placement.EveryPage(), nil
	}
	if len(owned) == 0 {
		return placement.Ownership{}, errors.New("pagestore: Options.SegmentPages needs at least one owned segment")
	}
	o := placement.Ownership{SegmentPages: pages, Segments: map[uint64]bool{}}
	for _, seg := range owned {
		o.Segments[seg] = true
	}
	return o, nil
}

// ownState is what a store keeps and serves; it is immutable once published (Store.own) and
// persisted under ownKey.
type ownState struct {
	placement.Ownership
	// Incoming are kept segments being copied from a peer: their records from the position
	// given on are stored, but their pages are not served until the copy is done.
	Incoming map[uint64]page.LSN `json:"incoming,omitempty"`
	// RestIncoming, when nonzero, says that every Rest segment is being copied (a store that
	// lost its data after the log was truncated) since that position.
	RestIncoming page.LSN `json:"rest_incoming,omitempty"`
	// Floors are segments copied from a peer at a position: their history below it is not
	// here, and reads below it answer ErrCompacted.
	Floors map[uint64]page.LSN `json:"floors,omitempty"`
	// Rebase: the copy positions above are where an empty store started, which may be inside
	// a group; they move to the first group end the store consumes before any copy starts.
	Rebase bool `json:"rebase,omitempty"`
}

// keeps reports whether the store stores the records of page id.
func (st *ownState) keeps(id page.ID) bool { return st.KeepsPage(id) }

// serves reports whether the store answers GetPage for page id.
func (st *ownState) serves(id page.ID) bool {
	seg := placement.SegmentOf(id, st.SegmentPages)
	if !st.Keeps(seg) {
		return false
	}
	if _, ok := st.Incoming[seg]; ok {
		return false
	}
	if _, listed := st.Segments[seg]; !listed && st.RestIncoming != 0 {
		return false
	}
	return true
}

// floorOf returns the position below which page id's history is not here (0: all of it is).
func (st *ownState) floorOf(id page.ID) page.LSN {
	return st.Floors[placement.SegmentOf(id, st.SegmentPages)]
}

// clone returns a deep copy to modify.
func (st *ownState) clone() *ownState {
	c := *st
	c.Segments = maps.Clone(st.Segments)
	c.Incoming = maps.Clone(st.Incoming)
	c.Floors = maps.Clone(st.Floors)
	if c.Incoming == nil {
		c.Incoming = map[uint64]page.LSN{}
	}
	if c.Floors == nil {
		c.Floors = map[uint64]page.LSN{}
	}
	return &c
}

func (st *ownState) encode() ([]byte, error) { return json.Marshal(st) }

func decodeOwnState(b []byte) (*ownState, error) {
	var st ownState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("pagestore: malformed ownership record: %w", err)
	}
	return &st, nil
}

// Owns reports whether the store serves page id.
func (s *Store) Owns(id page.ID) bool { return s.own.Load().serves(id) }

// Ownership returns what the store keeps: the segments it serves and those being copied.
func (s *Store) Ownership() placement.Ownership {
	st := s.own.Load()
	o := st.Ownership
	o.Segments = maps.Clone(o.Segments)
	return o
}

// Segments returns the pages per segment and the sorted listed segments the store serves;
// (0, nil) when the store keeps every page.
func (s *Store) Segments() (pagesPerSegment uint64, owned []uint64) {
	st := s.own.Load()
	if st.KeepsEverything() && st.SegmentPages == 0 {
		return 0, nil
	}
	for _, seg := range st.Listed() {
		if _, in := st.Incoming[seg]; !in {
			owned = append(owned, seg)
		}
	}
	return st.SegmentPages, owned
}

// notOwned is the error GetPage returns for a page the store does not serve.
func (s *Store) notOwned(id page.ID) error {
	st := s.own.Load()
	seg := placement.SegmentOf(id, st.SegmentPages)
	if st.Keeps(seg) {
		return fmt.Errorf("pagestore: page %d is in segment %d, still being copied from a peer: %w", id, seg, ErrNotOwned)
	}
	return fmt.Errorf("pagestore: page %d is in segment %d (this store keeps %s): %w", id, seg, st.Ownership, ErrNotOwned)
}
