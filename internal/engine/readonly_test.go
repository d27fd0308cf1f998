package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"strata/internal/lock"
	"strata/internal/page"
	"strata/internal/storage/memstore"
)

func openRO(t *testing.T, env *memEnv, view page.LSN, frames int) *DB {
	t.Helper()
	ro, err := OpenReadOnly(context.Background(), ReadOnlyOptions{Pages: memstore.NewPages(env.log), View: view, PoolFrames: frames})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro
}

// rows returns tree's rows as a reader of db sees them now.
func rows(t *testing.T, db *DB, name string) map[string]string {
	t.Helper()
	tree, err := db.Tree(name)
	if err != nil {
		t.Fatal(err)
	}
	txn := begin(t, db, TxnOptions{ReadOnly: true})
	defer txn.Rollback()
	return scanAll(t, txn, tree)
}

func scanAll(t *testing.T, txn *Txn, tree page.ID) map[string]string {
	t.Helper()
	out := map[string]string{}
	it := txn.Scan(context.Background(), tree, nil, nil, false)
	for it.Next() {
		out[string(it.Key())] = string(it.Value())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func putRows(t *testing.T, db *DB, tree page.ID, n int, val string) {
	t.Helper()
	txn := begin(t, db, TxnOptions{})
	for i := range n {
		if err := txn.Put(context.Background(), tree, fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "%s-%04d-%0100d", val, i, i)); err != nil {
			t.Fatal(err)
		}
	}
	mustCommit(t, txn)
}

func sameRows(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %s = %.20q, want %.20q", what, k, got[k], v)
		}
	}
}

// TestReadOnlyEngine: a read-only engine over the page source reads exactly what the
// read-write engine's snapshot at its view reads, keeps reading that view while the writer
// goes on, sees the writer's later rows and trees after Resync, keeps older snapshots
// readable across it, and refuses every change.
func TestReadOnlyEngine(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	putRows(t, rw, tr, 400, "one") // several leaves and a split root
	v1 := rw.VisibleLSN()
	want1 := rows(t, rw, "t")

	ro := openRO(t, env, v1, 16) // 16 frames: scans evict and read pages back
	// As a read-only node does, it tells the writer the oldest snapshot it may read at, so
	// that the writer's pruning keeps those versions.
	report := func() { rw.ReportSnapshot("ro", ro.Horizon()) }
	report()
	if !ro.ReadOnly() || rw.ReadOnly() {
		t.Fatal("ReadOnly() is wrong")
	}
	sameRows(t, "at the first view", rows(t, ro, "t"), want1)

	// The writer goes on: rewrites, deletes, a new tree.
	putRows(t, rw, tr, 600, "two")
	del := begin(t, rw, TxnOptions{})
	for i := 0; i < 600; i += 3 {
		if err := del.Delete(ctx, tr, fmt.Appendf(nil, "k%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	mustCommit(t, del)
	u := mustTree(t, rw, "u")
	putRows(t, rw, u, 10, "u")
	v2 := rw.VisibleLSN()
	want2 := rows(t, rw, "t")

	sameRows(t, "still at the first view", rows(t, ro, "t"), want1)
	if _, err := ro.Tree("u"); err == nil {
		t.Fatal("a tree created after the view is visible")
	}
	old := begin(t, ro, TxnOptions{ReadOnly: true})
	defer old.Rollback()
	if got := scanAll(t, old, tr); len(got) != len(want1) {
		t.Fatalf("old snapshot: %d rows", len(got))
	}
	report()
	if h := ro.Horizon(); h != v1 {
		t.Fatalf("read-only horizon %d with a snapshot at %d", h, v1)
	}

	if err := ro.Resync(ctx, v2); err != nil {
		t.Fatal(err)
	}
	if ro.VisibleLSN() != v2 {
		t.Fatalf("visible %d after resync to %d", ro.VisibleLSN(), v2)
	}
	sameRows(t, "after resync", rows(t, ro, "t"), want2)
	if got := rows(t, ro, "u"); len(got) != 10 {
		t.Fatalf("tree u after resync: %d rows", len(got))
	}
	sameRows(t, "a snapshot from before the resync", scanAll(t, old, tr), want1)
	if err := ro.Resync(ctx, v1); err == nil {
		t.Fatal("resync backwards accepted")
	}

	// Every change is refused.
	w := begin(t, ro, TxnOptions{})
	defer w.Rollback()
	for name, err := range map[string]error{
		"put":    w.Put(ctx, tr, []byte("k"), []byte("v")),
		"delete": w.Delete(ctx, tr, []byte("k0001")),
		"lock":   w.Lock(ctx, tr, []byte("k0001"), lock.Exclusive),
	} {
		if !errors.Is(err, ErrReadOnlyNode) {
			t.Errorf("%s: %v, want ErrReadOnlyNode", name, err)
		}
	}
	if _, err := ro.CreateTree(ctx, "x"); !errors.Is(err, ErrReadOnlyNode) {
		t.Errorf("create tree: %v", err)
	}
	if err := ro.DropTree(ctx, "t"); !errors.Is(err, ErrReadOnlyNode) {
		t.Errorf("drop tree: %v", err)
	}
	if _, err := ro.PurgeQueued(ctx); !errors.Is(err, ErrReadOnlyNode) && err != nil {
		t.Errorf("purge: %v", err)
	}
	if err := rw.Resync(ctx, v2); err == nil {
		t.Error("a read-write engine resynced")
	}
}

// TestReadOnlyEngineEmpty: there is nothing to read before the first group.
func TestReadOnlyEngineEmpty(t *testing.T) {
	log := memstore.NewLog()
	if _, err := OpenReadOnly(context.Background(), ReadOnlyOptions{Pages: memstore.NewPages(log), View: log.End()}); err == nil {
		t.Fatal("a read-only engine opened an empty database")
	}
}

// TestReadOnlyEngineResyncUnderReaders: readers scan while the writer splits pages and the
// read-only engine resyncs again and again; every scan sees one whole view (a row count that
// some view had), never a tree half way between two.
func TestReadOnlyEngineResyncUnderReaders(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	putRows(t, rw, tr, 50, "a")
	ro := openRO(t, env, rw.VisibleLSN(), 32)
	rw.ReportSnapshot("ro", ro.Horizon())

	var mu sync.Mutex
	counts := map[int]bool{50: true} // row counts some view had
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tree, err := ro.Tree("t")
				if err != nil {
					errs <- err
					return
				}
				txn, err := ro.Begin(TxnOptions{ReadOnly: true})
				if err != nil {
					errs <- err
					return
				}
				n := 0
				it := txn.Scan(ctx, tree, nil, nil, false)
				for it.Next() {
					n++
				}
				err = it.Err()
				txn.Rollback()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				ok := counts[n]
				mu.Unlock()
				if !ok {
					errs <- fmt.Errorf("a scan saw %d rows, a count no view had", n)
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for i := 1; time.Now().Before(deadline) && i <= 60; i++ {
		rw.ReportSnapshot("ro", ro.Horizon()) // the oldest snapshot any reader holds
		putRows(t, rw, tr, 50+i*20, "b")      // grows the tree: splits
		mu.Lock()
		counts[50+i*20] = true
		mu.Unlock()
		if err := ro.Resync(ctx, rw.VisibleLSN()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
