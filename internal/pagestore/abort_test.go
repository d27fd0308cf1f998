package pagestore

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
)

// voidGroup appends the records of a group that is never ended (its writer failed), applied to
// the RW view so that they are realistic, and returns where it starts.
func (w *workload) voidGroup(records int) page.LSN {
	start := w.log.end()
	g := redo.NewGroup()
	for range records {
		off := page.LSN(g.Len())
		if r, ok := w.randomOp(g); ok {
			w.apply(r, start+off)
		}
	}
	w.log.appendPending(g.Partial())
	return start
}

// abort appends the abort record of the void group from, as a recovering writer does, and
// takes the group out of the RW view.
func (w *workload) abort(from page.LSN) { w.abortNaming(from, from) }

// abortNaming is abort with a record that names another start for the group (a recovering
// writer that kept a log restarted inside the group names the log's start).
func (w *workload) abortNaming(from, named page.LSN) {
	w.cut(from)
	g := redo.NewGroup()
	g.Abort(named)
	w.log.appendPending(g.Bytes())
	w.ends = append(w.ends, w.log.end())
}

// TestVoidGroup consumes part of a group that is never ended (and materialises images from
// it), restarts, then reads the abort record a recovering writer appends: the group's records
// and the images made from them are gone, and the store answers like an RW view that never
// had them, at every position, while the log goes on.
func TestVoidGroup(t *testing.T) {
	log := newFakeLog()
	w := newWorkload(t, 11, log, 9)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fs := vfs.NewMem()
	open := func() *Store {
		s := openStore(t, fs, log, func(o *Options) { o.ImageEvery = 2 })
		s.Start()
		return s
	}
	s := open()
	w.groups(150)
	from := w.voidGroup(60)
	log.feed(ctx, rand.New(rand.NewPCG(1, 1)))
	waitPersisted(t, s, log.end())
	if got := page.LSN(s.groupEnd.Load()); got != from {
		t.Fatalf("last group end %d, want the void group's start %d", got, from)
	}
	if n := versionsAtOrAbove(t, s, from); n == 0 {
		t.Fatal("no version of the void group was stored")
	}
	// A restart in the middle of the void group keeps where the last group ended.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	if got := page.LSN(s.groupEnd.Load()); got != from {
		t.Fatalf("after a restart, last group end %d, want %d", got, from)
	}
	abortAt := log.end()
	w.abort(from)
	w.groups(150)
	log.feed(ctx, rand.New(rand.NewPCG(2, 2)))
	end := log.end()
	waitPersisted(t, s, end)
	for id := page.ID(1); id <= 9; id++ {
		if n := countVersionsIn(t, s, id, from, abortAt); n != 0 {
			t.Fatalf("page %d keeps %d versions of the void group [%d, %d)", id, n, from, abortAt)
		}
	}
	w.check(t, s, w.lsns(150, redo.StartLSN, end), false)

	// A void group and its abort record read at once, with nothing after them: the abort is
	// handled without waiting for more log (a recovering writer waits for it).
	from2 := w.voidGroup(20)
	w.abort(from2)
	log.makeDurable()
	waitPersisted(t, s, log.end())
	w.check(t, s, w.lsns(50, from2, log.end()), false)

	// An abort record naming a later start than the group's: the store discards the whole
	// group it consumed since its last group end.
	w.groups(20)
	from3 := w.voidGroup(40)
	named := from3
	for _, r := range w.recs {
		if r > from3 {
			named = r // the group's second record
			break
		}
	}
	if named == from3 {
		t.Fatal("the void group has one record")
	}
	w.abortNaming(from3, named)
	w.groups(20)
	log.makeDurable()
	waitPersisted(t, s, log.end())
	w.check(t, s, w.lsns(80, from3, log.end()), false)
}

// countVersionsIn counts the versions (deltas and images) of page id at LSNs in [from, to).
func countVersionsIn(t *testing.T, s *Store, id page.ID, from, to page.LSN) int {
	t.Helper()
	n := 0
	for _, kind := range []byte{kindDelta, kindImage} {
		it, err := s.db.NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		it.SetBounds(versionKey(kind, id, from), versionKey(kind, id, to))
		for valid := it.First(); valid; valid = it.Next() {
			n++
		}
		it.Close()
	}
	return n
}
