// Package placement is where segments of the page space live, as pure functions: no I/O, no
// etcd, no gRPC. The page space is cut into segments of SegmentPages pages (SegmentOf); the
// control plane records a Placement naming, by ID, the Page Stores that hold each segment
// (internal/meta loads and stores it). From it, this package derives what each party needs:
//
//   - a Page Store, the segments it keeps (OwnershipOf, Ownership);
//   - `strata ctl add-pagestore`, the moves that give a new store its share (PlanAdd) and the
//     placement once a move is done (FinishMove);
//   - `strata ctl status`, how many segments each store holds (Summarize);
//   - `strata up`, the placement of a new cluster (Initial).
//
// The control plane, the Page Stores, the compute node and ctl all share it, so they agree on
// what a placement means.
package placement

import (
	"maps"
	"slices"
)

// ReplicasPerSegment is how many Page Stores hold each segment.
const ReplicasPerSegment = 3

// Placement says which Page Stores hold each segment of the page space: a listed segment is on
// the stores Segments names, every other segment on Default (the stores that take the
// database's growth). A segment being moved is also kept by the store Moving names, which
// copies it from the replicas; when the copy is done the move replaces one replica with it.
// It is stored in etcd as JSON: its encoding must not change.
type Placement struct {
	SegmentPages uint64              `json:"segment_pages"`     // pages per segment
	Default      []string            `json:"default,omitempty"` // Page Store IDs of every unlisted segment
	Segments     map[uint64][]string `json:"segments"`          // segment → Page Store IDs
	Moving       map[uint64]Move     `json:"moving,omitempty"`  // moves under way
}

// Move is a segment moving from one Page Store to another.
type Move struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Initial returns the placement of a new cluster: segments of segPages pages, every one on
// stores.
func Initial(segPages uint64, stores []string) Placement {
	return Placement{SegmentPages: segPages, Default: stores, Segments: map[uint64][]string{}}
}

// Replicas returns the IDs of the Page Stores serving segment seg.
func (p Placement) Replicas(seg uint64) []string {
	if r, ok := p.Segments[seg]; ok {
		return r
	}
	return p.Default
}

// Stores returns every Page Store ID the placement names, sorted, each once.
func (p Placement) Stores() []string {
	all := slices.Clone(p.Default)
	for _, r := range p.Segments {
		all = append(all, r...)
	}
	for _, m := range p.Moving {
		all = append(all, m.To)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// Clone returns a deep copy.
func (p Placement) Clone() Placement {
	c := p
	c.Default = slices.Clone(p.Default)
	c.Segments = make(map[uint64][]string, len(p.Segments))
	for seg, r := range p.Segments {
		c.Segments[seg] = slices.Clone(r)
	}
	c.Moving = maps.Clone(p.Moving)
	return c
}
