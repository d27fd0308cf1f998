package placement

import (
	"encoding/json"
	"maps"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Placement
		want map[string]StoreSegments
	}{
		{"none recorded", Placement{}, nil},
		{"new cluster", Initial(8, []string{"a", "b"}), map[string]StoreSegments{
			"a": {SegmentPages: 8, Default: true}, "b": {SegmentPages: 8, Default: true}}},
		{"listed and moving", Placement{SegmentPages: 8, Default: []string{"a"},
			Segments: map[uint64][]string{1: {"a", "b"}, 2: {"b"}},
			Moving:   map[uint64]Move{2: {From: "b", To: "c"}}}, map[string]StoreSegments{
			"a": {SegmentPages: 8, Default: true, Listed: 1},
			"b": {SegmentPages: 8, Listed: 2, MovingOut: 1},
			"c": {SegmentPages: 8, MovingIn: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Summarize(tc.p)
			if !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Fatalf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStoreSegmentsString(t *testing.T) {
	for _, tc := range []struct {
		s    StoreSegments
		want string
	}{
		{StoreSegments{}, "0"},
		{StoreSegments{Default: true, Listed: 3}, "default+3"},
		{StoreSegments{Listed: 2, MovingIn: 1}, "2 (+1 moving in)"},
		{StoreSegments{Default: true, Listed: 2, MovingIn: 1, MovingOut: 2}, "default+2 (+1 moving in) (-2 moving out)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
	// `strata ctl status --json` prints it.
	b, err := json.Marshal(StoreSegments{SegmentPages: 8, Default: true, Listed: 1, MovingIn: 2, MovingOut: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"segment_pages":8,"default":true,"listed":1,"moving_in":2,"moving_out":3}`; string(b) != want {
		t.Fatalf("encoded %s, want %s", b, want)
	}
}
