package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	stbtree "strata/internal/btree"
	"strata/internal/lock"
	"strata/internal/page"
	"strata/internal/storage/memstore"
)

type memEnv struct {
	log   *memstore.Log
	pages *memstore.Pages
}

func openMem(tb testing.TB, env *memEnv, frames int) *DB {
	tb.Helper()
	if env.log == nil {
		env.log = memstore.NewLog()
	}
	env.pages = memstore.NewPages(env.log)
	db, err := Open(context.Background(), Options{Log: env.log, Pages: env.pages, PoolFrames: frames, PurgeInterval: -1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func mustTree(tb testing.TB, db *DB, name string) page.ID {
	tb.Helper()
	id, err := db.CreateTree(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

func mustCommit(tb testing.TB, t *Txn) page.LSN {
	tb.Helper()
	lsn, err := t.Commit(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return lsn
}

func begin(tb testing.TB, db *DB, opts TxnOptions) *Txn {
	tb.Helper()
	t, err := db.Begin(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func getStr(tb testing.TB, t *Txn, tree page.ID, k string) string {
	tb.Helper()
	v, ok, err := t.Get(context.Background(), tree, []byte(k))
	if err != nil {
		tb.Fatal(err)
	}
	if !ok {
		return "<none>"
	}
	return string(v)
}

func scanStr(tb testing.TB, t *Txn, tree page.ID, lo, hi string, reverse bool) string {
	tb.Helper()
	var l, h []byte
	if lo != "" {
		l = []byte(lo)
	}
	if hi != "" {
		h = []byte(hi)
	}
	it := t.Scan(context.Background(), tree, l, h, reverse)
	defer it.Close()
	s := ""
	for it.Next() {
		s += fmt.Sprintf("%s=%s ", it.Key(), it.Value())
	}
	if err := it.Err(); err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestBasicTxn(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 64)
	tr := mustTree(t, db, "t")
	a := begin(t, db, TxnOptions{})
	for i := 0; i < 5; i++ {
		if err := a.Put(ctx, tr, []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if got := scanStr(t, a, tr, "", "", false); got != "k0=v0 k1=v1 k2=v2 k3=v3 k4=v4 " {
		t.Fatalf("own writes: %q", got)
	}
	// Another transaction sees nothing yet.
	b := begin(t, db, TxnOptions{})
	if got := scanStr(t, b, tr, "", "", false); got != "" {
		t.Fatalf("uncommitted visible: %q", got)
	}
	mustCommit(t, a)
	// b's snapshot was taken before the commit.
	if got := getStr(t, b, tr, "k1"); got != "<none>" {
		t.Fatalf("snapshot broken: %q", got)
	}
	b.Rollback()
	c := begin(t, db, TxnOptions{})
	if got := scanStr(t, c, tr, "k1", "k4", true); got != "k3=v3 k2=v2 k1=v1 " {
		t.Fatalf("reverse range: %q", got)
	}
	sp := c.Savepoint()
	c.Delete(ctx, tr, []byte("k2"))
	c.Put(ctx, tr, []byte("k9"), []byte("new"))
	if got := scanStr(t, c, tr, "", "", false); got != "k0=v0 k1=v1 k3=v3 k4=v4 k9=new " {
		t.Fatalf("after delete: %q", got)
	}
	if err := c.RollbackTo(sp); err != nil {
		t.Fatal(err)
	}
	c.Put(ctx, tr, []byte("k0"), []byte("updated"))
	mustCommit(t, c)
	d := begin(t, db, TxnOptions{})
	if got := scanStr(t, d, tr, "", "", false); got != "k0=updated k1=v1 k2=v2 k3=v3 k4=v4 " {
		t.Fatalf("after savepoint rollback: %q", got)
	}
	d.Rollback()
	if err := db.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLocks(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 64)
	tr := mustTree(t, db, "t")
	a := begin(t, db, TxnOptions{LockWaitTimeout: 50 * time.Millisecond})
	b := begin(t, db, TxnOptions{LockWaitTimeout: 50 * time.Millisecond})
	if err := a.Put(ctx, tr, []byte("x"), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, tr, []byte("x"), []byte("b")); !errors.Is(err, lock.ErrLockWaitTimeout) {
		t.Fatalf("want lock wait timeout, got %v", err)
	}
	// A lock on a key that does not exist yet.
	if err := b.Lock(ctx, tr, []byte("missing"), lock.Exclusive); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.GetForUpdate(ctx, tr, []byte("missing"), lock.Shared); !errors.Is(err, lock.ErrLockWaitTimeout) {
		t.Fatalf("want timeout on missing key, got %v", err)
	}
	// Deadlock: a waits for b's "missing", b then asks for a's "x".
	a2 := begin(t, db, TxnOptions{LockWaitTimeout: 5 * time.Second})
	errc := make(chan error, 1)
	go func() { errc <- a2.Lock(ctx, tr, []byte("missing"), lock.Exclusive) }()
	waitWaiting(t, db.Locks(), 1)
	b2err := b.Lock(ctx, tr, []byte("x"), lock.Exclusive)
	if !errors.Is(b2err, lock.ErrLockWaitTimeout) && !errors.Is(b2err, lock.ErrDeadlock) {
		t.Fatalf("b: %v", b2err)
	}
	b.Rollback()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	a2.Rollback()
	mustCommit(t, a)
	// The committed value is read by a locking read.
	c := begin(t, db, TxnOptions{})
	v, ok, err := c.GetForUpdate(ctx, tr, []byte("x"), lock.Exclusive)
	if err != nil || !ok || string(v) != "a" {
		t.Fatalf("locking read: %q %v %v", v, ok, err)
	}
	c.Rollback()
}

// waitWaiting polls until n lock requests are queued in m, so that a test orders its requests.
func waitWaiting(t *testing.T, m *lock.Manager, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); m.Stats().Waiting != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d lock requests waiting, want %d", m.Stats().Waiting, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDeadlockVictim(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 64)
	tr := mustTree(t, db, "t")
	a := begin(t, db, TxnOptions{})
	b := begin(t, db, TxnOptions{})
	if err := a.Put(ctx, tr, []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, tr, []byte("2"), nil); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- a.Put(ctx, tr, []byte("2"), nil) }()
	waitWaiting(t, db.Locks(), 1)
	if err := b.Put(ctx, tr, []byte("1"), nil); !errors.Is(err, lock.ErrDeadlock) {
		t.Fatalf("want deadlock, got %v", err)
	}
	b.Rollback()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	mustCommit(t, a)
}

// TestSnapshotStable: a reader at LSN X keeps seeing exactly the data committed at X while
// writers go on, including after purge.
func TestSnapshotStable(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 32)
	tr := mustTree(t, db, "t")
	w := begin(t, db, TxnOptions{})
	for i := 0; i < 300; i++ {
		w.Put(ctx, tr, []byte(fmt.Sprintf("k%04d", i)), []byte("v0"))
	}
	x := mustCommit(t, w)
	r := begin(t, db, TxnOptions{Snapshot: x})
	want := scanStr(t, r, tr, "", "", false)
	for round := 1; round <= 20; round++ {
		w := begin(t, db, TxnOptions{})
		for i := round; i < 300; i += 7 {
			k := []byte(fmt.Sprintf("k%04d", i))
			if i%3 == 0 {
				w.Delete(ctx, tr, k)
			} else {
				w.Put(ctx, tr, k, []byte(fmt.Sprintf("v%d-%0100d", round, i)))
			}
		}
		w.Put(ctx, tr, []byte(fmt.Sprintf("new%d", round)), []byte("x"))
		mustCommit(t, w)
		if _, err := db.Purge(ctx); err != nil {
			t.Fatal(err)
		}
		if got := scanStr(t, r, tr, "", "", false); got != want {
			t.Fatalf("round %d: snapshot changed", round)
		}
		if got := scanStr(t, r, tr, "", "", true); len(got) != len(want) {
			t.Fatalf("round %d: reverse snapshot changed", round)
		}
	}
	r.Rollback()
	// With the reader gone, purge removes old versions and tombstones.
	st, err := db.Purge(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Versions == 0 {
		t.Fatal("purge removed nothing")
	}
	if err := db.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestPurgeQueue: deleted rows' tombstones and superseded versions kept for a reader are
// removed by the queued purge once the reader is gone, without a full pass.
func TestPurgeQueue(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 64)
	tr := mustTree(t, db, "t")
	w := begin(t, db, TxnOptions{})
	for i := 0; i < 100; i++ {
		w.Put(ctx, tr, []byte(fmt.Sprintf("k%03d", i)), []byte("v1"))
	}
	mustCommit(t, w)
	r := begin(t, db, TxnOptions{})
	r.Snapshot() // holds the horizon
	w = begin(t, db, TxnOptions{})
	for i := 0; i < 100; i++ {
		if i%2 == 0 {
			w.Delete(ctx, tr, []byte(fmt.Sprintf("k%03d", i)))
		} else {
			w.Put(ctx, tr, []byte(fmt.Sprintf("k%03d", i)), []byte("v2"))
		}
	}
	mustCommit(t, w)
	countEntries := func() int {
		n := 0
		db.tree(tr).Scan(ctx, nil, func(k []byte, v stbtree.Value) (bool, error) { n++; return true, nil })
		return n
	}
	if n := countEntries(); n != 200 {
		t.Fatalf("%d entries while a reader needs the old versions, want 200", n)
	}
	if st, _ := db.PurgeQueued(ctx); st.Versions != 0 {
		t.Fatalf("purged %d items under a reader", st.Versions)
	}
	r.Rollback()
	// One more commit moves the visible LSN (and so the horizon) past the deletes.
	w = begin(t, db, TxnOptions{})
	w.Put(ctx, tr, []byte("zzz"), []byte("x"))
	mustCommit(t, w)
	if _, err := db.PurgeQueued(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countEntries(); n != 51 {
		t.Fatalf("%d entries after the queued purge, want 51 (50 live rows and zzz)", n)
	}
	if err := db.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestCommitAfterDrop: a transaction holding writes for a tree that another session drops
// commits without touching the freed pages (the rows go with the tree).
func TestCommitAfterDrop(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 64)
	tr := mustTree(t, db, "doomed")
	keep := mustTree(t, db, "kept")
	a := begin(t, db, TxnOptions{})
	a.Put(ctx, tr, []byte("x"), []byte("1"))
	a.Put(ctx, keep, []byte("y"), []byte("2"))
	if err := db.DropTree(ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, a)
	if err := db.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
	r := begin(t, db, TxnOptions{})
	if got := getStr(t, r, keep, "y"); got != "2" {
		t.Fatalf("kept tree: %q", got)
	}
}

// TestGoStopsWithClose checks that Close stops and waits for background work started with
// Go, and that Go refuses work once Close has begun.
func TestGoStopsWithClose(t *testing.T) {
	db := openMem(t, &memEnv{}, 64)
	stopped := make(chan struct{})
	if !db.Go(func(stop <-chan struct{}) {
		<-stop
		time.Sleep(20 * time.Millisecond)
		close(stopped)
	}) {
		t.Fatal("Go refused work on an open database")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Close returned before the background work")
	}
	if db.Go(func(<-chan struct{}) { t.Error("ran after Close") }) {
		t.Fatal("Go accepted work after Close")
	}
}

// TestPurgeResumes: a full purge pass cut short by its context goes on, in a later call with
// the same cursor, from where it stopped; trees it had finished are not scanned again.
func TestPurgeResumes(t *testing.T) {
	ctx := context.Background()
	db := openMem(t, &memEnv{}, 64)
	names := []string{"a", "b", "c"}
	trees := map[string]page.ID{}
	for _, n := range names {
		trees[n] = mustTree(t, db, n)
	}
	// Each tree gets deleted rows whose tombstones only a full pass (or the queue) removes.
	r := begin(t, db, TxnOptions{})
	for _, n := range names {
		w := begin(t, db, TxnOptions{})
		for i := 0; i < 50; i++ {
			w.Put(ctx, trees[n], []byte(fmt.Sprintf("k%03d", i)), []byte("v"))
		}
		mustCommit(t, w)
	}
	r.Snapshot() // holds the horizon below the deletes
	for _, n := range names {
		w := begin(t, db, TxnOptions{})
		for i := 0; i < 50; i++ {
			w.Delete(ctx, trees[n], []byte(fmt.Sprintf("k%03d", i)))
		}
		mustCommit(t, w)
	}
	r.Rollback()
	db.purgeQ = nil // as after a restart: only a full pass finds them

	var cur purgeCursor
	dead, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := db.purgeFrom(dead, &cur); err == nil || cur.done {
		t.Fatalf("a pass with an ended context: err %v, done %v", err, cur.done)
	}
	// Pretend the cut pass had finished "a": the next call starts at "b".
	cur = purgeCursor{tree: "a\x00"}
	st, err := db.purgeFrom(ctx, &cur)
	if err != nil || !cur.done {
		t.Fatalf("resumed pass: err %v, done %v", err, cur.done)
	}
	if st.Versions != 200 { // 50 rows × (put + tombstone) in each of b and c
		t.Fatalf("resumed pass removed %d versions, want 200 (b and c only)", st.Versions)
	}
	if n := countVersions(t, db, trees["a"]); n != 100 {
		t.Fatalf("tree a, before the cursor, has %d versions, want its 100 untouched", n)
	}
	st, err = db.Purge(ctx)
	if err != nil || st.Versions != 100 {
		t.Fatalf("a fresh full pass: %d versions, %v; want a's 100", st.Versions, err)
	}
	if err := db.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
}

func countVersions(t *testing.T, db *DB, root page.ID) int {
	t.Helper()
	n := 0
	if err := db.tree(root).Scan(context.Background(), nil, func(k []byte, v stbtree.Value) (bool, error) {
		n++
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
