package logclient

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/logstore"
	"strata/internal/logstore/logtest"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
)

func TestFillFrom(t *testing.T) {
	h := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}, {Epoch: 2, Start: 5000}}
	store := func(first, durable page.LSN) logapi.Status { return logapi.Status{First: first, Durable: durable} }
	for _, tc := range []struct {
		name     string
		at       page.LSN
		bufStart page.LSN
		st       logapi.Status
		h        []quorum.Term
		peers    []held
		from     page.LSN
		restart  bool
	}{
		{"the buffer holds it", 1000, 900, store(64, 1000), h, nil, 1000, false},
		{"a peer holds it", 1000, 9000, store(64, 1000), h, []held{{3000, 8000}, {500, 8000}}, 1000, false},
		{"empty store, peers truncated", 64, 9000, store(64, 64), h, []held{{3000, 8000}, {2000, 8000}}, 2000, true},
		{"a peer holding nothing of the log is no source", 64, 9000, store(64, 64), h, []held{{2000, 2000}, {3000, 8000}}, 3000, true},
		{"lagging store cut, then restarted", 1000, 9000, store(64, 4000), h, []held{{3000, 8000}}, 3000, true},
		{"truncated store that disagrees below its first: restart beyond its end", 64, 9000, store(1500, 4000), h,
			[]held{{3000, 8000}, {4000, 8000}}, 4000, true},
		{"truncated store that disagrees, no peer beyond its end", 64, 9000, store(1500, 4000), h, []held{{3000, 8000}}, 64, false},
		{"no peer answers", 64, 9000, store(64, 64), h, nil, 64, false},
		{"the new start has no epoch in the writer's history", 64, 9000, store(64, 64), []quorum.Term{{Epoch: 2, Start: 5000}},
			[]held{{3000, 8000}, {6000, 8000}}, 6000, true},
		{"a new branch's log: no peer holds a byte, the buffer holds it from its beginning", 64, 5000, store(64, 64),
			[]quorum.Term{{Epoch: 3, Start: 5000}}, []held{{5000, 5000}}, 5000, true},
		{"a new branch's log, no peer answers", 64, 5000, store(64, 64), []quorum.Term{{Epoch: 3, Start: 5000}}, nil, 5000, true},
		{"a store holding another log beyond the beginning: cut, then restarted there", 64, 5000, store(64, 7000),
			[]quorum.Term{{Epoch: 3, Start: 5000}}, nil, 5000, true},
		{"a truncated store holding another log beyond the beginning cannot be cut there", 64, 5000, store(1000, 7000),
			[]quorum.Term{{Epoch: 3, Start: 5000}}, nil, 64, false},
		{"the buffer no longer holds the beginning: a peer's first", 64, 6000, store(64, 64),
			[]quorum.Term{{Epoch: 3, Start: 5000}}, []held{{5500, 8000}}, 5500, true},
	} {
		from, restart := fillFrom(tc.at, tc.bufStart, tc.st, tc.h, tc.peers)
		if from != tc.from || restart != tc.restart {
			t.Errorf("%s: fillFrom = %d, %v; want %d, %v", tc.name, from, restart, tc.from, tc.restart)
		}
	}
}

// TestRefillEmptyStore: after the log was truncated on every store, one store loses its disk and
// comes back empty. The writer restarts its log at a peer's first retained LSN and fills it from
// there: it ends up holding the log from there byte-identical to the others, and a quorum that
// includes it survives the loss of another store: writes go on, reads are served, and a new
// writer recovers from it.
func TestRefillEmptyStore(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, func(o *Options) { o.MaxBuffer = 4 << 10 })
	defer func() { _ = l.Close() }()
	w := newWriter(l)
	ctx := context.Background()
	commit := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := w.commit(ctx, logtest.Group(page.ID(i%5+1), uint64(i), 400+i%300)); err != nil {
				t.Fatalf("commit %d: %v", i, err)
			}
		}
	}
	commit(0, 600) // about 400 KiB: several 64 KiB segments
	for _, n := range c.nodes {
		checkStore(t, n, w)
	}
	if err := l.Truncate(l.Durable() - 20<<10); err != nil {
		t.Fatal(err)
	}
	var firsts []page.LSN
	for _, n := range c.nodes {
		firsts = append(firsts, n.store.Status().First)
	}
	if firsts[0] <= redo.StartLSN+64<<10 {
		t.Fatalf("first retained LSNs after the truncation: %v", firsts)
	}

	// Store 2 loses its disk and comes back empty.
	lost := c.nodes[2]
	lost.stop()
	if err := os.RemoveAll(lost.dir); err != nil {
		t.Fatal(err)
	}
	commit(600, 650)
	lost.start(t)
	if st := lost.store.Status(); st.End != redo.StartLSN && st.Start == redo.StartLSN {
		// It may already have been restarted by the writer; it must not hold the old log.
		t.Fatalf("the replaced store holds a log: %+v", st)
	}
	commit(650, 700)
	checkStore2 := func() page.LSN {
		t.Helper()
		end := w.base + page.LSN(len(w.data))
		waitFor(t, 10*time.Second, "the replaced store to catch up", func() bool { return lost.store.Status().Durable >= end })
		st := lost.store.Status()
		if st.Start <= redo.StartLSN || st.First != st.Start {
			t.Fatalf("the replaced store's log starts at %d (first %d), not at a peer's first retained LSN", st.Start, st.First)
		}
		// Segments roll where a flushed batch crosses the segment size, so the peers' first
		// retained LSNs may differ: compare with the peer above both.
		from := max(st.First, c.nodes[1].store.Status().First)
		if got, want := storeBytes(t, lost.store, from, end), storeBytes(t, c.nodes[1].store, from, end); !bytes.Equal(got, want) {
			t.Fatal("the replaced store holds other bytes than its peer")
		}
		if got := storeBytes(t, lost.store, st.First, end); !bytes.Equal(got, w.data[st.First-w.base:]) {
			t.Fatal("the replaced store holds other bytes than the writer wrote")
		}
		// Its history describes only what it holds, with the writer's epochs.
		if len(st.History) == 0 || st.History[0].Start != st.Start || quorum.EpochAt(st.History, end-1) != 1 {
			t.Fatalf("history of the replaced store: %v (start %d)", st.History, st.Start)
		}
		// Below its start it refuses reads as truncated.
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := lost.store.Read(rctx, st.Start-1, 10, end); !errors.Is(err, logstore.ErrTruncated) {
			t.Fatalf("read below the restarted log's start: %v", err)
		}
		return st.Start
	}
	start := checkStore2()
	if start != firsts[0] && start != firsts[1] {
		t.Fatalf("the replaced store starts at %d, the peers' first retained LSNs are %v", start, firsts[:2])
	}

	// A quorum with the replaced store: store 0 goes down, commits go on without error.
	c.nodes[0].stop()
	commit(700, 900)
	checkStore2()
	end := l.End()
	if got := readLog(t, l, start, end); !bytes.Equal(got, w.data[start-w.base:]) {
		t.Fatal("reads through the writer differ")
	}
	// Followers read it too (from stores 1 and 2 only).
	r := newTestReader(t, []string{c.nodes[1].addr, lost.addr}, nil)
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got []byte
	for from := start; from < l.Committed(); {
		b, err := r.Read(rctx, from, 1<<20)
		if err != nil {
			t.Fatalf("follower read at %d: %v", from, err)
		}
		got = append(got, b...)
		from += page.LSN(len(b))
	}
	if !bytes.Equal(got, w.data[start-w.base:start-w.base+page.LSN(len(got))]) {
		t.Fatal("a follower reads other bytes")
	}

	// The writer crashes; a new one recovers from stores 1 and 2 and writes on.
	l.abort()
	l2 := c.mustOpen(2, nil)
	l = l2
	if l2.Recovered() != end {
		t.Fatalf("recovered %d, the log ended at %d", l2.Recovered(), end)
	}
	w2 := newWriter(l2)
	for i := 0; i < 100; i++ {
		if err := w2.commit(ctx, logtest.Group(3, uint64(i), 300)); err != nil {
			t.Fatalf("commit with the new writer: %v", err)
		}
	}
	if got := readLog(t, l2, start, l2.End()); !bytes.Equal(got, append(bytes.Clone(w.data[start-w.base:]), w2.data...)) {
		t.Fatal("the log after recovery differs")
	}
	// Store 0 returns and is reconciled with the new writer's log.
	c.nodes[0].start(t)
	checkStore(t, c.nodes[0], w2)
	checkStore(t, lost, w2)
}

func TestLostLog(t *testing.T) {
	for _, tc := range []struct {
		name      string
		st        logapi.Status
		logExists bool
		lost      bool
	}{
		{"a store with a log", logapi.Status{History: []quorum.Term{{Epoch: 1, Start: 64}}, Durable: 500}, true, false},
		{"a new cluster's empty store", logapi.Status{Durable: 64}, false, false},
		{"an empty store beside stores with a log", logapi.Status{Durable: 64}, true, true},
		{"a restarted log being filled", logapi.Status{History: []quorum.Term{{Epoch: 1, Start: 900}}, Start: 900, Durable: 950, FillTo: 1000}, true, true},
		{"a restarted log filled", logapi.Status{History: []quorum.Term{{Epoch: 1, Start: 900}}, Start: 900, Durable: 1000, FillTo: 1000}, true, false},
	} {
		if got := lostLog(tc.st, tc.logExists); (got != "") != tc.lost {
			t.Errorf("%s: lostLog = %q, want lost=%v", tc.name, got, tc.lost)
		}
	}
}

// TestLostStoreDoesNotVote: a store that lost its disk comes back empty while the writer is
// down. A new writer's recovery must not count it: with it and only one store holding the log,
// recovery fails for want of a quorum instead of trusting that store alone, which may lack
// records acknowledged by the lost store and the third one. Once the third store answers, the
// log is recovered whole, and the empty store is filled.
func TestLostStoreDoesNotVote(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	w := newWriter(l)
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	end := l.End()
	l.abort()
	lost := c.nodes[2]
	lost.stop()
	if err := os.RemoveAll(lost.dir); err != nil {
		t.Fatal(err)
	}
	lost.start(t)
	c.nodes[1].stop()
	if l2, err := c.open(2, func(o *Options) { o.StallTimeout = time.Second }); !errors.Is(err, ErrNoQuorum) {
		if err == nil {
			l2.abort()
		}
		t.Fatalf("recovery with one store holding the log and an empty one: %v", err)
	} else {
		t.Logf("refused: %v", err)
	}
	c.nodes[1].start(t)
	l3 := c.mustOpen(3, nil)
	defer l3.Close()
	if l3.Recovered() != end {
		t.Fatalf("recovered %d, the log ended at %d", l3.Recovered(), end)
	}
	checkStore(t, lost, w)
}

// TestNeverWritten: the stores without a history count for recovery only when every store
// answered and none holds a byte of a log or is being filled.
func TestNeverWritten(t *testing.T) {
	h := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}}
	empty := sealAnswer{st: logapi.Status{Start: redo.StartLSN, Durable: redo.StartLSN}}
	adopted := sealAnswer{st: logapi.Status{History: h, Start: redo.StartLSN, Durable: redo.StartLSN}}
	branch := sealAnswer{st: logapi.Status{History: []quorum.Term{{Epoch: 1, Start: 5000}}, Start: 5000, Durable: 5000, FillTo: 5000}}
	holding := sealAnswer{st: logapi.Status{History: h, Start: redo.StartLSN, Durable: 900}}
	filling := sealAnswer{st: logapi.Status{History: h, Start: 3000, Durable: 3000, FillTo: 4000}}
	down := sealAnswer{err: errors.New("down")}
	for _, tc := range []struct {
		name    string
		answers []sealAnswer
		want    bool
	}{
		{"a first recovery interrupted after one adopt", []sealAnswer{adopted, empty, empty}, true},
		{"a branch's creation interrupted after one start", []sealAnswer{empty, branch, empty}, true},
		{"no store has a history", []sealAnswer{empty, empty, empty}, true},
		{"a store holds bytes", []sealAnswer{adopted, holding, empty}, false},
		{"a store is being filled", []sealAnswer{filling, empty, empty}, false},
		{"a store did not answer", []sealAnswer{adopted, empty, down}, false},
	} {
		if got := neverWritten(tc.answers); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestFirstRecoveryInterrupted: the first writer of a new cluster failed inside its recovery,
// after one store adopted its log and before the others did. Every store answers the next
// writer, none holds a byte: the stores without a history count, and it recovers.
func TestFirstRecoveryInterrupted(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, n := range c.nodes {
		cl := storeClient(t, n.addr)
		if _, err := cl.Seal(ctx, &logstorepb.SealRequest{Epoch: 1, NewEpoch: true}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			h := logapi.TermsToPB([]quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
			if _, err := cl.Adopt(ctx, &logstorepb.AdoptRequest{Epoch: 1, At: uint64(redo.StartLSN), History: h}); err != nil {
				t.Fatal(err)
			}
		}
	}
	l := c.mustOpen(2, nil)
	defer l.Close()
	w := newWriter(l)
	for i := range 20 {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		checkStore(t, n, w)
	}
}
