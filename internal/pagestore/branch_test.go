package pagestore

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/storage"
)

// fork returns a workload that goes on from w's state on log (a branch's): the same pages
// and history, its own randomness.
func (w *workload) fork(log *fakeLog, seed uint64) *workload {
	b := *w
	b.rng = rand.New(rand.NewPCG(seed, seed^0x5bd1e995))
	b.log = log
	b.pages = make(map[page.ID]*page.Page, len(w.pages))
	for id, p := range w.pages {
		cp := *p
		b.pages[id] = &cp
	}
	b.hist = maps.Clone(w.hist)
	for id, h := range b.hist {
		b.hist[id] = slices.Clip(h)
	}
	b.ends, b.recs = slices.Clip(w.ends), slices.Clip(w.recs)
	return &b
}

// branchLog returns a log that holds base's bytes below lsn (a branch's log starts there:
// its store never reads below it) and nothing after.
func branchLog(base *fakeLog, lsn page.LSN) *fakeLog {
	base.mu.Lock()
	defer base.mu.Unlock()
	l := newFakeLog()
	l.data = append(l.data[:0], base.data[:lsn]...)
	l.durable = lsn
	return l
}

// TestBranch: a branch store over its base reads, at every position, exactly what a database
// that went on from the branch point with the branch's records has: the base's pages below
// the branch point; pages the branch never touched, as the base had them there (whatever the
// base wrote since); pages it changed or created, with its records on top of the base's page.
// That holds while images are materialised, after compaction and after a restart.
func TestBranch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	baseLog := newFakeLog()
	w := newWorkload(t, 31, baseLog, 12)
	base := openStore(t, vfs.NewMem(), baseLog, func(o *Options) { o.ImageEvery = 4 })
	base.Start()
	w.groups(150)
	baseLog.feed(ctx, w.rng)
	at := w.ends[len(w.ends)-1] // the branch point: a group end
	waitPersisted(t, base, at)

	bl := branchLog(baseLog, at)
	bw := w.fork(bl, 77)
	fs := vfs.NewMem()
	mod := func(o *Options) { o.Base, o.BaseLSN, o.ImageEvery = base, at, 4 }
	br := openStore(t, fs, bl, mod)
	if s, err := Open(ctx, Options{FS: vfs.NewMem(), Dir: "x", Log: bl, Base: base, BaseLSN: at, Start: at + 1, Logger: discard}); err == nil {
		s.Close()
		t.Fatal("a branch store that starts elsewhere than its base position opened")
	}
	br.Start()

	// Both go on: the base's later writes must not show in the branch.
	w.groups(100)
	baseLog.feed(ctx, w.rng)
	bw.groups(100)
	bl.feed(ctx, bw.rng)
	waitPersisted(t, base, baseLog.end())
	waitPersisted(t, br, bl.end())

	if len(bw.hist[999]) != 0 {
		t.Fatal("page 999 is meant to have no version")
	}
	bw.check(t, br, bw.lsns(40, at, bl.end()), false)
	bw.check(t, br, bw.lsns(10, 64, at), false) // below the branch point: the base's
	w.check(t, base, w.lsns(30, 64, baseLog.end()), false)

	// Compaction on the branch folds its deltas onto the base's pages.
	br.SetHorizon(bl.end())
	if err := br.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	bw.check(t, br, []page.LSN{bl.end()}, false)
	var p page.Page
	if err := br.GetPage(ctx, 3, at+1, &p); !errors.Is(err, ErrCompacted) {
		t.Fatalf("a position below the branch's compaction floor: %v", err)
	}

	// A restart: the branch keeps what it has and still reads the rest from its base.
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	br = openStore(t, fs, bl, mod)
	br.Start()
	bw.groups(40)
	bl.feed(ctx, bw.rng)
	waitPersisted(t, br, bl.end())
	bw.check(t, br, bw.lsns(20, bl.end()-200, bl.end()), true)
	if err := br.GetPage(ctx, 999, bl.end(), &p); !errors.Is(err, storage.ErrPageNotFound) {
		t.Fatalf("a page neither wrote: %v", err)
	}

}

// TestBranchCopy: a copy of a branch store's segment (what an archive base of a restored main
// database is made of) holds every page of the branch as of the copy's position: those the
// branch wrote and those it shares with its base.
func TestBranchCopy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	baseLog := newFakeLog()
	w := newWorkload(t, 41, baseLog, 12)
	base := openStore(t, vfs.NewMem(), baseLog, func(o *Options) { o.ImageEvery = 4 })
	base.Start()
	w.groups(120)
	baseLog.feed(ctx, w.rng)
	at := w.ends[len(w.ends)-1]
	waitPersisted(t, base, at)
	bl := branchLog(baseLog, at)
	bw := w.fork(bl, 43)
	br := openStore(t, vfs.NewMem(), bl, func(o *Options) { o.Base, o.BaseLSN, o.ImageEvery = base, at, 4 })
	br.Start()
	all := bw.ids
	bw.ids = all[:3] // the branch writes three pages only
	bw.groups(40)
	bw.ids = all
	bl.feed(ctx, bw.rng)
	waitPersisted(t, br, bl.end())
	segs, err := br.UsedSegments()
	if err != nil || len(segs) != 1 {
		t.Fatalf("the branch's segments: %v, %v", segs, err)
	}
	end := bl.end()
	got := map[page.ID]page.Page{}
	if err := br.ScanSegment(ctx, segs[0], end, func(int) {}, func(p *page.Page) error { got[p.ID()] = *p; return nil }); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, id := range all {
		want, ok := bw.expect(id, end)
		if !ok {
			continue
		}
		n++
		if g, ok := got[id]; !ok || g != *want {
			t.Fatalf("page %d in the branch's copy: present %v", id, ok)
		}
	}
	if n != len(got) || n <= 3 {
		t.Fatalf("the copy holds %d pages, the branch %d", len(got), n)
	}
}
