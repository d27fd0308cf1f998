package placement

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestPlacementJSON: the placement is stored in etcd as JSON; clusters already written must
// still load, so its encoding is fixed.
func TestPlacementJSON(t *testing.T) {
	for _, tc := range []struct {
		p    Placement
		want string
	}{
		{Initial(1024, []string{"ps1", "ps2", "ps3"}), `{"segment_pages":1024,"default":["ps1","ps2","ps3"],"segments":{}}`},
		{Placement{SegmentPages: 8}, `{"segment_pages":8,"segments":null}`},
		{Placement{SegmentPages: 8, Default: []string{"a"}, Segments: map[uint64][]string{2: {"a", "b"}, 10: {"c"}},
			Moving: map[uint64]Move{2: {From: "a", To: "d"}}},
			`{"segment_pages":8,"default":["a"],"segments":{"10":["c"],"2":["a","b"]},"moving":{"2":{"from":"a","to":"d"}}}`},
	} {
		b, err := json.Marshal(tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Fatalf("encoded %s, want %s", b, tc.want)
		}
		var back Placement
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if b2, _ := json.Marshal(back); string(b2) != tc.want {
			t.Fatalf("round trip %s, want %s", b2, tc.want)
		}
	}
}

func TestReplicasAndStores(t *testing.T) {
	p := Placement{SegmentPages: 8, Default: []string{"c", "a", "b"},
		Segments: map[uint64][]string{1: {"b", "d", "e"}, 2: {}},
		Moving:   map[uint64]Move{1: {From: "b", To: "f"}}}
	for _, tc := range []struct {
		seg  uint64
		want []string
	}{
		{0, []string{"c", "a", "b"}}, // unlisted: Default
		{1, []string{"b", "d", "e"}}, // listed; the store it moves to does not serve it yet
		{2, []string{}},              // listed on nobody
		{99, []string{"c", "a", "b"}},
	} {
		if got := p.Replicas(tc.seg); !slices.Equal(got, tc.want) {
			t.Errorf("Replicas(%d) = %v, want %v", tc.seg, got, tc.want)
		}
	}
	if got, want := p.Stores(), []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(got, want) {
		t.Errorf("Stores() = %v, want %v", got, want)
	}
	if got := (Placement{}).Stores(); len(got) != 0 {
		t.Errorf("empty placement's stores: %v", got)
	}
}

// TestClone: changing a clone leaves the original alone.
func TestClone(t *testing.T) {
	p := Placement{SegmentPages: 8, Default: []string{"a", "b"},
		Segments: map[uint64][]string{1: {"a"}}, Moving: map[uint64]Move{1: {From: "a", To: "c"}}}
	c := p.Clone()
	c.Default[0] = "x"
	c.Segments[1][0] = "x"
	c.Segments[2] = []string{"y"}
	c.Moving[3] = Move{From: "a", To: "b"}
	if p.Default[0] != "a" || p.Segments[1][0] != "a" || len(p.Segments) != 1 || len(p.Moving) != 1 {
		t.Fatalf("the original changed: %+v", p)
	}
	if e := (Placement{}).Clone(); e.Segments == nil || e.Moving != nil {
		t.Fatalf("clone of an empty placement: %+v", e)
	}
}
