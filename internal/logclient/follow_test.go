package logclient

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/logstore/logtest"
	"strata/internal/page"
	"strata/internal/redo"
)

// TestFollowerTail: a follower (a Page Store, a read-only node) tails a store from the start
// and receives exactly the committed bytes, as they become committed.
func TestFollowerTail(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.Close()
	dial, err := logapi.DialOptions(secret)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.Dial(c.nodes[2].addr, dial...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := logstorepb.NewLogStoreClient(conn).Read(ctx, &logstorepb.ReadRequest{From: uint64(redo.StartLSN), Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(l)
	var got []byte
	for round := 0; round < 5; round++ {
		for i := 0; i < 20; i++ {
			if err := w.commit(ctx, logtest.Group(1, uint64(round*100+i), 64)); err != nil {
				t.Fatal(err)
			}
		}
		for len(got) < len(w.data) {
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("tail: %v", err)
			}
			if resp.GetStart() != uint64(redo.StartLSN)+uint64(len(got)) {
				t.Fatalf("tail chunk at %d, expected %d", resp.GetStart(), uint64(redo.StartLSN)+uint64(len(got)))
			}
			got = append(got, resp.GetData()...)
		}
		if !bytes.Equal(got, w.data) {
			t.Fatalf("round %d: the tail differs from what was committed", round)
		}
	}
}

// TestReadAroundCorruption: a store with a damaged segment refuses to serve it; the writer's
// reads go to another store and return the right bytes.
func TestReadAroundCorruption(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, func(o *Options) { o.MaxBuffer = 1 << 10 })
	defer l.Close()
	w := newWriter(l)
	ctx := context.Background()
	for i := 0; i < 400; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 400)); err != nil {
			t.Fatal(err)
		}
	}
	// Damage the first segment of every store but one, choosing the order so that the
	// writer tries a damaged store first.
	for _, n := range c.nodes {
		checkStore(t, n, w)
	}
	for _, n := range c.nodes[:2] {
		n.stop()
		names, _ := os.ReadDir(n.dir)
		var segs []string
		for _, e := range names {
			if strings.HasSuffix(e.Name(), ".seg") {
				segs = append(segs, e.Name())
			}
		}
		sort.Strings(segs)
		path := filepath.Join(n.dir, segs[0])
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0x10
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		n.start(t)
	}
	waitFor(t, 10*time.Second, "stores back", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, r := range l.reps {
			if !r.adopted {
				return false
			}
		}
		return true
	})
	if got := readLog(t, l, redo.StartLSN, l.End()); !bytes.Equal(got, w.data) {
		t.Fatal("read around the damage differs")
	}
}

// TestFollowerSeesDurablePartOfGroup: the durable bytes of a group that goes on (a spilled
// large transaction) are shown to followers as soon as a quorum holds them, so that the Page
// Stores consume them and the buffer pool can evict the group's pages; what a follower reads
// is never taken back (a recovery keeps it and voids the group, TestRecoveryAfterCrash).
func TestFollowerSeesDurablePartOfGroup(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w := newWriter(l)
	if err := w.commit(ctx, logtest.Group(1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	first := l.End()
	part := logtest.Partial(1, 2, 100)
	_, end, err := l.Append(part, false)
	if err == nil {
		err = l.WaitDurable(ctx, end)
	}
	if err != nil {
		t.Fatal(err)
	}
	st := c.nodes[0].store
	waitFor(t, 5*time.Second, "committed at the durable end of the unfinished group", func() bool { return st.Status().Committed == end })
	rctx, rcancel := context.WithTimeout(ctx, time.Second)
	defer rcancel()
	if b, err := st.Read(rctx, first, len(part), 0); err != nil || !bytes.Equal(b, part) {
		t.Fatalf("a follower cannot read the durable part of an unfinished group: %d bytes, %v", len(b), err)
	}
	w.data = append(w.data, part...)
	if err := w.commit(ctx, logtest.Group(1, 2, 10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "committed at the group end", func() bool { return st.Status().Committed == l.End() })
}

// TestFollowerReadsThroughVoidedGroup: a writer fails while appending a large group whose
// durable part followers read; the next writer keeps it and appends an abort record, and a
// follower reads on through the abort record to what the new writer writes.
func TestFollowerReadsThroughVoidedGroup(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := newWriter(l)
	if err := w.commit(ctx, logtest.Group(1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	from := l.End()
	part := logtest.Partial(1, 2, 2000)
	_, end, err := l.Append(part, false)
	if err == nil {
		err = l.WaitDurable(ctx, end)
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(ctx, ReaderOptions{Addrs: c.addrs(), Secret: secret, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	read := func(upTo page.LSN) []byte {
		t.Helper()
		var got []byte
		for pos := redo.StartLSN; pos < upTo; {
			b, err := r.Read(ctx, pos, 1<<20)
			if err != nil {
				t.Fatalf("follower read at %d (want up to %d): %v", pos, upTo, err)
			}
			got = append(got, b...)
			pos += page.LSN(len(b))
		}
		return got
	}
	w.data = append(w.data, part...)
	if got := read(end); !bytes.Equal(got, w.data) {
		t.Fatal("the follower read other bytes of the unfinished group")
	}
	l.abort() // the writer fails
	nl := c.mustOpen(2, nil)
	defer nl.Close()
	abort := redo.NewGroup()
	abort.Abort(from)
	w.data = append(w.data, abort.Bytes()...)
	if want := w.base + page.LSN(len(w.data)); nl.Recovered() != want {
		t.Fatalf("recovered %d, want %d", nl.Recovered(), want)
	}
	w2 := &writer{l: nl, base: w.base, data: w.data}
	if got := read(nl.Recovered()); !bytes.Equal(got, w2.data) {
		t.Fatal("the follower did not read the abort record")
	}
	if err := w2.commit(ctx, logtest.Group(2, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if got := read(nl.End()); !bytes.Equal(got, w2.data) {
		t.Fatal("the follower did not read on after the abort record")
	}
}
