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

	"strata/internal/logstore"
	"strata/internal/logstore/logstorepb"
	"strata/internal/logstore/logtest"
	"strata/internal/redo"
)

// TestFollowerTail: a follower (a Page Store, a read-only node) tails a store from the start
// and receives exactly the committed bytes, as they become committed.
func TestFollowerTail(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.Close()
	dial, err := logstore.DialOptions(secret)
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

// TestFollowerSeesWholeGroups: durable bytes of a group that goes on (a spilled large
// transaction) are not shown to followers until the group ends, so a recovery that cuts an
// unfinished group never takes back what a follower read.
func TestFollowerSeesWholeGroups(t *testing.T) {
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
	waitFor(t, 5*time.Second, "committed at the first group", func() bool { return st.Status().Committed == first })
	time.Sleep(20 * time.Millisecond)
	if got := st.Status().Committed; got != first {
		t.Fatalf("committed %d moved into the unfinished group (first group ends at %d)", got, first)
	}
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer rcancel()
	if _, err := st.Read(rctx, first, 100, 0); err == nil {
		t.Fatal("a follower read bytes of an unfinished group")
	}
	w.data = append(w.data, part...)
	if err := w.commit(ctx, logtest.Group(1, 2, 10)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "committed at the group end", func() bool { return st.Status().Committed == l.End() })
}
