package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"strata/internal/engine"
	"strata/internal/page"
	"strata/internal/storage"
	"strata/internal/storage/memstore"
)

// stallLog is a memstore log whose WaitDurable gives up with storage.ErrStalled after a
// short timeout while it is held, like the cluster's log without a quorum of Log Stores.
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

// TestCommitErrorEndsTransaction: a commit that fails (here: the log stalls) ends the
// transaction, and the session's next statements run in new transactions under autocommit
// (they used to fail with "no transaction for a write": the session kept the ended one).
func TestCommitErrorEndsTransaction(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ml := memstore.NewLog()
	db, err := engine.Open(ctx, engine.Options{Log: stallLog{ml}, Pages: memstore.NewPages(ml), PoolFrames: 512,
		PurgeInterval: -1, LockWaitTimeout: 2 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := Open(ctx, db, quiet)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := st.NewSQLEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := st.Serve(eng, l)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	n := &node{addr: l.Addr().String()}
	c := n.connect(t, "")
	c.SetMaxOpenConns(1) // one session throughout
	mustExec(t, c, "CREATE DATABASE d")
	mustExec(t, c, "CREATE TABLE d.t (id INT PRIMARY KEY, v INT)")
	mustExec(t, c, "INSERT INTO d.t VALUES (1, 1)")

	ml.Hold()
	_, err = c.Exec("INSERT INTO d.t VALUES (2, 2)")
	if err == nil || !strings.Contains(err.Error(), "outcome unknown") {
		t.Fatalf("insert on a stalled log: %v", err)
	}
	// An explicit transaction whose COMMIT fails ends too.
	mustExec(t, c, "BEGIN")
	mustExec(t, c, "INSERT INTO d.t VALUES (3, 3)")
	if _, err := c.Exec("COMMIT"); err == nil {
		t.Fatal("COMMIT on a stalled log succeeded")
	}
	ml.Release()

	// The session goes on in autocommit mode.
	mustExec(t, c, "INSERT INTO d.t VALUES (4, 4)")
	other := n.connect(t, "")
	var got int
	if err := other.QueryRow("SELECT count(*) FROM d.t WHERE id = 4").Scan(&got); err != nil || got != 1 {
		t.Fatalf("row 4 committed in autocommit after the failed commits: count %d, %v", got, err)
	}
	// The in-doubt commits took effect once the log recovered.
	if err := other.QueryRow("SELECT count(*) FROM d.t").Scan(&got); err != nil || got != 4 {
		t.Fatalf("rows: %d, %v", got, err)
	}
}
