package pageserver_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/pageserver/pstest"
)

// TestLSNAt checks the time index through the service: a commit's time answers the end of its
// group, a time before the window is found = false with the window (not an error), and
// waiting past the deadline is DeadlineExceeded, as GetPage's.
func TestLSNAt(t *testing.T) {
	w := pstest.NewWorkload(5, 1, 6)
	now := int64(1_700_000_000_000_000)
	w.Clock = func() int64 { now += 1000; return now }
	if err := w.Groups(50); err != nil {
		t.Fatal(err)
	}
	r := pstest.StartReplica(t, w.Log, secret, nil)
	c := pageserverpb.NewPageStoreClient(pstest.Dial(t, r.Addr, secret))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end := w.Log.End()
	oldest, newest := w.Times[0], w.Times[len(w.Times)-1]
	for i, at := range w.Times {
		for _, q := range []int64{at, at + 999} {
			resp, err := c.LSNAt(ctx, &pageserverpb.LSNAtRequest{TimeMicros: q, AtLeast: uint64(end)})
			if err != nil || !resp.GetFound() || page.LSN(resp.GetLsn()) != w.Ends[i] ||
				resp.GetOldestMicros() != oldest || resp.GetNewestMicros() != newest {
				t.Fatalf("LSNAt(%d) = %v, %v; want lsn %d in [%d, %d]", q, resp, err, w.Ends[i], oldest, newest)
			}
		}
	}
	resp, err := c.LSNAt(ctx, &pageserverpb.LSNAtRequest{TimeMicros: oldest - 1, AtLeast: uint64(end)})
	if err != nil || resp.GetFound() || resp.GetLsn() != 0 || resp.GetOldestMicros() != oldest || resp.GetNewestMicros() != newest {
		t.Fatalf("LSNAt before the window = %v, %v; want not found with the window [%d, %d]", resp, err, oldest, newest)
	}

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = c.LSNAt(short, &pageserverpb.LSNAtRequest{TimeMicros: newest, AtLeast: uint64(end + 1000)})
	cancelShort()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("LSNAt beyond the log = %v, want DeadlineExceeded", err)
	}
	if err := r.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LSNAt(ctx, &pageserverpb.LSNAtRequest{TimeMicros: newest}); status.Code(err) != codes.Unavailable {
		t.Fatalf("LSNAt after Stop = %v, want Unavailable", err)
	}
}
