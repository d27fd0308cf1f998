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
	"google.golang.org/grpc/status"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/logstore/logtest"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

func TestConcurrentAppendsDurable(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.Close()
	if l.Recovered() != redo.StartLSN {
		t.Fatalf("a new log starts at %d", l.Recovered())
	}
	w := newWriter(l)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := w.commit(ctx, logtest.Group(page.ID(g+1), uint64(g*1000+i), 100+i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	end := l.End()
	if l.Durable() != end {
		t.Fatalf("durable %d, end %d", l.Durable(), end)
	}
	if got := readLog(t, l, redo.StartLSN, end); !bytes.Equal(got, w.data) {
		t.Fatal("read back differs")
	}
	for _, n := range c.nodes {
		checkStore(t, n, w)
	}
	if len(logtest.Commits(w.data)) != 400 {
		t.Fatal("commit count")
	}
}

// TestOneStoreDown: with one store stopped every commit is still durable, without errors; the
// store restarted afterwards catches up, from a peer since the writer's buffer is small.
func TestOneStoreDown(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, func(o *Options) { o.MaxBuffer = 4 << 10 })
	defer l.Close()
	w := newWriter(l)
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 200)); err != nil {
			t.Fatal(err)
		}
	}
	c.nodes[2].stop()
	for i := 20; i < 300; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 200)); err != nil {
			t.Fatalf("commit %d with one store down: %v", i, err)
		}
	}
	c.nodes[2].start(t)
	checkStore(t, c.nodes[2], w)
	// Reads past the writer's buffer come from the stores.
	if got := readLog(t, l, redo.StartLSN, l.End()); !bytes.Equal(got, w.data) {
		t.Fatal("read back differs")
	}
}

// TestTwoStoresDown: without a quorum WaitDurable fails after the stall timeout with a clear
// error; when a store comes back the queued bytes become durable by themselves.
func TestTwoStoresDown(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, func(o *Options) { o.StallTimeout = 300 * time.Millisecond })
	defer l.Close()
	w := newWriter(l)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 50)); err != nil {
			t.Fatal(err)
		}
	}
	c.nodes[0].stop()
	c.nodes[1].stop()
	began := time.Now()
	err := w.commit(ctx, logtest.Group(1, 10, 50))
	if !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("commit without a quorum: %v", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Fatalf("the stall error took %v", took)
	}
	t.Logf("error: %v", err)
	c.nodes[1].start(t)
	end := l.End()
	if err := l.WaitDurable(ctx, end); err != nil {
		// the store may need a moment: one more stall period
		if err := l.WaitDurable(ctx, end); err != nil {
			t.Fatalf("after a store returned: %v", err)
		}
	}
	for i := 11; i < 30; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 50)); err != nil {
			t.Fatal(err)
		}
	}
	checkStore(t, c.nodes[1], w)
	checkStore(t, c.nodes[2], w)
	if got := readLog(t, l, redo.StartLSN, l.End()); !bytes.Equal(got, w.data) {
		t.Fatal("read back differs")
	}
}

// TestDeposedWriter: once a writer with a newer epoch recovered, the old one gets nothing
// accepted by any store.
func TestDeposedWriter(t *testing.T) {
	c := newCluster(t)
	old := c.mustOpen(1, func(o *Options) { o.StallTimeout = time.Second })
	defer old.abort()
	w := newWriter(old)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 50)); err != nil {
			t.Fatal(err)
		}
	}
	nl := c.mustOpen(2, nil)
	defer nl.Close()
	if nl.Recovered() != old.End() {
		t.Fatalf("new writer recovered %d, the old one had %d durable", nl.Recovered(), old.End())
	}
	// A store that lagged the old writer's quorum is caught up by the new writer in the
	// background: wait for it, so that what follows counts only the deposed writer's appends.
	ends := make([]page.LSN, 3)
	for deadline := time.Now().Add(10 * time.Second); ; {
		behind := false
		for i, n := range c.nodes {
			ends[i] = n.store.Status().End
			behind = behind || ends[i] < nl.End()
		}
		if !behind {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stores' ends %v, the new writer's log ends at %d", ends, nl.End())
		}
		time.Sleep(time.Millisecond)
	}
	err := w.commit(ctx, logtest.Group(1, 99, 50))
	if !errors.Is(err, ErrDeposed) {
		t.Fatalf("old writer's commit: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	for i, n := range c.nodes {
		if st := n.store.Status(); st.End != ends[i] || st.Promised != 2 {
			t.Fatalf("store %d accepted something from the deposed writer: %+v (end was %d)", i, st, ends[i])
		}
	}
	// A writer with an epoch not newer than the stores' is refused at once.
	if _, err := c.open(2, nil); !errors.Is(err, ErrDeposed) {
		t.Fatalf("recover with a used epoch: %v", err)
	}
	w2 := newWriter(nl)
	if err := w2.commit(ctx, logtest.Group(2, 1, 10)); err != nil {
		t.Fatal(err)
	}
}

// TestRecoveryAfterCrash: a writer crashes after some stores got a tail the others did not
// (one a whole group, another that group and the start of the next). The new writer keeps
// every acknowledged byte and the longest log: when that ends inside a group, the group is
// voided with an abort record, not cut (a follower may have read it). Every store ends up
// with the same log.
func TestRecoveryAfterCrash(t *testing.T) {
	for _, down := range []int{-1, 0} { // -1: all stores answer; 0: the longest one is down
		c := newCluster(t)
		l := c.mustOpen(1, nil)
		w := newWriter(l)
		ctx := context.Background()
		for i := 0; i < 20; i++ {
			if err := w.commit(ctx, logtest.Group(1, uint64(i), 100)); err != nil {
				t.Fatal(err)
			}
		}
		acked := l.Durable()
		for _, n := range c.nodes {
			waitFor(t, 5*time.Second, "all stores synced", func() bool { return n.store.Status().Durable == acked })
		}
		l.abort()
		// The crash left a tail: store 0 has group A and half of group B, store 1 group A.
		ga, gb := logtest.Group(1, 100, 80), logtest.Partial(1, 101, 60)
		if _, err := c.nodes[0].store.Append(1, acked, append(append([]byte(nil), ga...), gb...), false, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.nodes[1].store.Append(1, acked, ga, true, 0); err != nil {
			t.Fatal(err)
		}
		for _, n := range c.nodes[:2] {
			if err := n.store.WaitDurable(ctx, acked+page.LSN(len(ga))); err != nil {
				t.Fatal(err)
			}
		}
		if down >= 0 {
			c.nodes[down].stop()
		}
		nl := c.mustOpen(2, nil)
		w.data = append(w.data, ga...)
		if down < 0 { // store 0's log is kept: half of B, then its abort
			abort := redo.NewGroup()
			abort.Abort(acked + page.LSN(len(ga)))
			w.data = append(append(w.data, gb...), abort.Bytes()...)
		}
		if want := w.base + page.LSN(len(w.data)); nl.Recovered() != want {
			t.Fatalf("down=%d: recovered %d, want %d (acknowledged %d plus group A, and half of B voided with down=-1)",
				down, nl.Recovered(), want, acked)
		}
		w2 := &writer{l: nl, base: w.base, data: w.data}
		for i := 0; i < 5; i++ {
			if err := w2.commit(ctx, logtest.Group(2, uint64(200+i), 30)); err != nil {
				t.Fatal(err)
			}
		}
		if down >= 0 {
			c.nodes[down].start(t)
		}
		for _, n := range c.nodes {
			checkStore(t, n, w2)
		}
		if got := readLog(t, nl, redo.StartLSN, nl.End()); !bytes.Equal(got, w2.data) {
			t.Fatal("read back differs")
		}
		if err := nl.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWrongSecret: calls without the cluster secret are refused.
func TestWrongSecret(t *testing.T) {
	c := newCluster(t)
	_, err := c.open(1, func(o *Options) { o.Secret = "wrong"; o.RPCTimeout = 500 * time.Millisecond })
	if status.Code(errors.Unwrap(errors.Unwrap(err))) != codes.Unauthenticated && !bytes.Contains([]byte(err.Error()), []byte("Unauthenticated")) {
		t.Fatalf("recover with a wrong secret: %v", err)
	}
	wrong, err := logapi.DialOptions("wrong")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.Dial(c.nodes[0].addr, wrong...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := logstorepb.NewLogStoreClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.GetStatus(ctx, &logstorepb.StatusRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unary call with a wrong secret: %v", err)
	}
	stream, err := client.Read(ctx, &logstorepb.ReadRequest{From: 64})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("stream with a wrong secret: %v", err)
	}
	right, err := logapi.DialOptions(secret)
	if err != nil {
		t.Fatal(err)
	}
	conn2, err := grpc.Dial(c.nodes[0].addr, right...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if _, err := logstorepb.NewLogStoreClient(conn2).GetStatus(ctx, &logstorepb.StatusRequest{}); err != nil {
		t.Fatalf("with the secret: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, func(o *Options) { o.MaxBuffer = 1 << 10 })
	defer l.Close()
	w := newWriter(l)
	ctx := context.Background()
	for i := 0; i < 400; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 500)); err != nil {
			t.Fatal(err)
		}
	}
	mid := redo.StartLSN + page.LSN(len(w.data)/2)
	if err := l.Truncate(mid); err != nil {
		t.Fatal(err)
	}
	first := c.nodes[0].store.Status().First
	if first == redo.StartLSN || first > mid {
		t.Fatalf("first retained after truncate: %d", first)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := l.Read(rctx, redo.StartLSN, 100); !errors.Is(err, ErrTruncated) {
		t.Fatalf("read below the first retained LSN: %v", err)
	}
	if got := readLog(t, l, first, l.End()); !bytes.Equal(got, w.data[first-redo.StartLSN:]) {
		t.Fatal("read after truncate differs")
	}
}

// TestBufferBounded: with two stores down, Append takes at most MaxBuffer bytes beyond the
// durable LSN, then waits, and fails after the stall timeout with ErrStalled and ErrNoQuorum,
// appending nothing. An Append waiting for room goes on when a store returns. A group larger
// than MaxBuffer alone (a large transaction's) is taken once everything before it is durable.
func TestBufferBounded(t *testing.T) {
	c := newCluster(t)
	const maxBuf = 64 << 10
	l := c.mustOpen(1, func(o *Options) { o.MaxBuffer = maxBuf; o.StallTimeout = 3 * time.Second })
	defer l.Close()
	ctx := context.Background()
	big := bigGroup(3 * maxBuf)
	_, end, err := l.Append(big, true)
	if err != nil {
		t.Fatalf("a group of %d bytes, more than MaxBuffer, with nothing queued: %v", len(big), err)
	}
	if err := l.WaitDurable(ctx, end); err != nil {
		t.Fatal(err)
	}

	c.nodes[0].stop()
	c.nodes[1].stop()
	var appended int
	var stallErr error
	began := time.Now()
	for i := 0; time.Since(began) < 10*time.Second; i++ {
		g := logtest.Group(2, uint64(i), 1000)
		if _, _, err := l.Append(g, true); err != nil {
			stallErr = err
			break
		}
		appended += len(g)
	}
	if !errors.Is(stallErr, storage.ErrStalled) || !errors.Is(stallErr, ErrNoQuorum) {
		t.Fatalf("append beyond MaxBuffer without a quorum: %v", stallErr)
	}
	if appended > maxBuf || appended < maxBuf-4<<10 {
		t.Fatalf("%d bytes queued beyond the durable LSN, MaxBuffer %d", appended, maxBuf)
	}
	if q := l.End() - l.Durable(); int(q) != appended {
		t.Fatalf("a failed append changed the log: %d bytes queued, %d appended", q, appended)
	}
	t.Logf("%d bytes queued, then: %v", appended, stallErr)

	// An append waiting for room goes on once a store is back.
	done := make(chan error, 1)
	go func() {
		_, _, err := l.Append(logtest.Group(2, 1<<20, 1000), true)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("append without room returned at once: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.nodes[1].start(t)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("append after a store returned: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("append still waiting 15s after a store returned")
	}
	end = l.End()
	if err := l.WaitDurable(ctx, end); err != nil {
		t.Fatal(err)
	}
}

// bigGroup returns one complete group of at least n bytes.
func bigGroup(n int) []byte {
	g := redo.NewGroup()
	pad := bytes.Repeat([]byte{7}, 1000)
	for i := 0; i <= n/len(pad); i++ {
		g.Append(page.ID(i%50+2), [][]byte{pad})
	}
	return g.Bytes()
}
