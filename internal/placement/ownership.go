package placement

import (
	"fmt"
	"maps"
	"slices"

	"strata/internal/page"
)

// SegmentOf returns the segment of page id when segments have pagesPerSegment pages (0: one
// segment, 0, holds every page).
func SegmentOf(id page.ID, pagesPerSegment uint64) uint64 {
	if pagesPerSegment == 0 {
		return 0
	}
	return uint64(id) / pagesPerSegment
}

// Ownership says which segments of the page space a Page Store keeps. A store persists it
// (internal/pagestore) as JSON: its encoding must not change.
type Ownership struct {
	SegmentPages uint64          `json:"segment_pages"`      // pages per segment; 0: one segment, 0, holds every page
	Rest         bool            `json:"rest"`               // keeps every segment not listed in Segments
	Segments     map[uint64]bool `json:"segments,omitempty"` // listed segments: kept (true) or not
}

// EveryPage is the ownership of a store that keeps every page.
func EveryPage() Ownership { return Ownership{Rest: true} }

// OwnershipOf returns the segments Page Store id keeps under p: those it serves and the one
// being moved to it.
func OwnershipOf(p Placement, id string) Ownership {
	o := Ownership{SegmentPages: p.SegmentPages, Rest: slices.Contains(p.Default, id), Segments: map[uint64]bool{}}
	for seg, r := range p.Segments {
		o.Segments[seg] = slices.Contains(r, id)
	}
	for seg, m := range p.Moving {
		if m.To == id {
			o.Segments[seg] = true
		}
	}
	return o
}

// Keeps reports whether the ownership includes segment seg.
func (o Ownership) Keeps(seg uint64) bool {
	if k, ok := o.Segments[seg]; ok {
		return k
	}
	return o.Rest
}

// KeepsPage reports whether the ownership includes page id's segment.
func (o Ownership) KeepsPage(id page.ID) bool { return o.Keeps(SegmentOf(id, o.SegmentPages)) }

// Listed returns the listed segments the ownership keeps, sorted.
func (o Ownership) Listed() []uint64 {
	var out []uint64
	for seg, k := range o.Segments {
		if k {
			out = append(out, seg)
		}
	}
	slices.Sort(out)
	return out
}

// Excluded returns the listed segments the ownership does not keep, sorted.
func (o Ownership) Excluded() []uint64 {
	var out []uint64
	for seg, k := range o.Segments {
		if !k {
			out = append(out, seg)
		}
	}
	slices.Sort(out)
	return out
}

// KeepsEverything reports whether the ownership keeps every page.
func (o Ownership) KeepsEverything() bool { return o.Rest && len(o.Excluded()) == 0 }

// Normal returns o without listed entries that say what Rest says.
func (o Ownership) Normal() Ownership {
	n := Ownership{SegmentPages: o.SegmentPages, Rest: o.Rest}
	for seg, k := range o.Segments {
		if k != o.Rest {
			if n.Segments == nil {
				n.Segments = map[uint64]bool{}
			}
			n.Segments[seg] = k
		}
	}
	if n.SegmentPages == 0 {
		n.Segments = nil // one segment: only Rest means anything
	}
	return n
}

// Equal reports whether two normal ownerships (see Normal) are the same.
func (o Ownership) Equal(p Ownership) bool {
	return o.SegmentPages == p.SegmentPages && o.Rest == p.Rest && maps.Equal(o.Segments, p.Segments)
}

func (o Ownership) String() string {
	if o.KeepsEverything() {
		return "every page"
	}
	s := fmt.Sprintf("segments of %d pages: %v", o.SegmentPages, o.Listed())
	if o.Rest {
		s = fmt.Sprintf("segments of %d pages: all but %v", o.SegmentPages, o.Excluded())
	}
	return s
}
