package engine

import (
	"context"
	"testing"

	"strata/internal/storage/memstore"
)

// TestStatsAndCommitEvents: commits and rollbacks of transactions that wrote are counted and
// reported to the listener; a transaction that only read is neither.
func TestStatsAndCommitEvents(t *testing.T) {
	ctx := context.Background()
	log := memstore.NewLog()
	var infos []CommitInfo
	db, err := Open(ctx, Options{Log: log, Pages: memstore.NewPages(log), PurgeInterval: -1,
		EventListener: EventListener{CommitEnd: func(i CommitInfo) { infos = append(infos, i) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tree := mustTree(t, db, "t")

	w := begin(t, db, TxnOptions{})
	for _, k := range []string{"a", "b"} {
		if err := w.Put(ctx, tree, []byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	mustCommit(t, w)
	r := begin(t, db, TxnOptions{})
	getStr(t, r, tree, "a")
	mustCommit(t, r)
	rb := begin(t, db, TxnOptions{})
	if err := rb.Put(ctx, tree, []byte("c"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	rb.Rollback()

	st := db.Stats()
	if st.Commits != 1 || st.CommitErrors != 0 || st.Rollbacks != 1 || st.RowsWritten != 2 {
		t.Fatalf("stats = %+v, want 1 commit, 0 errors, 1 rollback, 2 rows", st)
	}
	if len(infos) != 1 || infos[0].Rows != 2 || infos[0].Err != nil || infos[0].Duration <= 0 {
		t.Fatalf("commit events = %+v, want one of 2 rows without error", infos)
	}
	// The writer lock's wait and the apply are parts of the commit's time.
	if i := infos[0]; i.Apply <= 0 || i.WriterWait < 0 || i.WriterWait+i.Apply > i.Duration {
		t.Fatalf("commit event %+v: the writer wait and the apply are not parts of the duration", i)
	}
}
