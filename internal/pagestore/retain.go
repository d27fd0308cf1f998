package pagestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"strata/internal/page"
)

// Retained positions. Below the compaction horizon a store keeps, besides what positions at
// or above the horizon need, exactly what some named positions need: the positions of
// snapshots and the branch points of the timelines made from this one (SetRetain), as
// Neon's retain LSNs. Compaction then keeps, for each page, one image per retained position
// (the page as of it) and folds every other version below the horizon away; GetPage answers
// a retained position below the floor, and refuses every other one (ErrCompacted). So a
// snapshot or a branch keeps the pages as of its position, not every version after it.
//
// The retained positions in effect are persisted with the floor (retainKey) before a pass
// deletes anything: a position is in effect once a pass has started with it at or above the
// floor it raised from (one below that floor came too late: its versions may be gone), and
// stays in effect while SetRetain keeps naming it.

// retainKey holds the retained positions in effect, 8 bytes each, ascending.
var retainKey = []byte{kindMeta, 'r', 'e', 't', 'a', 'i', 'n'}

// SetRetain names the positions below the horizon whose pages the store must keep (a
// snapshot's, a branch point). They take effect at the next compaction pass; a position
// dropped lets that pass fold its versions away.
func (s *Store) SetRetain(lsns []page.LSN) {
	r := slices.Clone(lsns)
	slices.Sort(r)
	r = slices.Compact(r)
	s.retainWant.Store(&r)
}

// Retained returns the retained positions in effect (below the floor GetPage answers only
// these).
func (s *Store) Retained() []page.LSN {
	if p := s.retained.Load(); p != nil {
		return slices.Clone(*p)
	}
	return nil
}

// isRetained says whether lsn is a retained position in effect.
func (s *Store) isRetained(lsn page.LSN) bool {
	p := s.retained.Load()
	if p == nil {
		return false
	}
	_, ok := slices.BinarySearch(*p, lsn)
	return ok
}

// nextRetained returns the retained positions a pass to horizon h raising the floor from
// floor works with: those already in effect that SetRetain still names, and those named at or
// above floor and below h. dropped says whether one in effect is no longer named (a full pass
// is due to fold its versions away).
func nextRetained(effective, want []page.LSN, floor, h page.LSN) (next []page.LSN, dropped bool) {
	for _, r := range want {
		if r >= h {
			continue
		}
		if _, ok := slices.BinarySearch(effective, r); ok || r >= floor {
			next = append(next, r)
		}
	}
	for _, r := range effective {
		if _, ok := slices.BinarySearch(next, r); !ok {
			dropped = true
		}
	}
	return next, dropped
}

func encodeRetained(r []page.LSN) []byte {
	b := make([]byte, 8*len(r))
	for i, l := range r {
		binary.BigEndian.PutUint64(b[8*i:], uint64(l))
	}
	return b
}

func decodeRetained(b []byte) ([]page.LSN, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("pagestore: malformed retained positions (%d bytes)", len(b))
	}
	r := make([]page.LSN, len(b)/8)
	for i := range r {
		r[i] = page.LSN(binary.BigEndian.Uint64(b[8*i:]))
	}
	return r, nil
}

// loadRetained reads the retained positions in effect (none in a store from before them).
func (s *Store) loadRetained() error {
	v, closer, err := s.db.Get(retainKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pagestore: read the retained positions: %w", err)
	}
	defer closer.Close()
	r, err := decodeRetained(v)
	if err != nil {
		return err
	}
	s.retained.Store(&r)
	// Until a writer names others, the positions in effect stay wanted: a store restarted under
	// a timeline that has no writer any more (a retired one, read by its children) keeps them.
	want := slices.Clone(r)
	s.retainWant.Store(&want)
	return nil
}
