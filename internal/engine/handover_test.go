package engine

import (
	"context"
	"testing"

	"strata/internal/storage/memstore"
)

// TestHandOverKeepsPool promotes a read-only engine that follows the log: its pool, whose
// pages the replay kept current, becomes a new writer's, which reads what it cached without
// a miss, reads exactly what the old writer wrote, and writes on.
func TestHandOverKeepsPool(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	putRows(t, rw, tr, 300, "one")
	ro := openFollower(t, env, 256)
	catchUp(t, ro, rw.VisibleLSN())
	rowsAt(t, ro, "t", ro.VisibleLSN()) // the read-only node caches the tree
	putRows(t, rw, tr, 300, "two")      // applied by the replay to the cached pages
	mustTree(t, rw, "u")
	end := rw.VisibleLSN()
	want := rowsAt(t, rw, "t", end)
	catchUp(t, ro, end)
	// Pages the writer's splits made were not cached: the read-only node reads them now.
	sameRows(t, "the read-only node", rowsAt(t, ro, "t", end), want)
	rw.Close() // the writer is gone

	pool, err := ro.HandOver(ctx, env.log.End())
	if err != nil {
		t.Fatal(err)
	}
	cached := pool.CachedPages()
	if cached == 0 {
		t.Fatal("the handed-over pool holds no page")
	}
	w, err := Open(ctx, Options{Log: env.log, Pages: memstore.NewPages(env.log), Pool: pool, PurgeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	before := pool.Stats().Misses
	sameRows(t, "the promoted writer", rowsAt(t, w, "t", w.VisibleLSN()), want)
	if m := pool.Stats().Misses - before; m != 0 {
		t.Fatalf("the promoted writer read %d pages again (%d were cached)", m, cached)
	}
	if got := w.Trees(); len(got) != 2 {
		t.Fatalf("trees: %v", got)
	}
	putRows(t, w, tr, 500, "three")
	if err := w.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
	// What it wrote is in the log: an engine opened afresh reads the same.
	end = w.VisibleLSN()
	want = rowsAt(t, w, "t", end)
	w.Close()
	fresh, err := Open(ctx, Options{Log: env.log, Pages: memstore.NewPages(env.log), PurgeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	sameRows(t, "an engine opened afresh", rowsAt(t, fresh, "t", end), want)
}

// TestHandOverRefusesAWriterEngine: only a following read-only engine hands over its pool.
func TestHandOverRefusesAWriterEngine(t *testing.T) {
	env := &memEnv{}
	rw := openMem(t, env, 0)
	if _, err := rw.HandOver(context.Background(), rw.VisibleLSN()); err == nil {
		t.Fatal("a read-write engine handed over its pool")
	}
}
