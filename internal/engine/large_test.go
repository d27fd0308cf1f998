package engine

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestTransactionLargerThanPool commits one transaction that writes far more pages than the
// buffer pool holds: its group is appended in spilled pieces so that pages can be evicted.
func TestTransactionLargerThanPool(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	db := openMem(t, env, 16) // 256 KiB of pool
	tr := mustTree(t, db, "big")
	txn := begin(t, db, TxnOptions{})
	val := make([]byte, 900)
	const n = 3000 // about 3 MB
	for i := 0; i < n; i++ {
		if err := txn.Put(ctx, tr, []byte(fmt.Sprintf("row%06d", i)), val); err != nil {
			t.Fatal(err)
		}
	}
	end := mustCommit(t, txn)
	if db.Pool().Stats().Evictions == 0 {
		t.Fatal("expected evictions")
	}
	r := begin(t, db, TxnOptions{})
	it := r.Scan(ctx, tr, nil, nil, false)
	count := 0
	for it.Next() {
		count++
	}
	if it.Err() != nil || count != n {
		t.Fatalf("read %d rows, %v", count, it.Err())
	}
	r.Rollback()
	// After a crash the whole transaction is there, since its group ended.
	crashed := env.log.Crash()
	if crashed.End() != end {
		t.Fatalf("crash kept the log to %d, commit ended at %d", crashed.End(), end)
	}
	db2 := openMem(t, &memEnv{log: crashed}, 16)
	tr2, err := db2.Tree("big")
	if err != nil {
		t.Fatal(err)
	}
	r2 := begin(t, db2, TxnOptions{})
	it = r2.Scan(ctx, tr2, nil, nil, true)
	count = 0
	for it.Next() {
		count++
	}
	if it.Err() != nil || count != n {
		t.Fatalf("after reopen read %d rows, %v", count, it.Err())
	}
	if err := db2.CheckTrees(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestUncommittedSpillLost: a crash during a large commit, after some of its group was
// appended but before its end, loses the whole transaction and nothing else.
func TestUncommittedSpillLost(t *testing.T) {
	ctx := context.Background()
	env := &memEnv{}
	db := openMem(t, env, 16)
	tr := mustTree(t, db, "t")
	a := begin(t, db, TxnOptions{})
	a.Put(ctx, tr, []byte("kept"), []byte("1"))
	mustCommit(t, a)
	b := begin(t, db, TxnOptions{})
	for i := 0; i < 3000; i++ {
		b.Put(ctx, tr, []byte(fmt.Sprintf("lost%06d", i)), make([]byte, 900))
	}
	// Hold durability back, so the commit stops after its first spilled piece, then crash
	// with that piece on disk but not the group's end.
	env.log.Hold()
	before := env.log.End()
	done := make(chan error, 1)
	go func() { _, err := b.Commit(ctx); done <- err }()
	deadline := time.Now().Add(10 * time.Second)
	for env.log.End() == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if env.log.End() == before {
		t.Fatal("the commit never spilled")
	}
	crashed := env.log.CrashAll()
	if crashed.End() != before {
		t.Fatalf("crash kept the log to %d, want the last complete group at %d", crashed.End(), before)
	}
	env.log.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	db2 := openMem(t, &memEnv{log: crashed}, 16)
	tr2, _ := db2.Tree("t")
	r := begin(t, db2, TxnOptions{})
	if got := scanStr(t, r, tr2, "", "", false); got != "kept=1 " {
		t.Fatalf("after crash: %q", got)
	}
}
