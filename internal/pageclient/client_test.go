package pageclient_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"strata/internal/page"
	"strata/internal/pageapi/pageserverpb"
	"strata/internal/pageclient"
	"strata/internal/pageserver/pstest"
	"strata/internal/pagestore"
	"strata/internal/storage"
)

const secret = "test-secret"

// fault makes a replica slow or makes it damage the pages it serves.
type fault struct {
	delay   atomic.Int64 // nanoseconds before each GetPage
	corrupt atomic.Bool  // flip a byte of every page served
	calls   atomic.Int64 // GetPage calls seen
}

func (f *fault) interceptor() grpc.ServerOption {
	return grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if info.FullMethod != pageserverpb.PageStore_GetPage_FullMethodName {
			return h(ctx, req)
		}
		f.calls.Add(1)
		if d := time.Duration(f.delay.Load()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		resp, err := h(ctx, req)
		if err == nil && f.corrupt.Load() {
			resp.(*pageserverpb.GetPageResponse).Page[page.Size/2] ^= 0x40
		}
		return resp, err
	})
}

// cluster is three replicas of every page, a reference store over the same log, and a client.
type cluster struct {
	w      *pstest.Workload
	reps   []*pstest.Replica
	faults []*fault
	ref    *pagestore.Store
	client *pageclient.Client
}

func newCluster(t *testing.T, mod ...func(*pageclient.Options)) *cluster {
	t.Helper()
	c := &cluster{w: pstest.NewWorkload(3, 1, 12)}
	if err := c.w.Groups(300); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for range 3 {
		f := &fault{}
		r := pstest.StartReplica(t, c.w.Log, secret, nil, f.interceptor())
		c.reps, c.faults = append(c.reps, r), append(c.faults, f)
		addrs = append(addrs, r.Addr)
	}
	c.ref = pstest.StartReplica(t, c.w.Log, secret, nil).Store
	for _, r := range append(c.reps, &pstest.Replica{Store: c.ref}) {
		r.WaitConsumed(t, c.w.Log.End())
	}
	opts := pageclient.Options{Placement: pageclient.Static{Default: addrs}, SegmentPages: 4,
		Secret: secret, Logger: pstest.Discard}
	for _, m := range mod {
		m(&opts)
	}
	cl, err := pageclient.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	c.client = cl
	return c
}

// readAll reads every page at n positions through the client and checks each against the
// reference store, failing the test if a read takes longer than limit.
func (c *cluster) readAll(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, lsn := range c.w.LSNs(n) {
		for _, id := range c.w.IDs {
			var want, got page.Page
			werr := c.ref.GetPage(ctx, id, lsn, &want)
			start := time.Now()
			err := c.client.GetPage(ctx, id, lsn, &got)
			if took := time.Since(start); took > limit {
				t.Fatalf("GetPage(%d, %d) took %v, more than %v", id, lsn, took, limit)
			}
			switch {
			case errors.Is(werr, storage.ErrPageNotFound):
				if !errors.Is(err, storage.ErrPageNotFound) {
					t.Fatalf("GetPage(%d, %d) = %v, want ErrPageNotFound", id, lsn, err)
				}
			case werr != nil:
				t.Fatal(werr)
			case err != nil:
				t.Fatalf("GetPage(%d, %d): %v", id, lsn, err)
			case got != want:
				t.Fatalf("GetPage(%d, %d): page differs from the reference", id, lsn)
			}
		}
	}
}

func TestReadsMatchAndErrors(t *testing.T) {
	c := newCluster(t)
	c.readAll(t, 30, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p page.Page
	if err := c.client.GetPage(ctx, 777, c.w.Log.End(), &p); !errors.Is(err, storage.ErrPageNotFound) {
		t.Fatalf("GetPage of a page without versions = %v, want ErrPageNotFound", err)
	}
	h := c.w.Ends[len(c.w.Ends)/2]
	for _, r := range c.reps {
		r.Store.SetHorizon(h)
		if err := r.Store.Compact(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.client.GetPage(ctx, c.w.IDs[0], h-1, &p); !errors.Is(err, storage.ErrCompacted) {
		t.Fatalf("GetPage below the floor = %v, want ErrCompacted", err)
	}
}

// TestReplicaDown stops one replica: every read still succeeds, and once the client has seen
// the failure it stops paying for it.
func TestReplicaDown(t *testing.T) {
	c := newCluster(t)
	c.readAll(t, 3, 5*time.Second)
	if err := c.reps[1].Server.Stop(); err != nil {
		t.Fatal(err)
	}
	c.readAll(t, 20, 2*time.Second)
}

// TestSlowReplica delays one replica by 2 s: hedged reads answer from another replica well
// within that. The client forgets at once that the replica was slow, so that it keeps asking
// it first for a third of the pages and every one of those reads is hedged.
func TestSlowReplica(t *testing.T) {
	c := newCluster(t, func(o *pageclient.Options) { o.AvoidFor = time.Nanosecond })
	c.readAll(t, 3, 5*time.Second)
	c.faults[0].delay.Store(int64(2 * time.Second))
	before := c.faults[0].calls.Load()
	c.readAll(t, 20, 300*time.Millisecond)
	if c.faults[0].calls.Load() < before+20 {
		t.Fatal("the slow replica was never asked: the test did not exercise hedging")
	}
}

// TestCorruptReplica makes one replica damage every page it serves: the client verifies the
// checksum and reads from another.
func TestCorruptReplica(t *testing.T) {
	c := newCluster(t)
	c.faults[2].corrupt.Store(true)
	c.readAll(t, 20, 5*time.Second)
	if c.faults[2].calls.Load() == 0 {
		t.Fatal("the corrupt replica was never asked")
	}
}

// TestAllDown checks that with every replica stopped GetPage fails with an error that is
// neither ErrPageNotFound nor ErrCompacted, in bounded time.
func TestAllDown(t *testing.T) {
	c := newCluster(t)
	for _, r := range c.reps {
		if err := r.Server.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p page.Page
	err := c.client.GetPage(ctx, c.w.IDs[0], c.w.Log.End(), &p)
	if err == nil || errors.Is(err, storage.ErrPageNotFound) || errors.Is(err, storage.ErrCompacted) || ctx.Err() != nil {
		t.Fatalf("GetPage with every replica down = %v", err)
	}
}

// TestStalePlacement sends a page's reads first to a replica that does not own its segment:
// the client gets FailedPrecondition there and reads from the next replica.
func TestStalePlacement(t *testing.T) {
	w := pstest.NewWorkload(4, 1, 8)
	if err := w.Groups(50); err != nil {
		t.Fatal(err)
	}
	only0 := pstest.StartReplica(t, w.Log, secret, func(o *pagestore.Options) { o.SegmentPages, o.Segments = 4, []uint64{0} })
	all := pstest.StartReplica(t, w.Log, secret, nil)
	all.WaitConsumed(t, w.Log.End())
	// Page 5 is in segment 1; the client starts at index 5 % 2 = 1 of the list.
	cl, err := pageclient.New(pageclient.Options{Secret: secret, SegmentPages: 4, Logger: pstest.Discard,
		Placement: pageclient.Static{Segments: map[uint64][]string{1: {all.Addr, only0.Addr}}, Default: []string{all.Addr}}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got, want page.Page
	if err := cl.GetPage(ctx, 5, w.Log.End(), &got); err != nil {
		t.Fatal(err)
	}
	if err := all.Store.GetPage(ctx, 5, w.Log.End(), &want); err != nil || got != want {
		t.Fatalf("page 5 differs from the owner's (%v)", err)
	}
}

// TestReplicaBehind stops one replica's consuming and writes on: reads at the new end, which
// that replica would wait for, are answered by the others within a bounded time.
func TestReplicaBehind(t *testing.T) {
	c := newCluster(t)
	c.reps[0].Store.Stop()
	if err := c.w.Groups(100); err != nil {
		t.Fatal(err)
	}
	end := c.w.Log.End()
	for _, r := range append(c.reps[1:], &pstest.Replica{Store: c.ref}) {
		r.WaitConsumed(t, end)
	}
	if c.reps[0].Store.Consumed() >= end {
		t.Fatal("the stopped replica consumed the new groups")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range c.w.IDs {
		var got, want page.Page
		start := time.Now()
		if err := c.client.GetPage(ctx, id, end, &got); err != nil {
			t.Fatalf("GetPage(%d, %d): %v", id, end, err)
		}
		if took := time.Since(start); took > 300*time.Millisecond {
			t.Fatalf("GetPage(%d, %d) took %v with one replica behind", id, end, took)
		}
		if err := c.ref.GetPage(ctx, id, end, &want); err != nil || got != want {
			t.Fatalf("GetPage(%d, %d): page differs from the reference (%v)", id, end, err)
		}
	}
}

// TestFanOut checks Status, MinPersisted and SetHorizon over every replica, with one down.
func TestFanOut(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	end := c.w.Log.End()
	for _, r := range c.reps {
		for r.Store.Persisted() < end && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if low, err := c.client.MinPersisted(ctx); err != nil || low != end {
		t.Fatalf("MinPersisted = %d, %v; want %d", low, err, end)
	}
	h := c.w.Ends[10]
	if err := c.client.SetHorizon(ctx, h); err != nil {
		t.Fatal(err)
	}
	for _, r := range c.reps {
		if err := r.Store.Compact(ctx); err != nil || r.Store.Floor() != h {
			t.Fatalf("replica %s: floor %d after SetHorizon(%d) and Compact (%v)", r.Addr, r.Store.Floor(), h, err)
		}
	}
	// A retained position below the next horizon stays readable on every replica, as the
	// reference store reads it; others below the floor do not.
	r, h2 := c.w.Ends[15], c.w.Ends[30]
	if err := c.client.SetHorizon(ctx, h2, r); err != nil {
		t.Fatal(err)
	}
	for _, rep := range c.reps {
		if err := rep.Store.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		for _, id := range c.w.IDs {
			var got, want page.Page
			err := rep.Store.GetPage(ctx, id, r, &got)
			werr := c.ref.GetPage(ctx, id, r, &want)
			if errors.Is(werr, storage.ErrPageNotFound) && errors.Is(err, storage.ErrPageNotFound) {
				continue
			}
			if err != nil || werr != nil || got != want {
				t.Fatalf("replica %s: page %d at the retained position %d: %v (reference: %v)", rep.Addr, id, r, err, werr)
			}
			if err := rep.Store.GetPage(ctx, id, c.w.Ends[20], &got); err == nil {
				t.Fatalf("replica %s: page %d at %d, below the floor and not retained, was read", rep.Addr, id, c.w.Ends[20])
			}
		}
	}
	if err := c.reps[1].Server.Stop(); err != nil {
		t.Fatal(err)
	}
	sts := c.client.Status(ctx)
	down := 0
	for _, st := range sts {
		if st.Err != nil {
			down++
			if st.Addr != c.reps[1].Addr {
				t.Errorf("Status of %s failed: %v", st.Addr, st.Err)
			}
		} else if st.Consumed != end || st.Floor != h2 {
			t.Errorf("Status of %s = %+v, want consumed %d and floor %d", st.Addr, st, end, h2)
		}
	}
	if len(sts) != 3 || down != 1 {
		t.Fatalf("Status = %+v, want 3 answers with one failure", sts)
	}
	if _, err := c.client.MinPersisted(ctx); err == nil {
		t.Fatal("MinPersisted with a replica down succeeded")
	}
	if err := c.client.SetHorizon(ctx, h+1); err == nil {
		t.Fatal("SetHorizon with a replica down reported no error")
	}
}
