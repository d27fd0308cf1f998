package pagestore

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// baseTime is a commit time in µs (2023-11-14T22:13:20Z).
const baseTime int64 = 1_700_000_000_000_000

// timedGroup appends a group of a few random records, ending with the commit of a new
// transaction at time at when commit is set, and returns its end.
func (w *workload) timedGroup(at int64, commit bool) page.LSN {
	start := w.log.end()
	g := redo.NewGroup()
	for range 1 + w.rng.IntN(3) {
		off := page.LSN(g.Len())
		if r, ok := w.randomOp(g); ok {
			w.apply(r, start+off)
		}
	}
	if commit {
		w.txn++
		g.Commit(w.txn, at)
	} else if g.Empty() {
		g.End()
	}
	w.log.appendPending(g.Bytes())
	w.ends = append(w.ends, w.log.end())
	return w.log.end()
}

// oldCommitGroup appends a group of a few random records ending with a commit record of an
// older log (8 bytes of payload: no time), and returns its end.
func (w *workload) oldCommitGroup() page.LSN {
	start := w.log.end()
	g := redo.NewGroup()
	for range 1 + w.rng.IntN(3) {
		off := page.LSN(g.Len())
		if r, ok := w.randomOp(g); ok {
			w.apply(r, start+off)
		}
	}
	var b []byte
	if !g.Empty() {
		b = g.Partial()
	}
	w.txn++
	rec := make([]byte, redo.HeaderSize+8)
	le := binary.LittleEndian
	le.PutUint16(rec, uint16(len(rec)))
	le.PutUint16(rec[2:], ^uint16(len(rec)))
	rec[8], rec[9] = byte(redo.TCommit), redo.FlagGroupEnd
	le.PutUint64(rec[redo.HeaderSize:], w.txn)
	tab := crc32.MakeTable(crc32.Castagnoli)
	le.PutUint32(rec[4:], crc32.Update(crc32.Checksum(rec[:4], tab), tab, rec[8:]))
	r, _, err := redo.Decode(rec)
	if _, ok, terr := redo.CommitTime(r); err != nil || terr != nil || ok {
		w.t.Fatalf("old commit record: %v, %v, has a time %v", err, terr, ok)
	}
	w.log.appendPending(append(b, rec...))
	w.ends = append(w.ends, w.log.end())
	return w.log.end()
}

// timeline is what the time index should hold: the indexed (raised) time of each commit and
// the end of the last commit indexed at it.
type timeline struct {
	last    int64
	entries []timeEntry
}

func (tl *timeline) add(at int64, end page.LSN) {
	at = max(at, tl.last)
	tl.last = at
	if n := len(tl.entries); n > 0 && tl.entries[n-1].at == at {
		tl.entries[n-1].lsn = end
		return
	}
	tl.entries = append(tl.entries, timeEntry{at: at, lsn: end})
}

// lsnAt returns the end of the last commit at or before at (false: none).
func (tl *timeline) lsnAt(at int64) (page.LSN, bool) {
	var lsn page.LSN
	found := false
	for _, e := range tl.entries {
		if e.at > at {
			break
		}
		lsn, found = e.lsn, true
	}
	return lsn, found
}

// wantLSNAt checks LSNAt(at) against the expected LSN (0: ErrBeforeHistory) and window.
func wantLSNAt(t *testing.T, s *Store, at int64, want page.LSN, oldest, newest int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tp, err := s.LSNAt(ctx, at, 0)
	switch {
	case want == 0 && !errors.Is(err, storage.ErrBeforeHistory):
		t.Fatalf("LSNAt(%s) = %+v, %v; want ErrBeforeHistory", fmtMicros(at), tp, err)
	case want == 0 && tp.LSN != 0:
		t.Fatalf("LSNAt(%s) = %+v with ErrBeforeHistory; want lsn 0", fmtMicros(at), tp)
	case want != 0 && (err != nil || tp.LSN != want):
		t.Fatalf("LSNAt(%s) = %+v, %v; want lsn %d", fmtMicros(at), tp, err, want)
	}
	if tp.Oldest != oldest || tp.Newest != newest {
		t.Fatalf("LSNAt(%s) window [%d, %d], want [%d, %d]", fmtMicros(at), tp.Oldest, tp.Newest, oldest, newest)
	}
}

// checkTimeline checks LSNAt at, just before and just after every time of tl, and at the ends
// of time (no compaction: the window is the whole timeline).
func checkTimeline(t *testing.T, s *Store, tl *timeline) {
	t.Helper()
	oldest, newest := tl.entries[0].at, tl.entries[len(tl.entries)-1].at
	ats := []int64{-1, 0, math.MaxInt64}
	for _, e := range tl.entries {
		ats = append(ats, e.at-1, e.at, e.at+1)
	}
	for _, at := range ats {
		want, _ := tl.lsnAt(at)
		wantLSNAt(t, s, at, want, oldest, newest)
	}
	// By position: at, just below and just above every commit's end.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, e := range tl.entries {
		for _, lsn := range []page.LSN{e.lsn - 1, e.lsn, e.lsn + 1} {
			if lsn > page.LSN(s.Consumed()) {
				continue
			}
			var want page.LSN
			for _, f := range tl.entries {
				if f.lsn <= lsn {
					want = max(want, f.lsn)
				}
			}
			tp, err := s.CommitAtOrBefore(ctx, lsn)
			switch {
			case want == 0 && !errors.Is(err, storage.ErrBeforeHistory):
				t.Fatalf("CommitAtOrBefore(%d) = %+v, %v; want ErrBeforeHistory", lsn, tp, err)
			case want != 0 && (err != nil || tp.LSN != want):
				t.Fatalf("CommitAtOrBefore(%d) = %+v, %v; want %d", lsn, tp, err, want)
			}
			if tp.Oldest != oldest || tp.Newest != newest {
				t.Fatalf("CommitAtOrBefore(%d) window [%d, %d], want [%d, %d]", lsn, tp.Oldest, tp.Newest, oldest, newest)
			}
		}
	}
}

// TestTimeIndex maps times to positions exactly over many commits with chosen times (equal,
// decreasing: raised to the last time), groups without a commit between them, consumed in
// random chunks by a store that keeps every page and by one that keeps none of the pages
// written; the index survives a restart and keeps raising times after it.
func TestTimeIndex(t *testing.T) {
	fs := vfs.NewMem()
	log := newFakeLog()
	w := newWorkload(t, 21, log, 6)
	s := openStore(t, fs, log, nil)
	other := openStore(t, vfs.NewMem(), log, func(o *Options) { o.SegmentPages, o.Segments = 4, []uint64{100} })
	s.Start()
	other.Start()
	wantLSNAt(t, s, baseTime, 0, 0, 0) // nothing indexed yet

	var tl timeline
	at := baseTime
	commits := 0
	for range 400 {
		switch r := w.rng.IntN(10); {
		case r < 2:
			w.timedGroup(0, false)
			continue
		case r < 4: // the same microsecond
		case r < 5:
			at -= w.rng.Int64N(2000) // the clock went back
		default:
			at += 1 + w.rng.Int64N(5000)
		}
		tl.add(at, w.timedGroup(at, true))
		commits++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log.feed(ctx, w.rng)
	for _, st := range []*Store{s, other} {
		if _, err := st.LSNAt(ctx, 0, log.end()); !errors.Is(err, storage.ErrBeforeHistory) {
			t.Fatalf("LSNAt(0) = %v, want ErrBeforeHistory", err)
		}
		checkTimeline(t, st, &tl)
		if stats := st.Stats(); stats.Times != uint64(commits) || stats.NewestTime != tl.last {
			t.Fatalf("Stats: %d times indexed, newest %d; want %d, %d", stats.Times, stats.NewestTime, commits, tl.last)
		}
	}

	// A restart: the index is there, and times keep being raised to the last one indexed.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, fs, log, nil)
	s.Start()
	checkTimeline(t, s, &tl)
	tl.add(tl.last-10_000, w.timedGroup(tl.last-10_000, true))
	tl.add(tl.last+1, w.timedGroup(tl.last+1, true))
	log.makeDurable()
	waitPersisted(t, s, log.end())
	checkTimeline(t, s, &tl)
}

// TestTimeIndexOldCommits checks that commit records without a time (an older log) are not
// indexed, and that those with one around them are.
func TestTimeIndexOldCommits(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 22, log, 4)
	s := openStore(t, vfs.NewMem(), log, nil)
	s.Start()
	w.oldCommitGroup()
	var tl timeline
	tl.add(baseTime, w.timedGroup(baseTime, true))
	w.oldCommitGroup()
	tl.add(baseTime+5, w.timedGroup(baseTime+5, true))
	w.oldCommitGroup()
	log.makeDurable()
	waitPersisted(t, s, log.end())
	checkTimeline(t, s, &tl)
	if n := s.Stats().Times; n != 2 {
		t.Fatalf("%d times indexed, want 2", n)
	}
	w.check(t, s, w.lsns(20, redo.StartLSN, log.end()), false)
}

// TestTimeIndexWaits checks that LSNAt waits until the store has consumed atLeast, within the
// caller's deadline, and ends when the store closes.
func TestTimeIndexWaits(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 23, log, 4)
	s := openStore(t, vfs.NewMem(), log, nil)
	s.Start()
	first := w.timedGroup(baseTime, true)
	log.makeDurable()
	waitPersisted(t, s, first)
	second := w.timedGroup(baseTime+1000, true) // not yet durable

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if tp, err := s.LSNAt(ctx, baseTime+1000, second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("LSNAt past what is consumed = %+v, %v; want a deadline error", tp, err)
	}
	// Without atLeast, the answer is as of what the store has consumed.
	wantLSNAt(t, s, baseTime+1000, first, baseTime, baseTime)

	type answer struct {
		tp  storage.TimePoint
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tp, err := s.LSNAt(ctx, baseTime+1000, second)
		ch <- answer{tp, err}
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case a := <-ch:
		t.Fatalf("LSNAt answered %+v, %v before the log reached atLeast", a.tp, a.err)
	default:
	}
	log.makeDurable()
	if a := <-ch; a.err != nil || a.tp != (storage.TimePoint{LSN: second, Oldest: baseTime, Newest: baseTime + 1000}) {
		t.Fatalf("LSNAt = %+v, %v; want lsn %d", a.tp, a.err, second)
	}

	w.timedGroup(baseTime+2000, true) // never durable
	go func() {
		_, err := s.LSNAt(context.Background(), baseTime+2000, log.end())
		ch <- answer{err: err}
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if a := <-ch; !errors.Is(a.err, storage.ErrClosed) {
		t.Fatalf("LSNAt waiting when the store closed = %v, want ErrClosed", a.err)
	}
}

// TestTimeIndexCompaction checks the history window as compaction moves the floor: a time
// whose commit ended below the floor answers the floor while no commit lies between them, and
// ErrBeforeHistory (with the window) once one does; pages at the answer are readable.
func TestTimeIndexCompaction(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 24, log, 5)
	s := openStore(t, vfs.NewMem(), log, nil)
	s.Start()
	const a, b, c, d = baseTime + 100, baseTime + 200, baseTime + 300, baseTime + 400
	w.timedGroup(0, false)
	eA := w.timedGroup(a, true)
	g1 := w.timedGroup(0, false)
	eB := w.timedGroup(b, true)
	eC := w.timedGroup(c, true)
	g2 := w.timedGroup(0, false)
	eD := w.timedGroup(d, true)
	w.timedGroup(0, false)
	log.makeDurable()
	waitPersisted(t, s, log.end())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	compact := func(h page.LSN) {
		t.Helper()
		s.SetHorizon(h)
		if err := s.Compact(ctx); err != nil || s.Floor() != h {
			t.Fatalf("compact to %d: floor %d, %v", h, s.Floor(), err)
		}
	}
	timeKeys := func() int {
		it, err := newTimeIter(s.db)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		n := 0
		for valid := it.First(); valid; valid = it.Next() {
			n++
		}
		return n
	}

	wantLSNAt(t, s, a-1, 0, a, d)
	wantLSNAt(t, s, a, eA, a, d)
	wantLSNAt(t, s, b+50, eB, a, d)

	// Floor g1: A ended below it, but no commit lies between A and g1.
	compact(g1)
	wantLSNAt(t, s, a-1, 0, a, d)
	wantLSNAt(t, s, a, g1, a, d)
	wantLSNAt(t, s, b-1, g1, a, d)
	wantLSNAt(t, s, b, eB, a, d)
	w.check(t, s, []page.LSN{g1}, false)

	// Floor g2: A and B are gone; C stays, the newest commit below the floor.
	compact(g2)
	if n := timeKeys(); n != 2 {
		t.Fatalf("%d time index entries after compacting to %d, want 2", n, g2)
	}
	wantLSNAt(t, s, a, 0, c, d)
	wantLSNAt(t, s, c-1, 0, c, d)
	wantLSNAt(t, s, c, g2, c, d)
	wantLSNAt(t, s, d, eD, c, d)
	w.check(t, s, []page.LSN{g2}, false)
	_, err := s.LSNAt(ctx, b, 0)
	for _, part := range []string{fmtMicros(b), fmtMicros(c), fmtMicros(d), "2023-11-14T22:13:20.000200Z"} {
		if err == nil || !strings.Contains(err.Error(), part) {
			t.Fatalf("LSNAt error %q does not name %s", err, part)
		}
	}

	// Floor eD: D ended at the floor, and C before D's commit.
	compact(eD)
	wantLSNAt(t, s, c, 0, d, d)
	wantLSNAt(t, s, d, eD, d, d)
	wantLSNAt(t, s, math.MaxInt64, eD, d, d)

	// A floor raised without compacting the index (a copy from a peer): an entry below the
	// floor followed by another one at or below it answers ErrBeforeHistory.
	s2 := openStore(t, vfs.NewMem(), log, func(o *Options) { o.Dir = "ps2" })
	s2.Start()
	waitPersisted(t, s2, log.end())
	if err := s2.raiseFloor(eC); err != nil {
		t.Fatal(err)
	}
	wantLSNAt(t, s2, a, 0, c, d)
	wantLSNAt(t, s2, b, 0, c, d)
	wantLSNAt(t, s2, c, eC, c, d)
	if err := s2.raiseFloor(g2); err != nil {
		t.Fatal(err)
	}
	wantLSNAt(t, s2, b, 0, c, d)
	wantLSNAt(t, s2, c, g2, c, d)
}

// TestTimeIndexTruncateAfter checks that TruncateAfter drops the times of the commits it cuts,
// and that the times after it are indexed as written, not raised to the dropped ones.
func TestTimeIndexTruncateAfter(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 25, log, 5)
	s := openStore(t, vfs.NewMem(), log, nil)
	s.Start()
	var tl timeline
	for i := range 20 {
		at := baseTime + int64(i)*100
		tl.add(at, w.timedGroup(at, true))
	}
	cut := tl.entries[9].lsn
	for i := 20; i < 30; i++ { // cut by the truncation
		w.timedGroup(baseTime+int64(i)*100, true)
	}
	log.makeDurable()
	waitPersisted(t, s, log.end())
	s.Stop()
	if err := s.TruncateAfter(cut); err != nil {
		t.Fatal(err)
	}
	tl.entries, tl.last = tl.entries[:10], tl.entries[9].at
	checkTimeline(t, s, &tl)
	if got := s.Stats().NewestTime; got != tl.last {
		t.Fatalf("newest time %d after TruncateAfter, want %d", got, tl.last)
	}

	log.cut(cut)
	w.cut(cut)
	for i := range 5 {
		at := tl.last + 50 + int64(i)*10 // below the times cut
		tl.add(at, w.timedGroup(at, true))
	}
	log.makeDurable()
	s.Start()
	waitPersisted(t, s, log.end())
	checkTimeline(t, s, &tl)
}
