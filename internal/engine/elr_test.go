package engine

import (
	"context"
	"testing"
	"time"

	"strata/internal/lock"
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
