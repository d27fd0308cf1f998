package pageserver_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/pageserver/pstest"
	"strata/internal/pagestore"
	"strata/internal/storage"
)

const secret = "test-secret"

func newWorkload(t *testing.T, groups int) *pstest.Workload {
	t.Helper()
	w := pstest.NewWorkload(1, 1, 9)
	if err := w.Groups(groups); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestGetPageMatchesLocal checks that GetPage through the service answers, at many positions,
// exactly what a local store over the same log answers: the same page bytes, or NotFound
// where the local store has ErrPageNotFound.
func TestGetPageMatchesLocal(t *testing.T) {
	w := newWorkload(t, 400)
	end := w.Log.End()
	local := pstest.StartReplica(t, w.Log, secret, nil)
	remote := pstest.StartReplica(t, w.Log, secret, func(o *pagestore.Options) { o.ImageEvery = 8 })
	c := pageserverpb.NewPageStoreClient(pstest.Dial(t, remote.Addr, secret))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids := append(append([]page.ID(nil), w.IDs...), 777) // 777 never gets a record
	for _, lsn := range w.LSNs(80) {
		for _, id := range ids {
			var want page.Page
			werr := local.Store.GetPage(ctx, id, lsn, &want)
			resp, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(id), Lsn: uint64(lsn)})
			switch {
			case errors.Is(werr, storage.ErrPageNotFound):
				if status.Code(err) != codes.NotFound {
					t.Fatalf("GetPage(%d, %d) = %v, want NotFound", id, lsn, err)
				}
			case werr != nil:
				t.Fatalf("local GetPage(%d, %d): %v", id, lsn, werr)
			case err != nil:
				t.Fatalf("GetPage(%d, %d): %v", id, lsn, err)
			case !bytes.Equal(resp.GetPage(), want[:]):
				t.Fatalf("GetPage(%d, %d): the served page differs from the local store's", id, lsn)
			}
		}
	}
	st, err := c.Status(ctx, &pageserverpb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetConsumed() != uint64(end) || st.GetSegmentPages() != 0 || len(st.GetSegments()) != 0 {
		t.Fatalf("Status = %v, want consumed %d and no segments", st, end)
	}
}

// TestGetPageWaits checks that GetPage waits for a position the store has not consumed yet,
// within the caller's deadline: DeadlineExceeded when the log does not get there in time, the
// page as soon as it does.
func TestGetPageWaits(t *testing.T) {
	w := newWorkload(t, 20)
	r := pstest.StartReplica(t, w.Log, secret, nil)
	c := pageserverpb.NewPageStoreClient(pstest.Dial(t, r.Addr, secret))
	ahead := w.Log.End() + 1000
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(w.IDs[0]), Lsn: uint64(ahead)})
	cancel()
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("GetPage beyond the log = %v, want DeadlineExceeded", err)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(w.IDs[0]), Lsn: uint64(ahead)})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	for w.Log.End() < ahead {
		if err := w.Groups(5); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("GetPage after the log reached the position: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("GetPage did not return after the log reached the position")
	}
}

// TestAuth checks that calls without the cluster secret, or with a wrong one, are refused.
func TestAuth(t *testing.T) {
	w := newWorkload(t, 5)
	r := pstest.StartReplica(t, w.Log, secret, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range []string{"", "wrong", secret + "x"} {
		c := pageserverpb.NewPageStoreClient(pstest.Dial(t, r.Addr, s))
		if _, err := c.Status(ctx, &pageserverpb.StatusRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("Status with secret %q = %v, want Unauthenticated", s, err)
		}
		_, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(w.IDs[0]), Lsn: uint64(w.Log.End())})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("GetPage with secret %q = %v, want Unauthenticated", s, err)
		}
	}
	c := pageserverpb.NewPageStoreClient(pstest.Dial(t, r.Addr, secret))
	if _, err := c.Status(ctx, &pageserverpb.StatusRequest{}); err != nil {
		t.Fatalf("Status with the secret: %v", err)
	}
}

// TestUnownedSegment checks that a store owning segment 0 only refuses a page of segment 1
// with FailedPrecondition naming the segment, and reports its segments in Status.
func TestUnownedSegment(t *testing.T) {
	w := newWorkload(t, 50) // pages 1..9: segment 0 is 0..3, segment 1 is 4..7
	r := pstest.StartReplica(t, w.Log, secret, func(o *pagestore.Options) { o.SegmentPages, o.Segments = 4, []uint64{0} })
	c := pageserverpb.NewPageStoreClient(pstest.Dial(t, r.Addr, secret))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	lsn := uint64(w.Log.End())
	if _, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: 2, Lsn: lsn}); err != nil {
		t.Fatalf("GetPage of an owned page: %v", err)
	}
	_, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: 5, Lsn: lsn})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "segment 1") {
		t.Fatalf("GetPage of a page of segment 1 = %v, want FailedPrecondition naming segment 1", err)
	}
	st, err := c.Status(ctx, &pageserverpb.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetSegmentPages() != 4 || len(st.GetSegments()) != 1 || st.GetSegments()[0] != 0 {
		t.Fatalf("Status = %v, want 4 pages per segment and segment 0", st)
	}
}

// TestCompactedAndBadInput checks OutOfRange below the compaction floor (set through
// SetHorizon), InvalidArgument for page 0 or lsn 0, and Unavailable for a call waiting when the
// server stops.
func TestCompactedAndBadInput(t *testing.T) {
	w := newWorkload(t, 200)
	r := pstest.StartReplica(t, w.Log, secret, nil)
	c := pageserverpb.NewPageStoreClient(pstest.Dial(t, r.Addr, secret))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	end := w.Log.End()
	r.WaitConsumed(t, end)
	h := w.Ends[len(w.Ends)/2]
	if _, err := c.SetHorizon(ctx, &pageserverpb.SetHorizonRequest{Lsn: uint64(h)}); err != nil {
		t.Fatal(err)
	}
	if err := r.Store.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, &pageserverpb.StatusRequest{})
	if err != nil || st.GetFloor() != uint64(h) {
		t.Fatalf("Status after compaction = %v, %v; want floor %d", st, err, h)
	}
	_, err = c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(w.IDs[0]), Lsn: uint64(h - 1)})
	if status.Code(err) != codes.OutOfRange {
		t.Fatalf("GetPage below the floor = %v, want OutOfRange", err)
	}
	if _, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(w.IDs[0]), Lsn: uint64(end)}); err != nil {
		t.Fatalf("GetPage above the floor: %v", err)
	}
	for _, req := range []*pageserverpb.GetPageRequest{{Page: 0, Lsn: 100}, {Page: 1, Lsn: 0}} {
		if _, err := c.GetPage(ctx, req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("GetPage(%v) = %v, want InvalidArgument", req, err)
		}
	}
	if _, err := c.SetHorizon(ctx, &pageserverpb.SetHorizonRequest{}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("SetHorizon(0) = %v, want InvalidArgument", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := c.GetPage(ctx, &pageserverpb.GetPageRequest{Page: uint64(w.IDs[0]), Lsn: uint64(end + 1000)})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := r.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("GetPage waiting while the server stops = %v, want Unavailable", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a waiting GetPage did not end when the server stopped")
	}
}
