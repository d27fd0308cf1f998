package pagestore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// TestReplayEquality feeds random groups to the store in chunks that split records, while
// readers ask for pages at positions the log has not reached yet, and checks that GetPage at
// many positions is byte-identical to the RW view, before and after images and compaction.
func TestReplayEquality(t *testing.T) {
	for _, tc := range []struct {
		name       string
		imageEvery int
		cache      int
	}{
		{"default", 0, 0},
		{"images", 2, 0},
		{"images-nocache", 2, -1},
		{"small-cache", 4, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := newFakeLog()
			w := newWorkload(t, 1, log, 8)
			w.groups(400)
			s := openStore(t, vfs.NewMem(), log, func(o *Options) { o.ImageEvery, o.CachePages = tc.imageEvery, tc.cache })
			s.Start()

			// Readers wait for positions the log has not reached yet.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for r := range 4 {
				rng := rand.New(rand.NewPCG(uint64(r), 7))
				wg.Go(func() {
					for range 50 {
						lsn := w.ends[rng.IntN(len(w.ends))]
						id := w.ids[rng.IntN(len(w.ids))]
						if err := w.checkOne(ctx, s, id, lsn); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			log.feed(ctx, rand.New(rand.NewPCG(2, 3)))
			wg.Wait()
			end := log.end()
			waitPersisted(t, s, end)
			if s.Persisted() != end {
				t.Fatalf("persisted %d past the log end %d", s.Persisted(), end)
			}
			if tc.imageEvery == 2 {
				waitFor(t, 10*time.Second, "images", func() bool { return s.Stats().Images > 0 })
			}
			w.check(t, s, w.lsns(150, redo.StartLSN, end), false)

			// Compact to the middle; every position at or above it still reads the same.
			h := w.ends[len(w.ends)/2]
			s.SetHorizon(h)
			if err := s.Compact(ctx); err != nil {
				t.Fatal(err)
			}
			if s.Stats().Compacted == 0 {
				t.Fatal("compaction removed nothing")
			}
			w.check(t, s, w.lsns(100, h, end), false)
			w.check(t, s, w.lsns(30, redo.StartLSN, h-1), true)

			// The store goes on consuming after compaction.
			w.groups(100)
			log.makeDurable()
			waitPersisted(t, s, log.end())
			w.check(t, s, w.lsns(100, h, log.end()), false)
			st := s.Stats()
			if st.Records != uint64(len(w.recs)) || st.Persisted != log.end() || st.GetPages == 0 {
				t.Fatalf("stats %+v, want %d records persisted to %d", st, len(w.recs), log.end())
			}
			t.Logf("stats %+v", st)
		})
	}
}

// TestPageTypes checks the meta page, overflow and free pages and a page of each B+tree kind.
func TestPageTypes(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 3, log, 6)
	w.group(func(g *redo.Group, start page.LSN) {
		for _, r := range []func() redo.Record{
			func() redo.Record { return g.Meta(page.Meta{Magic: page.MetaMagic, NextPage: 7}) },
			func() redo.Record { return g.Init(2, page.TypeLeaf, 0, 2) },
			func() redo.Record { return g.Insert(2, 0, []byte("hello")) },
			func() redo.Record { return g.Init(3, page.TypeInternal, 1, 2) },
			func() redo.Record { return g.Append(3, [][]byte{[]byte("a"), []byte("bc")}) },
			func() redo.Record { return g.Overflow(4, 2, 5, []byte("overflow data")) },
			func() redo.Record { return g.Free(5, 0) },
			func() redo.Record { return g.Links(2, 0, 6) },
			func() redo.Record { return g.Delete(2, 0) },
		} {
			off := page.LSN(g.Len())
			w.apply(r(), start+off)
		}
	})
	log.makeDurable()
	s := openStore(t, vfs.NewMem(), log, nil)
	s.Start()
	waitPersisted(t, s, log.end())
	w.check(t, s, w.lsns(40, redo.StartLSN, log.end()), false)
	var p page.Page
	if err := s.GetPage(context.Background(), page.MetaID, log.end(), &p); err != nil {
		t.Fatal(err)
	}
	if m := p.Meta(); p.Type() != page.TypeMeta || m.NextPage != 7 {
		t.Fatalf("meta page %s %+v", p.Type(), m)
	}
	if err := s.GetPage(context.Background(), 4, log.end(), &p); err != nil {
		t.Fatal(err)
	}
	if d, err := redo.OverflowData(&p); err != nil || string(d) != "overflow data" {
		t.Fatalf("overflow page: %q, %v", d, err)
	}
}

// TestGetPageWaits checks that GetPage waits for the log to reach the asked position and
// gives up with the caller's context.
func TestGetPageWaits(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 4, log, 4)
	w.groups(5)
	log.makeDurable()
	s := openStore(t, vfs.NewMem(), log, nil)
	s.Start()
	waitPersisted(t, s, log.end())

	w.groups(5)
	future := log.end()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- w.checkOne(ctx, s, w.ids[1], future)
	}()
	select {
	case err := <-done:
		t.Fatalf("GetPage returned before the log reached its position: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	log.makeDurable()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("GetPage did not return once the log reached its position")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var p page.Page
	err := s.GetPage(ctx, 2, log.end()+1000, &p)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetPage past the log = %v, want a deadline error", err)
	}

	// Close wakes waiters.
	go func() { time.Sleep(20 * time.Millisecond); _ = s.Close() }()
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.GetPage(ctx, 2, log.end()+1000, &p); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("GetPage on close = %v, want ErrClosed", err)
	}
	if err := s.GetPage(ctx, 2, redo.StartLSN+1, &p); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("GetPage after close = %v, want ErrClosed", err)
	}
}

// TestRestart closes the store half way and reopens it on the same files: it resumes from
// Persisted without losing or duplicating records.
func TestRestart(t *testing.T) {
	fs := vfs.NewMem()
	log := newFakeLog()
	w := newWorkload(t, 5, log, 6)
	w.groups(150)
	log.makeDurable()
	mid := w.ends[70]
	w.groups(150)

	// Only the first part is durable: cap the log there.
	full := log.end()
	log.setDurable(mid)
	s := openStore(t, fs, log, func(o *Options) { o.ImageEvery = 4 })
	s.Start()
	waitPersisted(t, s, mid)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, fs, log, func(o *Options) { o.ImageEvery = 4 })
	if s.Persisted() != mid {
		t.Fatalf("reopened at %d, want %d", s.Persisted(), mid)
	}
	w.check(t, s, w.lsns(40, redo.StartLSN, mid), false) // served before Start
	s.Start()
	log.setDurable(full)
	waitPersisted(t, s, full)
	w.check(t, s, w.lsns(120, redo.StartLSN, full), false)

	// Exactly one delta per page record, and the second run persisted only the new ones.
	deltas := 0
	for _, id := range w.ids {
		deltas += countKeys(t, s, id, kindDelta)
	}
	after := 0
	for _, l := range w.recs {
		if l >= mid {
			after++
		}
	}
	if deltas != len(w.recs) || s.Stats().Records != uint64(after) {
		t.Fatalf("%d deltas stored (%d records), %d persisted after the restart (want %d)",
			deltas, len(w.recs), s.Stats().Records, after)
	}
}

// TestCrash crashes the file system while the store consumes: the clone holds everything
// below the Persisted observed before the crash, and the store resumes from there.
func TestCrash(t *testing.T) {
	for _, pct := range []int{0, 50} {
		t.Run(fmt.Sprintf("unsynced%d", pct), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			log := newFakeLog()
			w := newWorkload(t, 6, log, 6)
			w.groups(300)
			s := openStore(t, fs, log, func(o *Options) { o.ImageEvery = 3 })
			s.Start()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			go log.feed(ctx, rand.New(rand.NewPCG(8, 9)))
			waitFor(t, 30*time.Second, "progress", func() bool { return s.Persisted() > w.ends[100] })
			before := s.Persisted()
			clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(1, 2))})
			waitPersisted(t, s, log.end())
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = openStore(t, clone, log, func(o *Options) { o.ImageEvery = 3 })
			after := s.Persisted()
			if after < before {
				t.Fatalf("after the crash persisted is %d, below %d observed before", after, before)
			}
			w.check(t, s, w.lsns(60, redo.StartLSN, after), false)
			s.Start()
			waitPersisted(t, s, log.end())
			w.check(t, s, w.lsns(100, redo.StartLSN, log.end()), false)
		})
	}
}

// TestTruncateAfter consumes a partial group that log recovery then cuts: TruncateAfter drops
// it, and the store goes on with the log written after the cut.
func TestTruncateAfter(t *testing.T) {
	fs := vfs.NewMem()
	log := newFakeLog()
	w := newWorkload(t, 10, log, 5)
	w.hotPage = 3
	w.groups(80)
	cut := log.end()
	w.group(func(g *redo.Group, start page.LSN) {
		for range 12 {
			off := page.LSN(g.Len())
			if r, ok := w.randomOp(g); ok {
				w.apply(r, start+off)
			}
		}
	})
	// Only the group's records but the last are durable: the store consumes a partial group.
	lastRec := w.recs[len(w.recs)-1]
	log.setDurable(lastRec)
	s := openStore(t, fs, log, func(o *Options) { o.ImageEvery = 2 })
	s.Start()
	waitPersisted(t, s, lastRec)
	waitFor(t, 10*time.Second, "images", func() bool { return s.Stats().Images > 0 })
	var p page.Page
	if err := s.GetPage(context.Background(), 3, lastRec, &p); err != nil { // cache a doomed version
		t.Fatal(err)
	}

	if err := s.TruncateAfter(cut); !errors.Is(err, ErrRunning) {
		t.Fatalf("TruncateAfter while running = %v, want ErrRunning", err)
	}
	s.Stop()
	if err := s.TruncateAfter(cut); err != nil {
		t.Fatal(err)
	}
	if s.Persisted() != cut {
		t.Fatalf("persisted %d after TruncateAfter(%d)", s.Persisted(), cut)
	}
	if n := versionsAtOrAbove(t, s, cut); n != 0 {
		t.Fatalf("%d versions at or above %d after TruncateAfter", n, cut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.GetPage(ctx, 3, lastRec, &p); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetPage past the cut = %v, want a deadline error", err)
	}

	// Log recovery cut the same place; a different history follows.
	log.cut(cut)
	w.cut(cut)
	w.check(t, s, w.lsns(40, redo.StartLSN, cut), false)
	w.groups(60)
	log.makeDurable()
	s.Start()
	waitPersisted(t, s, log.end())
	w.check(t, s, w.lsns(100, redo.StartLSN, log.end()), false)

	// And the truncation survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, fs, log, nil)
	w.check(t, s, w.lsns(100, redo.StartLSN, log.end()), false)
}

// TestHorizonCompaction compacts a hot page: its key count shrinks, positions at or above the
// horizon read the same, positions below it are refused, also after a restart.
func TestHorizonCompaction(t *testing.T) {
	fs := vfs.NewMem()
	log := newFakeLog()
	w := newWorkload(t, 11, log, 6)
	w.hotPage = 4
	w.groups(300)
	log.makeDurable()
	mod := func(o *Options) { o.ImageEvery, o.CachePages = 1000, -1 }
	s := openStore(t, fs, log, mod)
	s.Start()
	waitPersisted(t, s, log.end())
	end := log.end()

	ctx := context.Background()
	before := countKeys(t, s, 4, 0)
	h := w.ends[200]
	s.SetHorizon(h)
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	mid := countKeys(t, s, 4, 0)
	if mid >= before/2 {
		t.Fatalf("hot page has %d keys after compaction, %d before", mid, before)
	}
	w.check(t, s, w.lsns(150, h, end), false)
	var p page.Page
	if err := s.GetPage(ctx, 4, h-1, &p); !errors.Is(err, ErrCompacted) {
		t.Fatalf("GetPage below the horizon = %v, want ErrCompacted", err)
	}
	t.Logf("hot page keys: %d before, %d after compacting to %d; stats %+v", before, mid, h, s.Stats())

	// The floor survives a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, fs, log, func(o *Options) { mod(o); o.CompactInterval = 5 * time.Millisecond })
	if err := s.GetPage(ctx, 4, h-1, &p); !errors.Is(err, ErrCompacted) {
		t.Fatalf("GetPage below the horizon after a restart = %v, want ErrCompacted", err)
	}
	w.check(t, s, w.lsns(50, h, end), false)

	// Background compaction to the end leaves one version per page.
	s.Start()
	s.SetHorizon(end)
	waitFor(t, 10*time.Second, "background compaction to one version per page", func() bool {
		for _, id := range w.ids {
			if countKeys(t, s, id, 0) != 1 {
				return false
			}
		}
		return true
	})
	w.check(t, s, []page.LSN{end}, false)
}

// TestCorruptImage flips a byte of a stored image and of a stored delta: GetPage returns an
// error naming the page, and never panics.
func TestCorruptImage(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 12, log, 3)
	w.hotPage = 2
	w.groups(40)
	log.makeDurable()
	s := openStore(t, vfs.NewMem(), log, func(o *Options) { o.ImageEvery, o.CachePages = 2, -1 })
	s.Start()
	waitPersisted(t, s, log.end())
	waitFor(t, 10*time.Second, "an image", func() bool { return countKeys(t, s, 2, kindImage) > 0 })
	s.Stop()

	corrupt := func(kind byte, newest bool) page.LSN { // flips a byte of the newest or oldest version
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: versionKey(kind, 2, 0), UpperBound: pageUpper(kind, 2)})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		if (newest && !it.Last()) || (!newest && !it.First()) {
			t.Fatal("no version to corrupt")
		}
		_, _, at, _ := parseVersionKey(it.Key())
		v := append([]byte(nil), it.Value()...)
		v[len(v)/2] ^= 0x40
		if err := s.db.Set(append([]byte(nil), it.Key()...), v, pebble.NoSync); err != nil {
			t.Fatal(err)
		}
		return at
	}
	ctx := context.Background()
	var p page.Page
	at := corrupt(kindImage, true)
	err := s.GetPage(ctx, 2, at+1, &p)
	if err == nil || !strings.Contains(err.Error(), "page 2") || !errors.Is(err, page.ErrCorrupt) {
		t.Fatalf("GetPage of a corrupt image = %v", err)
	}
	t.Logf("corrupt image: %v", err)
	at = corrupt(kindDelta, false) // below every image
	err = s.GetPage(ctx, 2, at+1, &p)
	if err == nil || !strings.Contains(err.Error(), "page 2") || !errors.Is(err, redo.ErrCorrupt) {
		t.Fatalf("GetPage of a corrupt delta = %v", err)
	}
	t.Logf("corrupt delta: %v", err)
	// Other pages are unaffected.
	if err := w.checkOne(ctx, s, 3, log.end()); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptLog puts bytes that are not a record in the log: the store logs the position,
// stops consuming there and keeps serving what it has.
func TestCorruptLog(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 13, log, 4)
	w.groups(20)
	bad := log.end()
	g := redo.NewGroup()
	g.Init(2, page.TypeLeaf, 0, 0)
	b := g.Bytes()
	b[len(b)-1] ^= 1 // CRC mismatch
	log.appendPending(b)
	w.groups(5)
	log.makeDurable()

	var out lockedBuffer
	logger := slog.New(slog.NewTextHandler(&out, nil))
	s := openStore(t, vfs.NewMem(), log, func(o *Options) { o.Logger = logger })
	s.Start()
	waitFor(t, 10*time.Second, "the corruption report", func() bool { return strings.Contains(out.String(), "corrupt") })
	if s.Consumed() != bad {
		t.Fatalf("consumed %d, want %d (the corrupt record)", s.Consumed(), bad)
	}
	if want := fmt.Sprintf("lsn=%d", bad); !strings.Contains(out.String(), want) {
		t.Fatalf("log %q does not name %s", out.String(), want)
	}
	w.check(t, s, w.lsns(30, redo.StartLSN, bad), false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	var p page.Page
	if err := s.GetPage(ctx, 2, log.end(), &p); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetPage past the corruption = %v, want a deadline error", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(context.Background(), Options{FS: vfs.NewMem(), Dir: "x"}); err == nil {
		t.Fatal("Open without a log succeeded")
	}
	if _, err := Open(context.Background(), Options{FS: vfs.NewMem(), Log: newFakeLog()}); err == nil {
		t.Fatal("Open without a directory succeeded")
	}
	s := openStore(t, vfs.NewMem(), newFakeLog(), nil)
	var p page.Page
	if err := s.GetPage(context.Background(), page.Invalid, redo.StartLSN, &p); !errors.Is(err, storage.ErrPageNotFound) {
		t.Fatalf("GetPage of page 0 = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	s.Start() // no-op on a closed store
}

// flakyLog fails its first reads.
type flakyLog struct {
	*fakeLog
	mu    sync.Mutex
	fails int
}

func (l *flakyLog) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	l.mu.Lock()
	fail := l.fails > 0
	l.fails--
	l.mu.Unlock()
	if fail {
		return nil, errors.New("flaky: unavailable")
	}
	return l.fakeLog.Read(ctx, from, max)
}

// TestLogReadErrors checks that the store retries a log that fails for a while.
func TestLogReadErrors(t *testing.T) {
	log := &flakyLog{fakeLog: newFakeLog(), fails: 3}
	w := newWorkload(t, 14, log.fakeLog, 3)
	w.groups(10)
	log.makeDurable()
	s := openStore(t, vfs.NewMem(), log, nil)
	s.Start()
	waitPersisted(t, s, log.end())
	w.check(t, s, w.lsns(20, redo.StartLSN, log.end()), false)
}

// TestCompactionVisitsChangedPages: after the first (full) pass, a compaction visits only the
// pages given deltas since, and still leaves each of them one version at the horizon.
func TestCompactionVisitsChangedPages(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 21, log, 12)
	w.groups(200)
	log.makeDurable()
	s := openStore(t, vfs.NewMem(), log, func(o *Options) { o.ImageEvery, o.CachePages = 1000, -1 })
	s.Start()
	waitPersisted(t, s, log.end())
	ctx := context.Background()
	s.SetHorizon(log.end())
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	full := s.stats.compactVisits.Load()
	if full < uint64(len(w.ids))/2 {
		t.Fatalf("the first pass visited %d pages of %d", full, len(w.ids))
	}
	all := w.ids
	w.ids = all[:2] // only these change now
	w.groups(50)
	w.ids = all
	log.makeDurable()
	waitPersisted(t, s, log.end())
	end := log.end()
	s.SetHorizon(end)
	if err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s.stats.compactVisits.Load() - full; got == 0 || got > 2 {
		t.Fatalf("the second pass visited %d pages, want the 1 or 2 changed", got)
	}
	for _, id := range all[:2] {
		if n := countKeys(t, s, id, 0); n > 1 {
			t.Fatalf("changed page %d keeps %d versions after compacting to the end", id, n)
		}
	}
	w.check(t, s, []page.LSN{end}, false)

	// A page changed on both sides of the horizon is compacted below it, and visited again
	// by the next pass (its newest delta is above the horizon).
	w.ids = all[:1]
	w.groups(60)
	w.ids = all
	log.makeDurable()
	waitPersisted(t, s, log.end())
	mid, end2 := w.ends[len(w.ends)-30], log.end()
	for _, h := range []page.LSN{mid, end2} {
		visits := s.stats.compactVisits.Load()
		s.SetHorizon(h)
		if err := s.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.stats.compactVisits.Load() - visits; got != 1 {
			t.Fatalf("compacting to %d visited %d pages, want the one changed", h, got)
		}
	}
	if n := countKeys(t, s, all[0], 0); n > 1 {
		t.Fatalf("page %d keeps %d versions after compacting to the end", all[0], n)
	}
	w.check(t, s, []page.LSN{end2}, false)
}
