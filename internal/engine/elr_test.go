package engine

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"strata/internal/lock"
	"strata/internal/page"
	"strata/internal/storage/memstore"
)

// TestEarlyLockRelease: a commit's row locks are released once its group is in the log, so a
// locking reader or writer of its rows goes on before the group is durable; but neither is
// acknowledged (Commit returns) before the first commit is durable, and snapshots never see
// it early.
func TestEarlyLockRelease(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	db := openMem(t, env, 64)
	tr := mustTree(t, db, "t")
	a := begin(t, db, TxnOptions{})
	if err := a.Put(ctx, tr, []byte("k"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	mustCommit(t, a)

	env.log.Hold() // nothing appended from now on is durable until Release
	commit := func(x *Txn) chan error {
		done := make(chan error, 1)
		go func() { _, err := x.Commit(ctx); done <- err }()
		return done
	}
	b := begin(t, db, TxnOptions{})
	if err := b.Put(ctx, tr, []byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	bDone := commit(b)

	// A locking read gets the row while b waits for the log, and sees b's value.
	c := begin(t, db, TxnOptions{LockWaitTimeout: 10 * time.Second})
	v, _, err := c.GetForUpdate(ctx, tr, []byte("k"), lock.Exclusive)
	if err != nil || string(v) != "v2" {
		t.Fatalf("locking read during b's commit: %q %v", v, err)
	}
	select {
	case err := <-bDone:
		t.Fatalf("b's commit returned before its group was durable: %v", err)
	default:
	}
	cDone := commit(c) // no writes, but it read b's row: waits for b
	// A writer on top of b.
	d := begin(t, db, TxnOptions{LockWaitTimeout: 10 * time.Second})
	v, _, err = d.GetForUpdate(ctx, tr, []byte("k"), lock.Exclusive)
	if err != nil || string(v) != "v2" {
		t.Fatalf("locking read after c: %q %v", v, err)
	}
	if err := d.Put(ctx, tr, []byte("k"), append(v, "+v3"...)); err != nil {
		t.Fatal(err)
	}
	dDone := commit(d)
	// Snapshots see none of it.
	r := begin(t, db, TxnOptions{})
	if got := getStr(t, r, tr, "k"); got != "v1" {
		t.Fatalf("snapshot during the commits: %q", got)
	}
	r.Rollback()
	time.Sleep(20 * time.Millisecond) // give a wrong early return the chance to show
	for name, ch := range map[string]chan error{"b": bDone, "c": cDone, "d": dDone} {
		select {
		case err := <-ch:
			t.Fatalf("%s's commit returned before b was durable: %v", name, err)
		default:
		}
	}

	env.log.Release()
	for name, ch := range map[string]chan error{"b": bDone, "c": cDone, "d": dDone} {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s's commit did not return once the log was durable", name)
		}
	}
	e := begin(t, db, TxnOptions{})
	if got := getStr(t, e, tr, "k"); got != "v2+v3" {
		t.Fatalf("after the commits k = %q", got)
	}
	e.Rollback()
}

// lateLog is a memstore log whose first WaitDurable after arm returns late, as if its caller
// were descheduled after the log became durable.
type lateLog struct {
	*memstore.Log
	armed   *atomic.Bool
	entered chan struct{} // closed when the late call begins
}

func (l lateLog) WaitDurable(ctx context.Context, lsn page.LSN) error {
	late := l.armed.CompareAndSwap(true, false)
	if late {
		close(l.entered)
	}
	err := l.Log.WaitDurable(ctx, lsn)
	if late {
		time.Sleep(200 * time.Millisecond)
	}
	return err
}

// TestLockingReadSeesOnlyWhatStays: a transaction that wrote nothing but read, under a lock,
// a commit whose locks were released early returns only once that commit is durable and
// visible to every later snapshot, even if the commit's own goroutine is slow to publish it.
// Before, a failed compare-and-set (UPDATE … WHERE v = old, no row matched) could report a
// value that a read right after it did not see.
func TestLockingReadSeesOnlyWhatStays(t *testing.T) {
	ctx := context.Background()
	ml := memstore.NewLog()
	ll := lateLog{Log: ml, armed: &atomic.Bool{}, entered: make(chan struct{})}
	db, err := Open(ctx, Options{Log: ll, Pages: memstore.NewPages(ml), PoolFrames: 256, PurgeInterval: -1})
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
	ll.armed.Store(true) // b's wait for its group returns late
	b := begin(t, db, TxnOptions{})
	if err := b.Put(ctx, tr, []byte("k"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	bDone := make(chan error, 1)
	go func() { _, err := b.Commit(ctx); bDone <- err }()
	c := begin(t, db, TxnOptions{LockWaitTimeout: 10 * time.Second})
	v, _, err := c.GetForUpdate(ctx, tr, []byte("k"), lock.Exclusive)
	if err != nil || string(v) != "v2" {
		t.Fatalf("locking read during b's commit: %q %v", v, err)
	}
	select {
	case <-ll.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("b's commit did not wait for the log")
	}
	ml.Release()
	if _, err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := begin(t, db, TxnOptions{})
	if got := getStr(t, r, tr, "k"); got != "v2" {
		t.Fatalf("a snapshot after c saw v2 under its lock reads %q", got)
	}
	r.Rollback()
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
}
