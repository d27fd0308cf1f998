package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"strata/internal/lock"
	"strata/internal/page"
	"strata/internal/storage"
	"strata/internal/storage/memstore"
)

// stallLog is a memstore log whose WaitDurable gives up with storage.ErrStalled after a
// short timeout while it is held, like logclient without a quorum of Log Stores.
type stallLog struct{ *memstore.Log }

func (l stallLog) WaitDurable(ctx context.Context, lsn page.LSN) error {
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err := l.Log.WaitDurable(wctx, lsn)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: test: no quorum", storage.ErrStalled)
	}
	return err
}

// TestCommitStalled: a commit whose log stalls fails with ErrCommitInDoubt but does not fail
// the engine; it stays invisible until the log recovers, then it takes effect by itself. A
// transaction that changes its rows meanwhile (its locks were released early) builds on it
// and is in doubt too.
func TestCommitStalled(t *testing.T) {
	ctx := context.Background()
	ml := memstore.NewLog()
	db, err := Open(ctx, Options{Log: stallLog{ml}, Pages: memstore.NewPages(ml), PoolFrames: 256, PurgeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr := mustTree(t, db, "t")
	a := begin(t, db, TxnOptions{})
	if err := a.Put(ctx, tr, []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, a)

	ml.Hold()
	b := begin(t, db, TxnOptions{})
	if err := b.Put(ctx, tr, []byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	bEnd, err := b.Commit(ctx)
	if !errors.Is(err, ErrCommitInDoubt) || !errors.Is(err, storage.ErrStalled) {
		t.Fatalf("commit on a stalled log: %v", err)
	}
	if bEnd <= db.VisibleLSN() {
		t.Fatalf("an in-doubt commit returned %d, not beyond the visible %d", bEnd, db.VisibleLSN())
	}
	if err := db.failure(); err != nil {
		t.Fatalf("a stall failed the engine: %v", err)
	}
	b.Rollback() // what a SQL session does after a failed commit: nothing to undo
	// Not visible to snapshots; a locking read sees it, and a commit on top of it is in doubt.
	r := begin(t, db, TxnOptions{})
	if got := getStr(t, r, tr, "k"); got != "v2" && got != "v1" {
		t.Fatalf("during the stall k = %q", got)
	} else if got != "v1" {
		t.Fatalf("an in-doubt commit is visible: k = %q", got)
	}
	r.Rollback()
	c := begin(t, db, TxnOptions{LockWaitTimeout: 5 * time.Second})
	if v, _, err := c.GetForUpdate(ctx, tr, []byte("k"), lock.Exclusive); err != nil || string(v) != "v2" {
		t.Fatalf("locking read of an in-doubt row: %q %v", v, err)
	}
	if err := c.Put(ctx, tr, []byte("k"), []byte("v3")); err != nil {
		t.Fatalf("write of an in-doubt row during the stall: %v", err)
	}
	if _, err := c.Commit(ctx); !errors.Is(err, ErrCommitInDoubt) {
		t.Fatalf("commit on top of an in-doubt one during the stall: %v", err)
	}
	c.Rollback()

	ml.Release()
	d := begin(t, db, TxnOptions{LockWaitTimeout: 5 * time.Second})
	if err := d.Put(ctx, tr, []byte("k2"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, d)
	if v := db.VisibleLSN(); v < bEnd {
		t.Fatalf("visible %d after the log recovered, below the in-doubt commit's %d", v, bEnd)
	}
	e := begin(t, db, TxnOptions{LockWaitTimeout: 5 * time.Second})
	if got := getStr(t, e, tr, "k"); got != "v3" {
		t.Fatalf("after the log recovered k = %q, want the second in-doubt commit's v3", got)
	}
	if err := e.Put(ctx, tr, []byte("k"), []byte("v4")); err != nil {
		t.Fatalf("write after the log recovered: %v", err)
	}
	mustCommit(t, e)
	f := begin(t, db, TxnOptions{})
	if got := getStr(t, f, tr, "k"); got != "v4" {
		t.Fatalf("k = %q", got)
	}
	f.Rollback()
}

// TestFailure: a commit whose group the log refuses after the commit changed pages fails the
// engine; Failure then says so (a cluster node restarts on it), and every later commit is
// refused.
func TestFailure(t *testing.T) {
	ctx := context.Background()
	ml := memstore.NewLog()
	db, err := Open(ctx, Options{Log: ml, Pages: memstore.NewPages(ml), PoolFrames: 64, PurgeInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tr := mustTree(t, db, "t")
	if db.Failure() != nil {
		t.Fatalf("a new engine reports %v", db.Failure())
	}
	a := begin(t, db, TxnOptions{})
	if err := a.Put(ctx, tr, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := ml.Close(); err != nil { // the log refuses every append from now on
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx); err == nil {
		t.Fatal("a commit the log refused succeeded")
	}
	if err := db.Failure(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Failure() = %v, want ErrFailed", err)
	}
	b := begin(t, db, TxnOptions{})
	if err := b.Put(ctx, tr, []byte("k2"), []byte("v")); err == nil {
		if _, err := b.Commit(ctx); !errors.Is(err, ErrFailed) {
			t.Fatalf("a commit on a failed engine: %v, want ErrFailed", err)
		}
	}
}
