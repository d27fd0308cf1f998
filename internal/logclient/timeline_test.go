package logclient

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/logstore"
	"strata/internal/logstore/logtest"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
)

// onTimeline sets a writer's timeline and start.
func onTimeline(tl uint64, start page.LSN) func(*Options) {
	return func(o *Options) { o.Timeline, o.Start = tl, start }
}

// timelineStore returns node n's store of timeline tl, waiting for it to exist.
func timelineStore(t *testing.T, n *node, tl uint64) *logstore.Store {
	t.Helper()
	var st *logstore.Store
	waitFor(t, 10*time.Second, "the timeline on "+n.addr, func() bool {
		var err error
		st, err = n.srv.Timeline(tl)
		return err == nil
	})
	return st
}

// checkTimeline checks that node n holds w's log on timeline tl.
func checkTimeline(t *testing.T, n *node, tl uint64, w *writer) {
	t.Helper()
	st := timelineStore(t, n, tl)
	end := w.base + page.LSN(len(w.data))
	waitFor(t, 10*time.Second, "store "+n.addr+" to catch up", func() bool { return st.Status().Durable >= end })
	if got := storeBytes(t, st, w.base, end); !bytes.Equal(got, w.data) {
		t.Fatalf("store %s holds other bytes than the writer wrote on timeline %d", n.addr, tl)
	}
}

// TestTimelinesConcurrentWriters: the main database's writer (timeline 0) and two branches'
// writers (timelines 1 and 2, with other epochs, one of them started at a branch point) write
// to the same three stores at once; each log holds exactly its own groups. A new writer of
// timeline 1 fences timeline 1's old writer only: the other two go on.
func TestTimelinesConcurrentWriters(t *testing.T) {
	c := newCluster(t)
	main := c.mustOpen(1, nil)
	defer main.Close()
	const b1 = 30_000 // timeline 1 branches off at this LSN
	one := c.mustOpen(7, onTimeline(1, b1))
	two := c.mustOpen(3, onTimeline(2, 0))
	if one.Recovered() != b1 || two.Recovered() != redo.StartLSN || main.Recovered() != redo.StartLSN {
		t.Fatalf("recovered at %d, %d, %d", one.Recovered(), two.Recovered(), main.Recovered())
	}
	ws := []*writer{newWriter(main), newWriter(one), newWriter(two)}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, len(ws))
	for i, w := range ws {
		wg.Go(func() {
			for j := range 150 {
				if err := w.commit(ctx, logtest.Group(page.ID(i+1), uint64(1000*i+j), 200+i*50+j)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for tl, w := range ws {
		if got := readLog(t, w.l, w.base, w.l.End()); !bytes.Equal(got, w.data) {
			t.Fatalf("timeline %d reads back other bytes", tl)
		}
		for _, n := range c.nodes {
			checkTimeline(t, n, uint64(tl), w)
		}
	}
	for _, n := range c.nodes {
		for tl, want := range []uint64{1, 7, 3} {
			st := timelineStore(t, n, uint64(tl))
			if p := st.Status().Promised; p != want {
				t.Fatalf("%s: timeline %d promised %d, want %d", n.addr, tl, p, want)
			}
		}
	}

	// A new writer of timeline 1, with an epoch below timeline 0's and 2's... or above: epochs
	// are per timeline. It fences timeline 1's old writer only.
	one2 := c.mustOpen(8, onTimeline(1, b1))
	defer one2.Close()
	if one2.Recovered() != ws[1].base+page.LSN(len(ws[1].data)) {
		t.Fatalf("timeline 1 recovered at %d", one2.Recovered())
	}
	err := ws[1].commit(ctx, logtest.Group(2, 99999, 100))
	if !errors.Is(err, ErrDeposed) {
		t.Fatalf("timeline 1's old writer after a new one recovered: %v", err)
	}
	_ = one.Close()
	for i, w := range []*writer{ws[0], ws[2]} {
		for j := range 20 {
			if err := w.commit(ctx, logtest.Group(9, uint64(5000+j), 100)); err != nil {
				t.Fatalf("writer %d after timeline 1 changed writers: %v", i, err)
			}
		}
	}
	w1 := newWriter(one2)
	for j := range 20 {
		if err := w1.commit(ctx, logtest.Group(2, uint64(7000+j), 100)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		checkTimeline(t, n, 0, ws[0])
		checkTimeline(t, n, 2, ws[2])
		checkTimeline(t, n, 1, w1)
	}
}

// TestTimelineAtBranchPoint: a branch's writer creates its timeline at B on a quorum (one store
// is down meanwhile and is started at B when it returns); followers read it from B, reads
// below B are ErrTruncated, and it survives a restart of every store: a new writer recovers its
// end and a follower reads it again.
func TestTimelineAtBranchPoint(t *testing.T) {
	c := newCluster(t)
	const tl, b = 4, 12_345
	c.nodes[2].stop()
	l := c.mustOpen(1, onTimeline(tl, b))
	if l.Recovered() != b {
		t.Fatalf("a new timeline recovered at %d, want %d", l.Recovered(), b)
	}
	w := newWriter(l)
	ctx := context.Background()
	for i := range 100 {
		if err := w.commit(ctx, logtest.Group(3, uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	c.nodes[2].start(t)
	for _, n := range c.nodes {
		checkTimeline(t, n, tl, w)
		if st := timelineStore(t, n, tl).Status(); st.Start != b || st.First != b {
			t.Fatalf("%s: timeline starts at %d, first %d", n.addr, st.Start, st.First)
		}
		if st := n.store.Status(); st.Durable != redo.StartLSN || st.Promised != 0 {
			t.Fatalf("%s: timeline 0 touched: %+v", n.addr, st)
		}
	}
	end := l.End()
	r := newTestReader(t, c.addrs(), func(o *ReaderOptions) { o.Timeline = tl })
	f := &follower{r: r, next: b}
	f.readTo(t, end)
	if !bytes.Equal(f.got, w.data) {
		t.Fatal("the follower read other bytes")
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.Read(rctx, b-100, 100); !errors.Is(err, ErrTruncated) {
		t.Fatalf("read below the branch point: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	for _, n := range c.nodes {
		n.stop()
	}
	for _, n := range c.nodes {
		n.start(t)
	}
	l2 := c.mustOpen(2, onTimeline(tl, b))
	defer l2.Close()
	if l2.Recovered() != end {
		t.Fatalf("recovered at %d after the restart, want %d", l2.Recovered(), end)
	}
	f2 := &follower{r: newTestReader(t, c.addrs(), func(o *ReaderOptions) { o.Timeline = tl }), next: b}
	f2.readTo(t, end)
	if !bytes.Equal(f2.got, w.data) {
		t.Fatal("the follower read other bytes after the restart")
	}
}

// TestTimelineCreationInterrupted: a branch's writer failed while creating its timeline, after
// every store promised its epoch but only one started the log at B. The stores without a log
// do count for the next writer's recovery (nothing was ever written), which finishes the
// creation on every store.
func TestTimelineCreationInterrupted(t *testing.T) {
	c := newCluster(t)
	const tl, b = 2, 5000
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, n := range c.nodes {
		cl := storeClient(t, n.addr)
		if _, err := cl.Seal(ctx, &logstorepb.SealRequest{Timeline: tl, Epoch: 1, NewEpoch: true}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			h := logapi.TermsToPB([]quorum.Term{{Epoch: 1, Start: b}})
			if _, err := cl.StartAt(ctx, &logstorepb.StartAtRequest{Timeline: tl, Epoch: 1, At: b, History: h, Committed: b}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l := c.mustOpen(2, onTimeline(tl, b))
	defer l.Close()
	if l.Recovered() != b {
		t.Fatalf("recovered at %d", l.Recovered())
	}
	w := newWriter(l)
	for i := range 30 {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		checkTimeline(t, n, tl, w)
	}
}

// TestTimelineTruncate: truncating one timeline leaves the others' logs whole.
func TestTimelineTruncate(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	var ws []*writer
	for tl := range uint64(2) {
		l := c.mustOpen(1, onTimeline(tl+1, 0))
		defer l.Close()
		w := newWriter(l)
		for i := range 200 { // about 100 KiB: several 64 KiB segments
			if err := w.commit(ctx, logtest.Group(1, uint64(i), 500)); err != nil {
				t.Fatal(err)
			}
		}
		ws = append(ws, w)
	}
	if err := ws[0].l.Truncate(ws[0].l.End()); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		st := timelineStore(t, n, 1)
		waitFor(t, 5*time.Second, "truncation", func() bool { return st.Status().First > redo.StartLSN })
		checkTimeline(t, n, 2, ws[1])
		if first := timelineStore(t, n, 2).Status().First; first != redo.StartLSN {
			t.Fatalf("timeline 2 truncated to %d", first)
		}
	}
}

// TestTimelineRefusals: a timeline number out of range is refused by the writer's and the
// follower's options; a follower of a timeline no store holds finds no store; a writer whose
// start lies beyond the beginning of an existing log of its timeline is refused.
func TestTimelineRefusals(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.open(1, onTimeline(logapi.MaxTimeline+1, 0)); err == nil {
		t.Fatal("a writer of a bad timeline")
	}
	if _, err := NewReader(ctx, ReaderOptions{Addrs: c.addrs(), Secret: secret, Timeline: logapi.MaxTimeline + 1}); err == nil {
		t.Fatal("a follower of a bad timeline")
	}
	_, err := NewReader(ctx, ReaderOptions{Addrs: c.addrs(), Secret: secret, Timeline: 9, Logger: quiet()})
	if err == nil || !containsCode(err, codes.NotFound) {
		t.Fatalf("a follower of a timeline no store holds: %v", err)
	}
	if _, err := c.open(1, onTimeline(5, 50)); err == nil {
		t.Fatal("a start below redo.StartLSN")
	}
	l := c.mustOpen(1, onTimeline(5, 0))
	w := newWriter(l)
	if err := w.commit(ctx, logtest.Group(1, 1, 100)); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if _, err := c.open(2, onTimeline(5, 10_000)); err == nil {
		t.Fatal("a writer starting at 10000 recovered a log that begins at 64")
	}
}

// containsCode reports whether err's text names a gRPC status code (errors.Join keeps each
// store's error, whose code survives only as text).
func containsCode(err error, code codes.Code) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("code = "+code.String()))
}

// storeClient dials one store.
func storeClient(t *testing.T, addr string) logstorepb.LogStoreClient {
	t.Helper()
	dial, err := logapi.DialOptions(secret)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return logstorepb.NewLogStoreClient(conn)
}
