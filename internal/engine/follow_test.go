package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"strata/internal/page"
	"strata/internal/storage"
	"strata/internal/storage/memstore"
)

func openFollower(t *testing.T, env *memEnv, frames int) *DB {
	t.Helper()
	ro, err := OpenReadOnly(context.Background(), ReadOnlyOptions{Pages: memstore.NewPages(env.log),
		View: env.log.GroupEnd(), Follow: env.log, PoolFrames: frames})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro
}

// catchUp waits until ro's view reaches lsn.
func catchUp(t *testing.T, ro *DB, lsn page.LSN) {
	t.Helper()
	// A bound, not a speed target: replaying over memstore's page source, which rebuilds
	// each fetched page from the log, takes 3-6 s alone for TestFollowerGroupsWhole's 30 MB
	// and more than 10 s when the whole suite shares two cores (a CI failure).
	deadline := time.Now().Add(60 * time.Second)
	for ro.VisibleLSN() < lsn {
		if time.Now().After(deadline) {
			st, _ := ro.ReplayStats()
			t.Fatalf("read-only view %d, want %d: %+v", ro.VisibleLSN(), lsn, st)
		}
		time.Sleep(time.Millisecond)
	}
}

// rowsAt returns tree name's rows in db's snapshot at lsn.
func rowsAt(t *testing.T, db *DB, name string, lsn page.LSN) map[string]string {
	t.Helper()
	tree, err := db.Tree(name)
	if err != nil {
		t.Fatal(err)
	}
	txn := begin(t, db, TxnOptions{ReadOnly: true, Snapshot: lsn})
	defer txn.Rollback()
	return scanAll(t, txn, tree)
}

// TestFollowerMatchesWriter: a read-only engine that follows the log, with a pool far smaller
// than the data (so that it evicts, reads pages back at its view and applies records only to
// what it holds), reads at each view exactly what the writer's snapshot at that LSN reads,
// through splits, merges, pruning, and trees created and dropped.
func TestFollowerMatchesWriter(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	putRows(t, rw, tr, 100, "zero")
	ro := openFollower(t, env, 16)
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(step int) {
		t.Helper()
		rw.ReportSnapshot("ro", ro.Horizon())
		end := rw.VisibleLSN()
		catchUp(t, ro, end)
		for _, name := range rw.Trees() {
			sameRows(t, fmt.Sprintf("step %d tree %s", step, name), rowsAt(t, ro, name, end), rowsAt(t, rw, name, end))
		}
		if got, want := fmt.Sprint(ro.Trees()), fmt.Sprint(rw.Trees()); got != want {
			t.Fatalf("step %d: read-only trees %s, writer's %s", step, got, want)
		}
	}
	check(0)
	for step := 1; step <= 30; step++ {
		txn := begin(t, rw, TxnOptions{})
		for range rng.IntN(200) {
			k := fmt.Appendf(nil, "k%04d", rng.IntN(1500))
			var err error
			if rng.IntN(3) == 0 {
				err = txn.Delete(ctx, tr, k)
			} else {
				err = txn.Put(ctx, tr, k, fmt.Appendf(nil, "v%d-%0*d", step, rng.IntN(300), 0))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if rng.IntN(4) == 0 {
			txn.Rollback()
		} else {
			mustCommit(t, txn)
		}
		switch step % 10 {
		case 3:
			u := mustTree(t, rw, fmt.Sprintf("u%d", step))
			putRows(t, rw, u, 30, "u")
		case 7:
			for _, name := range rw.Trees() {
				if name != "t" {
					if err := rw.DropTree(ctx, name); err != nil {
						t.Fatal(err)
					}
					break
				}
			}
		case 9:
			rw.ReportSnapshot("ro", ro.Horizon())
			if _, err := rw.Purge(ctx); err != nil {
				t.Fatal(err)
			}
		}
		check(step)
	}
	st, ok := ro.ReplayStats()
	if !ok || st.Groups == 0 || st.Applied == 0 || st.Fetches == 0 || st.CatalogChanges == 0 || st.Err != nil {
		t.Fatalf("replay stats %+v", st)
	}
	if rw.Pool().Stats().Evictions == 0 && ro.Pool().Stats().Evictions == 0 {
		t.Fatal("nothing was evicted: the test does not exercise reads at the view")
	}
}

// TestFollowerGroupsWhole: readers on the follower never see part of a group. Every writer
// transaction rewrites all keys with one value, growing them so that pages split; a scan at
// any view must see one value throughout.
func TestFollowerGroupsWhole(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	const keys = 300
	write := func(v int) {
		txn := begin(t, rw, TxnOptions{})
		for i := range keys {
			if err := txn.Put(ctx, tr, fmt.Appendf(nil, "k%04d", i), fmt.Appendf(nil, "%06d-%0*d", v, v%200, 0)); err != nil {
				t.Fatal(err)
			}
		}
		mustCommit(t, txn)
	}
	write(0)
	ro := openFollower(t, env, 24)
	stop := make(chan struct{})
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	scans := make([]int, 3)
	for r := range scans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				txn, err := ro.Begin(TxnOptions{ReadOnly: true})
				if err != nil {
					errs <- err
					return
				}
				it := txn.Scan(ctx, tr, nil, nil, false)
				n, first := 0, ""
				for it.Next() {
					v := string(it.Value()[:6])
					if n == 0 {
						first = v
					} else if v != first {
						errs <- fmt.Errorf("a scan saw %s then %s", first, v)
					}
					n++
				}
				err = it.Err()
				txn.Rollback()
				if err == nil && n != keys {
					err = fmt.Errorf("a scan saw %d rows", n)
				}
				if err != nil {
					errs <- err
					return
				}
				scans[r]++
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for v := 1; v < 400 && time.Now().Before(deadline); v++ {
		rw.ReportSnapshot("ro", ro.Horizon())
		write(v)
		if v%20 == 0 {
			if _, err := rw.Purge(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	catchUp(t, ro, rw.VisibleLSN())
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if scans[0]+scans[1]+scans[2] == 0 {
		t.Fatal("no scan finished")
	}
}

// truncLog is a log whose reads below from fail with storage.ErrTruncated once cut is set,
// as the Log Stores' do once they have dropped what a read-only node still needed.
type truncLog struct {
	*memstore.Log
	mu  sync.Mutex
	cut page.LSN
}

func (l *truncLog) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	l.mu.Lock()
	cut := l.cut
	l.mu.Unlock()
	if from < cut {
		return nil, fmt.Errorf("test: %w", storage.ErrTruncated)
	}
	return l.Log.Read(ctx, from, max)
}

// TestFollowerResyncsWhenTruncated: a follower that falls behind the log's first retained LSN
// starts again from the pages at the log's latest group end and goes on following.
func TestFollowerResyncsWhenTruncated(t *testing.T) {
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	putRows(t, rw, tr, 50, "a")
	tl := &truncLog{Log: env.log}
	tl.mu.Lock() // the follower stops at its first read: hold it behind
	ro, err := OpenReadOnly(context.Background(), ReadOnlyOptions{Pages: memstore.NewPages(env.log),
		View: env.log.GroupEnd(), Follow: tl, PoolFrames: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	putRows(t, rw, tr, 200, "b")
	tl.cut = rw.VisibleLSN() // everything the follower has not read is gone
	tl.mu.Unlock()
	catchUp(t, ro, rw.VisibleLSN())
	putRows(t, rw, tr, 300, "c")
	end := rw.VisibleLSN()
	catchUp(t, ro, end)
	sameRows(t, "after the re-sync", rowsAt(t, ro, "t", end), rowsAt(t, rw, "t", end))
	if st, _ := ro.ReplayStats(); st.Resyncs == 0 || !errors.Is(st.Err, storage.ErrTruncated) {
		t.Fatalf("replay stats %+v", st)
	}
}

// TestReadOnlyRefuseAndServe: a read-only engine that refuses reads fails every read, of
// new and running transactions, with ErrNotServing; once it serves again from a floor, a
// transaction whose snapshot is older than the floor stays refused and new ones read.
func TestReadOnlyRefuseAndServe(t *testing.T) {
	env := &memEnv{}
	rw := openMem(t, env, 0)
	tr := mustTree(t, rw, "t")
	putRows(t, rw, tr, 50, "a")
	ro := openFollower(t, env, 16)
	old := begin(t, ro, TxnOptions{ReadOnly: true})
	defer old.Rollback()
	if got := scanAll(t, old, tr); len(got) != 50 {
		t.Fatalf("%d rows", len(got))
	}
	ro.Refuse(errors.New("lost the control plane"))
	txn := begin(t, ro, TxnOptions{ReadOnly: true})
	if _, _, err := txn.Get(context.Background(), tr, []byte("k0001")); !errors.Is(err, ErrNotServing) {
		t.Fatalf("a read while refusing: %v", err)
	}
	txn.Rollback()
	it := old.Scan(context.Background(), tr, nil, nil, false)
	for it.Next() {
	}
	if !errors.Is(it.Err(), ErrNotServing) {
		t.Fatalf("a running transaction's scan while refusing: %v", it.Err())
	}
	putRows(t, rw, tr, 60, "b")
	floor := rw.VisibleLSN()
	catchUp(t, ro, floor)
	ro.Serve(floor)
	if _, _, err := old.Get(context.Background(), tr, []byte("k0001")); !errors.Is(err, ErrNotServing) {
		t.Fatalf("a snapshot older than the floor: %v", err)
	}
	if got := rows(t, ro, "t"); len(got) != 60 {
		t.Fatalf("after serving again: %d rows", len(got))
	}
}
