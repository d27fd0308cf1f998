package logapi

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"strata/internal/logapi/logstorepb"
)

func TestCheckTimeline(t *testing.T) {
	for _, n := range []uint64{0, 1, 1024, MaxTimeline} {
		if err := CheckTimeline(n); err != nil {
			t.Errorf("timeline %d: %v", n, err)
		}
	}
	for _, n := range []uint64{MaxTimeline + 1, 1 << 63, ^uint64(0)} {
		if err := CheckTimeline(n); err == nil {
			t.Errorf("timeline %d accepted", n)
		}
	}
}

// TestTimelineZeroOnTheWire: a request for timeline 0 is byte for byte what a client from
// before timelines sent, and such a client's request reads as timeline 0.
func TestTimelineZeroOnTheWire(t *testing.T) {
	old, err := proto.Marshal(&logstorepb.SealRequest{Epoch: 7, NewEpoch: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x08, 7, 0x10, 1}; !bytes.Equal(old, want) {
		t.Fatalf("SealRequest{7, true} encodes as %x, want %x", old, want)
	}
	var req logstorepb.SealRequest
	if err := proto.Unmarshal(old, &req); err != nil || req.GetTimeline() != 0 {
		t.Fatalf("decoded %v, %v", &req, err)
	}
	b, err := proto.Marshal(&logstorepb.StatusRequest{Timeline: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{15 << 3, 3}; !bytes.Equal(b, want) {
		t.Fatalf("StatusRequest{timeline 3} encodes as %x, want %x (field 15)", b, want)
	}
}
