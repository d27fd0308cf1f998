package cluster

import (
	"slices"
	"testing"

	"strata/internal/placement"
)

// TestClientPlacement checks that a store a segment is moving to is not read from before the
// move is finished, and is still asked for its status.
func TestClientPlacement(t *testing.T) {
	p := placement.Placement{SegmentPages: 8, Default: []string{"a", "b", "c"},
		Segments: map[uint64][]string{1: {"a", "b", "c"}}, Moving: map[uint64]placement.Move{1: {From: "a", To: "d"}}}
	addr := map[string]string{"a": "A", "b": "B", "c": "C", "d": "D"}
	s := ClientPlacement(p, addr)
	if !slices.Equal(s.Replicas(1), []string{"A", "B", "C"}) || !slices.Contains(s.Addrs(), "D") {
		t.Fatalf("replicas %v, addrs %v", s.Replicas(1), s.Addrs())
	}
	if err := placement.FinishMove(&p, 1); err != nil {
		t.Fatal(err)
	}
	if s := ClientPlacement(p, addr); !slices.Equal(s.Replicas(1), []string{"D", "B", "C"}) {
		t.Fatalf("after the move: %v", s.Replicas(1))
	}
}
