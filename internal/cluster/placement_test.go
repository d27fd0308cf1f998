package cluster

import (
	"slices"
	"testing"

	"strata/internal/meta"
)

// TestPlanAdd adds Page Stores one by one to a three-store placement and finishes every
// planned move: each segment keeps three distinct replicas, and the stores end up holding
// shares that differ by at most one.
func TestPlanAdd(t *testing.T) {
	p := meta.Placement{SegmentPages: 8, Default: []string{"a", "b", "c"}}
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

// TestClientPlacement checks that a store a segment is moving to is not read from before the
// move is finished, and is still asked for its status.
func TestClientPlacement(t *testing.T) {
	p := meta.Placement{SegmentPages: 8, Default: []string{"a", "b", "c"},
		Segments: map[uint64][]string{1: {"a", "b", "c"}}, Moving: map[uint64]meta.Move{1: {From: "a", To: "d"}}}
	addr := map[string]string{"a": "A", "b": "B", "c": "C", "d": "D"}
	s := ClientPlacement(p, addr)
	if !slices.Equal(s.Replicas(1), []string{"A", "B", "C"}) || !slices.Contains(s.Addrs(), "D") {
		t.Fatalf("replicas %v, addrs %v", s.Replicas(1), s.Addrs())
	}
	if err := FinishMove(&p, 1); err != nil {
		t.Fatal(err)
	}
	if s := ClientPlacement(p, addr); !slices.Equal(s.Replicas(1), []string{"D", "B", "C"}) {
		t.Fatalf("after the move: %v", s.Replicas(1))
	}
}
