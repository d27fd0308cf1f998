package pagestore

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/placement"
	"strata/internal/redo"
	"strata/internal/storage"
)

// peerSource is a SegmentSource over a store in the same process.
type peerSource struct{ peer *Store }

func (p *peerSource) CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(int), emit func(*page.Page) error) error {
	return p.peer.ScanSegment(ctx, seg, lsn, pages, emit)
}

func (p *peerSource) UsedSegments(context.Context) ([]uint64, error) { return p.peer.UsedSegments() }

// TestMoveSegment gives a running store a segment it never kept, while the log goes on: the
// store copies it from a peer, then serves it exactly as the RW view has it at every position
// from the copy on (and ErrCompacted below). Taking the segment away deletes its versions.
func TestMoveSegment(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 7, log, 11) // pages 1..11: segments 0 (1-3), 1 (4-7), 2 (8-11)
	w.groups(200)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log.feed(ctx, rand.New(rand.NewPCG(3, 4)))
	all := placement.Ownership{SegmentPages: 4, Rest: true}
	a := openStore(t, vfs.NewMem(), log, func(o *Options) { o.ImageEvery, o.Ownership = 4, &all })
	a.Start()
	src := &peerSource{peer: a}
	none := placement.Ownership{SegmentPages: 4}
	bfs := vfs.NewMem()
	b := openStore(t, bfs, log, func(o *Options) { o.ImageEvery, o.Ownership, o.Source = 4, &none, src })
	b.Start()
	waitPersisted(t, b, log.end())
	if b.Owns(5) || countKeys(t, b, 5, 0) != 0 {
		t.Fatal("a store keeping nothing holds page 5")
	}
	if err := b.SetOwnership(placement.Ownership{SegmentPages: 4, Segments: map[uint64]bool{1: true}}); err != nil {
		t.Fatal(err)
	}
	from := b.own.Load().Incoming[1]
	if from == 0 || b.Owns(5) {
		t.Fatalf("segment 1 not incoming (from %d) or already served", from)
	}
	var p page.Page
	if err := b.GetPage(ctx, 5, log.end(), &p); !errors.Is(err, ErrNotOwned) {
		t.Fatalf("GetPage of a segment being copied = %v, want ErrNotOwned", err)
	}
	// The log goes on while the copy runs.
	w.groups(200)
	log.feed(ctx, rand.New(rand.NewPCG(5, 6)))
	waitFor(t, 30*time.Second, "the copy", func() bool { return b.Owns(5) && len(b.Copying()) == 0 })
	end := log.end()
	waitPersisted(t, b, end)
	if n, segs := b.Segments(); n != 4 || len(segs) != 1 || segs[0] != 1 {
		t.Fatalf("Segments() = %d, %v", n, segs)
	}
	for _, lsn := range w.lsns(80, redo.StartLSN, end) {
		for _, id := range w.allIDs() {
			err := w.checkOne(ctx, b, id, lsn)
			switch {
			case placement.SegmentOf(id, 4) != 1:
				if gerr := b.GetPage(ctx, id, lsn, &p); !errors.Is(gerr, ErrNotOwned) {
					t.Fatalf("GetPage(%d) of an unowned segment = %v", id, gerr)
				}
			case lsn < from:
				if !errors.Is(err, ErrCompacted) {
					t.Fatalf("GetPage(%d, %d) below the copy position %d = %v, want ErrCompacted", id, lsn, from, err)
				}
			case err != nil:
				t.Fatal(err)
			}
		}
	}
	// Reopened, it still serves the segment, with the same floor.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openStore(t, bfs, log, func(o *Options) { o.ImageEvery, o.Source = 4, src })
	b.Start()
	if !b.Owns(5) || b.own.Load().Floors[1] != from {
		t.Fatalf("reopened: serves page 5 %v, floor %d", b.Owns(5), b.own.Load().Floors[1])
	}
	for _, lsn := range w.lsns(20, from, end) {
		for id := page.ID(4); id <= 7; id++ {
			if err := w.checkOne(ctx, b, id, lsn); err != nil {
				t.Fatalf("reopened: %v", err)
			}
		}
	}
	// Taken away: the versions go.
	if err := b.SetOwnership(none); err != nil {
		t.Fatal(err)
	}
	for id := page.ID(4); id <= 7; id++ {
		if n := countKeys(t, b, id, 0); n != 0 || b.Owns(id) {
			t.Fatalf("page %d of a dropped segment: %d versions, owned %v", id, n, b.Owns(id))
		}
	}
	if err := b.SetOwnership(placement.Ownership{SegmentPages: 8, Rest: true}); !errors.Is(err, ErrOwnership) {
		t.Fatalf("changing the segment size of a partial store = %v, want ErrOwnership", err)
	}
	// The same ownership again writes nothing (the placement is applied every second): even a
	// closed store takes it, while a change needs a write and is refused.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.SetOwnership(placement.Ownership{SegmentPages: 4, Segments: map[uint64]bool{1: false}}); err != nil {
		t.Fatalf("the same ownership again on a closed store: %v", err)
	}
	if err := b.SetOwnership(placement.Ownership{SegmentPages: 4, Segments: map[uint64]bool{1: true}}); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("a new ownership on a closed store: %v, want ErrClosed", err)
	}
}

// peerWithLog returns a log of 300 groups of a workload, and a running store of every page
// that has persisted them all (a peer to copy from); ctx ends with the test, within a minute.
func peerWithLog(t *testing.T) (*fakeLog, *workload, *Store, context.Context) {
	t.Helper()
	log := newFakeLog()
	w := newWorkload(t, 9, log, 11)
	w.groups(300)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	log.feed(ctx, rand.New(rand.NewPCG(7, 8)))
	a := openStore(t, vfs.NewMem(), log, func(o *Options) { o.ImageEvery, o.SegmentPages, o.Segments = 4, 0, nil })
	a.Start()
	waitPersisted(t, a, log.end())
	return log, w, a, ctx
}

// TestNewStoreCopiesFromPeers opens an empty store after the log was truncated: it starts at
// the log's end, copies every segment from a peer, and then answers like the peer from there
// on, while the log goes on.
func TestNewStoreCopiesFromPeers(t *testing.T) {
	log, w, a, ctx := peerWithLog(t)
	log.mu.Lock()
	log.first = log.durable // truncated: nothing before the end can be read
	log.mu.Unlock()
	fresh := openStore(t, vfs.NewMem(), log, func(o *Options) { o.ImageEvery, o.Source = 4, &peerSource{peer: a} })
	// The fake log does not say where its groups end: the copy starts at the first group end
	// the store consumes after where it starts, the log's end.
	start := fresh.Consumed()
	if st := fresh.own.Load(); start != log.Durable() || st.RestIncoming == 0 || !st.Rebase || fresh.Owns(3) {
		t.Fatalf("new store after truncation: starts at %d (log end %d), %+v, serving %v", start, log.Durable(), st, fresh.Owns(3))
	}
	fresh.Start()
	w.groups(200)
	log.feed(ctx, rand.New(rand.NewPCG(9, 10)))
	waitFor(t, 30*time.Second, "the copy", func() bool { return !fresh.CopyingRest() })
	end := log.end()
	waitPersisted(t, fresh, end)
	from := fresh.Floor()
	if from <= start || !slices.Contains(w.ends, from) {
		t.Fatalf("copied as of %d: not a group end after the start %d", from, start)
	}
	w.check(t, fresh, w.lsns(60, from, end), false)
	// Below the copy position: ErrCompacted, or (from the cache) the right page.
	if err := w.checkOne(ctx, fresh, 3, from-1); err != nil && !errors.Is(err, ErrCompacted) {
		t.Fatalf("below the copy position: %v", err)
	}
}

// blockingSource sends at most limit pages, then waits until ctx ends (a peer stuck mid-copy).
type blockingSource struct {
	peer  *Store
	limit int
	sent  chan struct{} // closed once limit pages were sent
}

func (b *blockingSource) CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(int), emit func(*page.Page) error) error {
	n := 0
	err := b.peer.ScanSegment(ctx, seg, lsn, pages, func(p *page.Page) error {
		if n == b.limit {
			close(b.sent)
			<-ctx.Done()
			return ctx.Err()
		}
		n++
		return emit(p)
	})
	return err
}

func (b *blockingSource) UsedSegments(context.Context) ([]uint64, error) {
	return b.peer.UsedSegments()
}

// gatedSource copies from peer once open is closed.
type gatedSource struct {
	peer *Store
	open chan struct{}
}

func (g *gatedSource) CopySegment(ctx context.Context, seg uint64, lsn page.LSN, pages func(int), emit func(*page.Page) error) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.peer.ScanSegment(ctx, seg, lsn, pages, emit)
}

func (g *gatedSource) UsedSegments(context.Context) ([]uint64, error) { return g.peer.UsedSegments() }

// TestCopyResumesAfterRestart closes a store in the middle of copying a segment: reopened, it
// copies the segment again as of the same position and then serves it right.
func TestCopyResumesAfterRestart(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 13, log, 11)
	w.groups(300)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log.feed(ctx, rand.New(rand.NewPCG(5, 5)))
	all := placement.Ownership{SegmentPages: 4, Rest: true}
	a := openStore(t, vfs.NewMem(), log, func(o *Options) { o.ImageEvery, o.Ownership = 4, &all })
	a.Start()
	none := placement.Ownership{SegmentPages: 4}
	fs := vfs.NewMem()
	stuck := &blockingSource{peer: a, limit: 2, sent: make(chan struct{})}
	b := openStore(t, fs, log, func(o *Options) { o.ImageEvery, o.Ownership, o.Source = 4, &none, stuck })
	b.Start()
	waitPersisted(t, b, log.end())
	if err := b.SetOwnership(placement.Ownership{SegmentPages: 4, Segments: map[uint64]bool{1: true}}); err != nil {
		t.Fatal(err)
	}
	from := b.own.Load().Incoming[1]
	select {
	case <-stuck.sent:
	case <-ctx.Done():
		t.Fatal("the copy did not start")
	}
	if got := b.Copying(); len(got) != 1 || got[0].Segment != 1 || got[0].Total == 0 {
		t.Fatalf("Copying() = %+v", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// The reopened store starts copying at once: hold the copy until its state was checked.
	gate := &gatedSource{peer: a, open: make(chan struct{})}
	b = openStore(t, fs, log, func(o *Options) { o.ImageEvery, o.Source = 4, gate })
	if got := b.own.Load().Incoming[1]; got != from {
		t.Fatalf("reopened: copying segment 1 as of %d, want %d", got, from)
	}
	close(gate.open)
	b.Start()
	w.groups(100)
	log.feed(ctx, rand.New(rand.NewPCG(6, 6)))
	waitFor(t, 30*time.Second, "the copy", func() bool { return b.Owns(5) })
	end := log.end()
	waitPersisted(t, b, end)
	for _, lsn := range w.lsns(40, from, end) {
		for id := page.ID(4); id <= 7; id++ {
			if err := w.checkOne(ctx, b, id, lsn); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestStartCopied opens a new store that starts from a copy as of a position the log still
// holds (a timeline made from a base in the archive): it copies every segment as of that
// position, consumes the log from there, not from the beginning, and serves every position
// from it on exactly as the RW view has it.
func TestStartCopied(t *testing.T) {
	log, w, a, ctx := peerWithLog(t)
	start := w.ends[200]
	if _, err := Open(ctx, Options{FS: vfs.NewMem(), Dir: "x", Log: log, Start: start, StartCopied: true}); err == nil {
		t.Fatal("a store that starts from a copy without a source was opened")
	}
	fresh := openStore(t, vfs.NewMem(), log, func(o *Options) {
		o.ImageEvery, o.Source, o.Start, o.StartCopied = 4, &peerSource{peer: a}, start, true
	})
	if st := fresh.own.Load(); fresh.Consumed() != start || st.RestIncoming != start || st.Rebase {
		t.Fatalf("new store from a copy: starts at %d (want %d), %+v", fresh.Consumed(), start, st)
	}
	fresh.Start()
	w.groups(100)
	log.feed(ctx, rand.New(rand.NewPCG(9, 10)))
	waitFor(t, 30*time.Second, "the copy", func() bool { return !fresh.CopyingRest() })
	end := log.end()
	waitPersisted(t, fresh, end)
	if got := fresh.Floor(); got != start {
		t.Fatalf("copied as of %d, want %d", got, start)
	}
	w.check(t, fresh, append(w.lsns(60, start, end), start, end), false)
	if err := w.checkOne(ctx, fresh, 3, start-1); err != nil && !errors.Is(err, ErrCompacted) {
		t.Fatalf("below the start: %v", err)
	}
}
