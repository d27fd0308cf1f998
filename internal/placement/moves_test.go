package placement

import (
	"slices"
	"strings"
	"testing"
)

// TestPlanAdd adds Page Stores one by one to a three-store placement and finishes every
// planned move: each segment keeps three distinct replicas, and the stores end up holding
// shares that differ by at most one.
func TestPlanAdd(t *testing.T) {
	p := Placement{SegmentPages: 8, Default: []string{"a", "b", "c"}}
	used := []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, add := range []string{"d", "e", "f"} {
		next, moves, err := PlanAdd(p, used, add)
		if err != nil {
			t.Fatal(err)
		}
		if len(moves) == 0 {
			t.Fatalf("adding %s: no moves", add)
		}
		for _, seg := range moves {
			if o := OwnershipOf(next, add); !o.Keeps(seg) {
				t.Fatalf("%s does not keep segment %d it receives", add, seg)
			}
			if err := FinishMove(&next, seg); err != nil {
				t.Fatal(err)
			}
		}
		if len(next.Moving) != 0 {
			t.Fatalf("moves left: %v", next.Moving)
		}
		count := map[string]int{}
		for _, seg := range used {
			r := next.Replicas(seg)
			if len(r) != ReplicasPerSegment || len(slices.Compact(slices.Sorted(slices.Values(r)))) != ReplicasPerSegment {
				t.Fatalf("after adding %s, segment %d is on %v", add, seg, r)
			}
			for _, id := range r {
				count[id]++
			}
		}
		lo, hi := len(used)*3, 0
		for _, n := range count {
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > 1 {
			t.Fatalf("after adding %s the shares are %v", add, count)
		}
		// Segments beyond those in use stay on Default, and a store that gave a segment away
		// no longer keeps it.
		if !slices.Equal(next.Replicas(100), []string{"a", "b", "c"}) {
			t.Fatalf("unused segment 100 on %v", next.Replicas(100))
		}
		for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
			o := OwnershipOf(next, id)
			for _, seg := range used {
				if o.Keeps(seg) != slices.Contains(next.Replicas(seg), id) {
					t.Fatalf("%s keeps segment %d: %v, replicas %v", id, seg, o.Keeps(seg), next.Replicas(seg))
				}
			}
		}
		p = next
	}
	// Planning again with nothing to do moves nothing.
	if _, moves, err := PlanAdd(p, used, "f"); err != nil || len(moves) != 0 {
		t.Fatalf("second plan for f: %v, %v", moves, err)
	}
}

// TestFinishMove: a finished move replaces its source with its destination, in place, and a
// move that is not under way, or whose source no longer holds the segment, is refused.
func TestFinishMove(t *testing.T) {
	base := func() Placement {
		return Placement{SegmentPages: 8, Default: []string{"a", "b", "c"},
			Segments: map[uint64][]string{1: {"a", "b", "c"}},
			Moving:   map[uint64]Move{1: {From: "b", To: "d"}, 2: {From: "a", To: "d"}, 3: {From: "x", To: "d"}}}
	}
	for _, tc := range []struct {
		name string
		seg  uint64
		want []string // replicas after; nil: refused
		err  string
	}{
		{"listed segment", 1, []string{"a", "d", "c"}, ""},
		{"segment on Default", 2, []string{"d", "b", "c"}, ""},
		{"source gone", 3, nil, "not on x any more"},
		{"not moving", 4, nil, "not moving"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			err := FinishMove(&p, tc.seg)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Replicas(tc.seg), tc.want) {
				t.Fatalf("replicas %v, want %v", p.Replicas(tc.seg), tc.want)
			}
			if _, ok := p.Moving[tc.seg]; ok {
				t.Fatalf("segment %d still moving", tc.seg)
			}
			if !slices.Equal(p.Default, []string{"a", "b", "c"}) {
				t.Fatalf("Default changed: %v", p.Default)
			}
		})
	}
}

// TestPlanAddRefuses: no placement, or a used segment nobody holds, plans nothing.
func TestPlanAddRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Placement
		err  string
	}{
		{"no placement", Placement{}, "no placement recorded"},
		{"used segment on nobody", Placement{SegmentPages: 8, Segments: map[uint64][]string{}}, "no Page Store holds it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, moves, err := PlanAdd(tc.p, []uint64{0}, "d"); err == nil || !strings.Contains(err.Error(), tc.err) || moves != nil {
				t.Fatalf("moves %v, err %v, want one saying %q", moves, err, tc.err)
			}
		})
	}
}
