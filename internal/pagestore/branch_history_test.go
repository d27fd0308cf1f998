package pagestore

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// wantCommitAt checks CommitAtOrBefore(lsn) against the expected LSN (0: ErrBeforeHistory) and
// window.
func wantCommitAt(t *testing.T, s *Store, lsn, want page.LSN, oldest, newest int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tp, err := s.CommitAtOrBefore(ctx, lsn)
	switch {
	case want == 0 && !errors.Is(err, storage.ErrBeforeHistory):
		t.Fatalf("CommitAtOrBefore(%d) = %+v, %v; want ErrBeforeHistory", lsn, tp, err)
	case want == 0 && tp.LSN != 0:
		t.Fatalf("CommitAtOrBefore(%d) = %+v with ErrBeforeHistory; want lsn 0", lsn, tp)
	case want != 0 && (err != nil || tp.LSN != want):
		t.Fatalf("CommitAtOrBefore(%d) = %+v, %v; want lsn %d", lsn, tp, err, want)
	}
	if tp.Oldest != oldest || tp.Newest != newest {
		t.Fatalf("CommitAtOrBefore(%d) window [%d, %d], want [%d, %d]", lsn, tp.Oldest, tp.Newest, oldest, newest)
	}
}

// pagesOnly hides every method of a page source but GetPage (a base with no time index).
type pagesOnly struct{ storage.PageSource }

// TestBranchTimeIndex: a branch store answers LSNAt and CommitAtOrBefore for the times and
// positions before its first commit from its base, clamped to the branch point B (the base's
// commits after B are not the branch's), and from its own index from its first commit on;
// compaction of the branch keeps its first commit, so the base's history stays readable by
// time; the same holds down a chain of branches; a base with no time index leaves the branch
// with its own history only.
func TestBranchTimeIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	baseLog := newFakeLog()
	w := newWorkload(t, 41, baseLog, 6)
	base := openStore(t, vfs.NewMem(), baseLog, func(o *Options) { o.ImageEvery = 4 })
	base.Start()
	const (
		t1, t2, tB = baseTime + 100, baseTime + 200, baseTime + 300 // the base's, up to B
		t5         = baseTime + 500                                 // the base's, after B
		tF1, tF1b  = baseTime + 600, baseTime + 650                 // the branch's
		tF2, tF3   = baseTime + 700, baseTime + 800
		tH1        = baseTime + 900 // the branch's branch's
	)
	w.timedGroup(0, false)
	e1 := w.timedGroup(t1, true)
	w.timedGroup(0, false)
	e2 := w.timedGroup(t2, true)
	b := w.timedGroup(tB, true) // the branch point
	baseLog.makeDurable()
	waitPersisted(t, base, b)

	bl := branchLog(baseLog, b)
	bw := w.fork(bl, 43)
	fs := vfs.NewMem()
	mod := func(o *Options) { o.Base, o.BaseLSN, o.ImageEvery = base, b, 4 }
	br := openStore(t, fs, bl, mod)
	br.Start()

	// Nothing indexed on the branch yet: every answer is the base's, up to B.
	wantLSNAt(t, br, t1-1, 0, t1, tB)
	wantLSNAt(t, br, t2+50, e2, t1, tB)
	wantLSNAt(t, br, tB+10, b, t1, tB)
	wantCommitAt(t, br, b, b, t1, tB)

	// The base goes on after B: a commit at B's very time (its index entry now names this
	// commit, not B) and a later one. None of it is the branch's.
	e4 := w.timedGroup(tB, true)
	w.timedGroup(0, false)
	e5 := w.timedGroup(t5, true)
	baseLog.makeDurable()
	waitPersisted(t, base, e5)
	for at, want := range map[int64]page.LSN{tB: e4, t5 + 10: e5} {
		if tp, err := base.LSNAt(ctx, at, 0); err != nil || tp.LSN != want {
			t.Fatalf("the base's LSNAt(%s) = %+v, %v; want %d", fmtMicros(at), tp, err, want)
		}
	}
	wantLSNAt(t, br, tB, b, t1, t5) // the base says e4
	wantLSNAt(t, br, t5+10, b, t1, t5)
	wantLSNAt(t, br, math.MaxInt64, b, t1, t5)
	wantCommitAt(t, br, b, b, t1, t5)
	wantCommitAt(t, br, b-1, e2, t1, t5)

	// The branch commits; a branch of it is made at its second commit.
	bw.timedGroup(0, false)
	f1 := bw.timedGroup(tF1, true)
	f1b := bw.timedGroup(tF1b, true)
	bl2 := branchLog(bl, f1b)
	bw2 := bw.fork(bl2, 47)
	f2 := bw.timedGroup(tF2, true)
	g2 := bw.timedGroup(0, false)
	f3 := bw.timedGroup(tF3, true)
	bl.makeDurable()
	waitPersisted(t, br, bl.end())

	// Before the branch's first commit: the base's history up to B, with the window from the
	// base's oldest time to the branch's newest.
	wantLSNAt(t, br, t1-1, 0, t1, tF3)
	wantLSNAt(t, br, -1, 0, t1, tF3)
	wantLSNAt(t, br, t1, e1, t1, tF3)
	wantLSNAt(t, br, t2, e2, t1, tF3)
	wantLSNAt(t, br, tB-1, e2, t1, tF3)
	wantLSNAt(t, br, tB, b, t1, tF3)
	wantLSNAt(t, br, t5+10, b, t1, tF3)
	wantLSNAt(t, br, tF1-1, b, t1, tF3)
	// From its first commit on: its own index, with its own window.
	wantLSNAt(t, br, tF1, f1, tF1, tF3)
	wantLSNAt(t, br, tF1b+1, f1b, tF1, tF3)
	wantLSNAt(t, br, tF2+50, f2, tF1, tF3)
	wantLSNAt(t, br, math.MaxInt64, f3, tF1, tF3)
	if _, err := br.LSNAt(ctx, t1-1, 0); err == nil || !errors.Is(err, storage.ErrBeforeHistory) {
		t.Fatalf("LSNAt before the base's history: %v", err)
	}

	wantCommitAt(t, br, redo.StartLSN, 0, t1, tF3)
	wantCommitAt(t, br, e1-1, 0, t1, tF3)
	wantCommitAt(t, br, e1, e1, t1, tF3)
	wantCommitAt(t, br, e2-1, e1, t1, tF3)
	wantCommitAt(t, br, e2+1, e2, t1, tF3)
	wantCommitAt(t, br, b-1, e2, t1, tF3)
	wantCommitAt(t, br, b, b, t1, tF3) // the base's index names e2 for it: B's entry is e4's now
	wantCommitAt(t, br, b+1, b, t1, tF3)
	wantCommitAt(t, br, f1-1, b, t1, tF3)
	wantCommitAt(t, br, f1, f1, tF1, tF3)
	wantCommitAt(t, br, g2, f2, tF1, tF3)
	wantCommitAt(t, br, bl.end(), f3, tF1, tF3)
	// The answers are readable.
	bw.check(t, br, []page.LSN{e1, e2, b, f1, f2, f3}, false)

	// A branch of the branch: its base's answers, clamped to its own branch point.
	br2 := openStore(t, vfs.NewMem(), bl2, func(o *Options) { o.Base, o.BaseLSN, o.ImageEvery = br, f1b, 4 })
	br2.Start()
	// Nothing of its own yet: its base's answer and window (here from its base's own index).
	wantLSNAt(t, br2, tF2, f1b, tF1, tF3)
	wantLSNAt(t, br2, t2, e2, t1, tF3)
	bw2.timedGroup(0, false)
	h1 := bw2.timedGroup(tH1, true)
	bl2.makeDurable()
	waitPersisted(t, br2, bl2.end())
	// Its base's answers carry their own window's oldest time: the base's base's, or the
	// base's own when it answered from its own index.
	wantLSNAt(t, br2, t1-1, 0, t1, tH1)
	wantLSNAt(t, br2, t2, e2, t1, tH1)
	wantLSNAt(t, br2, t5, b, t1, tH1)
	wantLSNAt(t, br2, tF1, f1, tF1, tH1)
	wantLSNAt(t, br2, tF1b, f1b, tF1, tH1)
	wantLSNAt(t, br2, tF3, f1b, tF1, tH1) // its base says f3
	wantLSNAt(t, br2, tH1, h1, tH1, tH1)
	wantCommitAt(t, br2, e1-1, 0, t1, tH1)
	wantCommitAt(t, br2, e2, e2, t1, tH1)
	wantCommitAt(t, br2, b, b, t1, tH1)
	wantCommitAt(t, br2, f1, f1, tF1, tH1)
	wantCommitAt(t, br2, f1b, f1b, tF1, tH1)
	wantCommitAt(t, br2, h1-1, f1b, tF1, tH1)
	wantCommitAt(t, br2, h1, h1, tH1, tH1)
	bw2.check(t, br2, []page.LSN{e2, b, f1, f1b, h1}, false)
	if err := br2.Close(); err != nil { // its base compacts below its branch point next
		t.Fatal(err)
	}

	// Compaction of the branch to g2 (between f2 and f3): of its entries below g2 it keeps
	// its first commit, f1, and the newest, f2. The base's history is still there; the
	// branch's own before g2 is not, but for f2's time (no commit between f2 and g2).
	br.SetHorizon(g2)
	if err := br.Compact(ctx); err != nil || br.Floor() != g2 {
		t.Fatalf("compact the branch to %d: floor %d, %v", g2, br.Floor(), err)
	}
	checkCompacted := func() {
		t.Helper()
		wantLSNAt(t, br, t1-1, 0, t1, tF3)
		wantLSNAt(t, br, t2, e2, t1, tF3)
		wantLSNAt(t, br, t5, b, t1, tF3)
		wantLSNAt(t, br, tF1, 0, tF2, tF3)
		wantLSNAt(t, br, tF1b, 0, tF2, tF3)
		wantLSNAt(t, br, tF2, g2, tF2, tF3)
		wantLSNAt(t, br, tF3, f3, tF2, tF3)
		wantCommitAt(t, br, e2, e2, t1, tF3)
		wantCommitAt(t, br, b, b, t1, tF3)
		wantCommitAt(t, br, f1-1, b, t1, tF3)
		wantCommitAt(t, br, f1, 0, tF2, tF3)
		wantCommitAt(t, br, f2, g2, tF2, tF3)
		wantCommitAt(t, br, f3, f3, tF2, tF3)
		bw.check(t, br, []page.LSN{e2, b, g2, f3}, false)
	}
	checkCompacted()
	it, err := newTimeIter(br.db)
	if err != nil {
		t.Fatal(err)
	}
	var kept []page.LSN
	for valid := it.First(); valid; valid = it.Next() {
		e, err := parseTimeEntry(it)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, e.lsn)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if len(kept) != 3 || kept[0] != f1 || kept[1] != f2 || kept[2] != f3 {
		t.Fatalf("the branch's time index after compaction holds %v, want [%d %d %d]", kept, f1, f2, f3)
	}

	// A restart: the branch still asks its base, and compaction still keeps its first commit.
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	br = openStore(t, fs, bl, mod)
	br.Start()
	checkCompacted()
	br.SetHorizon(f3)
	if err := br.Compact(ctx); err != nil || br.Floor() != f3 {
		t.Fatalf("compact the branch to %d: floor %d, %v", f3, br.Floor(), err)
	}
	wantLSNAt(t, br, t2, e2, t1, tF3)
	wantLSNAt(t, br, tF1, 0, tF3, tF3)
	wantLSNAt(t, br, tF2, 0, tF3, tF3)
	wantLSNAt(t, br, tF3, f3, tF3, tF3)
	wantCommitAt(t, br, b, b, t1, tF3)

	// A base with no time index: the branch has its own history only, as before.
	plain := openStore(t, vfs.NewMem(), branchLog(baseLog, b), func(o *Options) { o.Base, o.BaseLSN = pagesOnly{base}, b })
	plain.Start()
	wantLSNAt(t, plain, t2, 0, 0, 0)
	wantCommitAt(t, plain, b, 0, 0, 0)
}
