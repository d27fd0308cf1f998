package placement

import (
	"encoding/json"
	"slices"
	"testing"

	"strata/internal/page"
)

func TestSegmentOf(t *testing.T) {
	for _, tc := range []struct {
		id    page.ID
		pages uint64
		want  uint64
	}{
		{0, 0, 0},
		{12345, 0, 0}, // one segment holds every page
		{0, 4, 0},
		{3, 4, 0},
		{4, 4, 1},
		{1023, 1024, 0},
		{1024, 1024, 1},
		{5000, 1024, 4},
	} {
		if got := SegmentOf(tc.id, tc.pages); got != tc.want {
			t.Errorf("SegmentOf(%d, %d) = %d, want %d", tc.id, tc.pages, got, tc.want)
		}
	}
}

func TestOwnership(t *testing.T) {
	for _, tc := range []struct {
		name       string
		o          Ownership
		keeps      []uint64 // of segments 0..4
		listed     []uint64
		excluded   []uint64
		everything bool
		str        string
	}{
		{"every page", EveryPage(), []uint64{0, 1, 2, 3, 4}, nil, nil, true, "every page"},
		{"nothing", Ownership{SegmentPages: 4}, nil, nil, nil, false, "segments of 4 pages: []"},
		{"listed", Ownership{SegmentPages: 4, Segments: map[uint64]bool{3: true, 1: true, 2: false}},
			[]uint64{1, 3}, []uint64{1, 3}, []uint64{2}, false, "segments of 4 pages: [1 3]"},
		{"all but", Ownership{SegmentPages: 4, Rest: true, Segments: map[uint64]bool{2: false, 0: false, 1: true}},
			[]uint64{1, 3, 4}, []uint64{1}, []uint64{0, 2}, false, "segments of 4 pages: all but [0 2]"},
		{"rest, nothing excluded", Ownership{SegmentPages: 4, Rest: true, Segments: map[uint64]bool{1: true}},
			[]uint64{0, 1, 2, 3, 4}, []uint64{1}, nil, true, "every page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keeps []uint64
			for seg := range uint64(5) {
				if tc.o.Keeps(seg) {
					keeps = append(keeps, seg)
				}
				if id := page.ID(seg*4 + 1); tc.o.KeepsPage(id) != tc.o.Keeps(seg) {
					t.Errorf("KeepsPage(%d) = %v, Keeps(%d) = %v", id, tc.o.KeepsPage(id), seg, tc.o.Keeps(seg))
				}
			}
			if !slices.Equal(keeps, tc.keeps) {
				t.Errorf("keeps %v, want %v", keeps, tc.keeps)
			}
			if got := tc.o.Listed(); !slices.Equal(got, tc.listed) {
				t.Errorf("Listed() = %v, want %v", got, tc.listed)
			}
			if got := tc.o.Excluded(); !slices.Equal(got, tc.excluded) {
				t.Errorf("Excluded() = %v, want %v", got, tc.excluded)
			}
			if got := tc.o.KeepsEverything(); got != tc.everything {
				t.Errorf("KeepsEverything() = %v, want %v", got, tc.everything)
			}
			if got := tc.o.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
			// Normal keeps the meaning and drops what Rest already says.
			n := tc.o.Normal()
			for seg := range uint64(5) {
				if n.Keeps(seg) != tc.o.Keeps(seg) {
					t.Errorf("Normal() keeps segment %d: %v, want %v", seg, n.Keeps(seg), tc.o.Keeps(seg))
				}
			}
			for seg, k := range n.Segments {
				if k == n.Rest {
					t.Errorf("Normal() lists segment %d as Rest says", seg)
				}
			}
			if !n.Equal(n.Normal()) {
				t.Errorf("Normal() is not normal: %+v", n)
			}
		})
	}
}

func TestOwnershipNormalEqual(t *testing.T) {
	for _, tc := range []struct {
		name  string
		a, b  Ownership
		equal bool
	}{
		{"same listed", Ownership{SegmentPages: 4, Segments: map[uint64]bool{1: true, 2: false}},
			Ownership{SegmentPages: 4, Segments: map[uint64]bool{1: true}}, true},
		{"empty map and nil", Ownership{SegmentPages: 4, Rest: true, Segments: map[uint64]bool{}},
			Ownership{SegmentPages: 4, Rest: true}, true},
		{"one segment ignores the list", Ownership{Rest: true, Segments: map[uint64]bool{0: false}}, EveryPage(), true},
		{"segment size", Ownership{SegmentPages: 4, Rest: true}, Ownership{SegmentPages: 8, Rest: true}, false},
		{"rest", Ownership{SegmentPages: 4, Rest: true}, Ownership{SegmentPages: 4}, false},
		{"a listed segment", Ownership{SegmentPages: 4, Segments: map[uint64]bool{1: true}},
			Ownership{SegmentPages: 4, Segments: map[uint64]bool{2: true}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Normal().Equal(tc.b.Normal()); got != tc.equal {
				t.Fatalf("Normal().Equal = %v, want %v", got, tc.equal)
			}
		})
	}
}

func TestOwnershipOf(t *testing.T) {
	p := Placement{SegmentPages: 8, Default: []string{"a", "b", "c"},
		Segments: map[uint64][]string{1: {"a", "b", "d"}, 2: {"d"}},
		Moving:   map[uint64]Move{1: {From: "a", To: "e"}, 3: {From: "c", To: "d"}}}
	for _, tc := range []struct {
		id    string
		rest  bool
		keeps []uint64 // of segments 0..4
	}{
		{"a", true, []uint64{0, 1, 3, 4}}, // still serves 1 while it moves away
		{"b", true, []uint64{0, 1, 3, 4}},
		{"c", true, []uint64{0, 3, 4}},
		{"d", false, []uint64{1, 2, 3}}, // 3 is moving to it
		{"e", false, []uint64{1}},
		{"z", false, nil},
	} {
		o := OwnershipOf(p, tc.id)
		if o.SegmentPages != 8 || o.Rest != tc.rest {
			t.Errorf("%s: %+v", tc.id, o)
		}
		var keeps []uint64
		for seg := range uint64(5) {
			if o.Keeps(seg) {
				keeps = append(keeps, seg)
			}
		}
		if !slices.Equal(keeps, tc.keeps) {
			t.Errorf("%s keeps %v, want %v", tc.id, keeps, tc.keeps)
		}
	}
}

// TestOwnershipJSON: a Page Store persists its ownership as JSON; stores already written must
// still open, so its encoding is fixed.
func TestOwnershipJSON(t *testing.T) {
	for _, tc := range []struct {
		o    Ownership
		want string
	}{
		{EveryPage(), `{"segment_pages":0,"rest":true}`},
		{Ownership{SegmentPages: 4, Segments: map[uint64]bool{10: true, 2: false}}, `{"segment_pages":4,"rest":false,"segments":{"10":true,"2":false}}`},
	} {
		b, err := json.Marshal(tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Fatalf("encoded %s, want %s", b, tc.want)
		}
	}
}
