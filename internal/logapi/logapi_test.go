package logapi

import (
	"reflect"
	"testing"

	"strata/internal/quorum"
)

// TestStatusPB: a Status survives the trip through its message, except Damaged, which is not
// sent over gRPC.
func TestStatusPB(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   Status
	}{
		{"new store", Status{History: []quorum.Term{}, Start: 64, First: 64, End: 64, Durable: 64, CompleteEnd: 64}},
		{"every field", Status{Promised: 7, History: []quorum.Term{{Epoch: 1, Start: 64}, {Epoch: 5, Start: 900}},
			Start: 64, First: 128, End: 2000, Durable: 1900, CompleteEnd: 1800, Committed: 1700, FillTo: 2100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := StatusFromPB(StatusToPB(tc.st))
			if !reflect.DeepEqual(got, tc.st) {
				t.Fatalf("round trip %+v, want %+v", got, tc.st)
			}
			damaged := tc.st
			damaged.Damaged = []Span{{Lo: 100, Hi: 200}}
			if got := StatusFromPB(StatusToPB(damaged)); got.Damaged != nil {
				t.Fatalf("Damaged crossed the wire: %v", got.Damaged)
			}
		})
	}
	if got := TermsFromPB(TermsToPB(nil)); len(got) != 0 {
		t.Fatalf("empty history: %v", got)
	}
	if s := (Span{Lo: 100, Hi: 200}).String(); s != "[100, 200)" {
		t.Fatalf("Span.String() = %q", s)
	}
}

func TestDialOptions(t *testing.T) {
	if _, err := DialOptions(""); err == nil {
		t.Fatal("dial options without a secret")
	}
	if o, err := DialOptions("s3cret"); err != nil || len(o) == 0 {
		t.Fatalf("dial options: %v, %v", o, err)
	}
}
