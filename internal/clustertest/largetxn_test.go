package clustertest

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/rpcauth"
)

// TestLargeTransaction runs transactions several times larger than the compute node's 8 MiB
// buffer pool through a cluster while small writes go on: the large commit spills part of its
// group to the Log Stores, the Page Stores consume it before the group ends, and the pool
// evicts its pages. Then the compute node is SIGKILLed in the middle of another such
// transaction: the recovering writer voids the incomplete group, the Page Stores discard what
// they consumed of it, and after the restart (a cold pool: every page is read from the Page
// Stores) the first large transaction is whole, the interrupted one absent, and every
// acknowledged small write present.
func TestLargeTransaction(t *testing.T) {
	c := startCluster(t, "--buffer-pool-mb", "8")
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE r "+rowsSchema)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	for _, name := range []string{"r2", "r3"} {
		c.exec(db, "CREATE TABLE "+name+" "+rowsSchema)
	}
	const rows = 24000 // about 24 MB of rows, three times the pool
	loadRows(t, db, rows, 250)

	led, ops := newLedger(), &opLog{}
	stopWriters := startWriters(db, 3, led, ops)
	defer stopWriters()
	start := time.Now()
	if _, err := db.Exec("INSERT INTO r2 SELECT * FROM r"); err != nil {
		t.Fatalf("a transaction of %d rows (about 3× the buffer pool): %v", rows, err)
	}
	t.Logf("INSERT … SELECT of %d rows committed in %v", rows, time.Since(start).Round(time.Millisecond))
	checkCopy(t, db, "r2", rows)

	// Kill the writer in the middle of the next one, four times as large: once the end of the
	// log, as the Log Stores tell it, has moved by 4 MB (its commit is spilling; nothing else
	// writes now).
	stopWriters()
	var stores []logstorepb.LogStoreClient
	for _, id := range []string{"logstore-1", "logstore-2", "logstore-3"} {
		stores = append(stores, logStoreClient(t, c, id))
	}
	logEnd := func() uint64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var end uint64
		for _, s := range stores {
			if st, err := s.GetStatus(ctx, &logstorepb.StatusRequest{}); err == nil {
				end = max(end, st.GetDurable())
			}
		}
		return end
	}
	before := logEnd()
	done := make(chan error, 1)
	go func() {
		_, err := db.Exec("INSERT INTO r3 SELECT r.id + k.k * 100000, r.v, r.pad FROM r, " +
			"(SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) AS k")
		done <- err
	}()
	deadline := time.Now().Add(60 * time.Second)
	for logEnd() < before+4<<20 { // part of its group is on the Log Stores
		select {
		case err := <-done:
			t.Fatalf("the transaction to interrupt ended first: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the large transaction did not spill to the log")
		}
		time.Sleep(2 * time.Millisecond)
	}
	old := c.kill("rw")
	if err := <-done; err == nil {
		t.Fatal("the interrupted transaction reported success")
	}
	c.waitRestarted("rw", old, 60*time.Second)
	// The new writer voided the group, and the Page Stores discarded what they held of it.
	// A Page Store learns of the void group as it consumes the log, after the writer is
	// back, so its log is read until it says so.
	for file, want := range map[string]string{"compute.log": "voided it", "pagestore-1.log": "discarded a void group"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			b, err := os.ReadFile(filepath.Join(c.dir, "logs", file))
			if err == nil && strings.Contains(string(b), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not say %q (%v):\n%s", file, want, err, c.tail(filepath.Join(c.dir, "logs", file), 20))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	db = c.db("d")
	led.verify(t, db)
	checkCopy(t, db, "r2", rows)
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM r3").Scan(&n); err != nil || n != 0 {
		t.Fatalf("the interrupted transaction's table holds %d rows (%v), want 0", n, err)
	}
	checkCopy(t, db, "r", rows)
	// The cluster goes on writing after the void group.
	if _, err := db.Exec("INSERT INTO r3 SELECT * FROM r WHERE id < 5000"); err != nil {
		t.Fatal(err)
	}
	checkCopy(t, db, "r3", 5000)
}

// logStoreClient dials Log Store id of the cluster with its secret.
func logStoreClient(t *testing.T, c *cluster, id string) logstorepb.LogStoreClient {
	t.Helper()
	secret, err := rpcauth.ReadSecretFile(filepath.Join(c.dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	dial, err := logapi.DialOptions(secret)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(c.node(id).Addr, dial...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return logstorepb.NewLogStoreClient(conn)
}

// checkCopy checks that table name holds rows 0..n-1 of r, read in full.
func checkCopy(t *testing.T, db *sql.DB, name string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cnt int64
	var sum, pad float64
	err := db.QueryRowContext(ctx, "SELECT COUNT(*), SUM(v), SUM(LENGTH(pad)) FROM "+name).Scan(&cnt, &sum, &pad)
	if errors.Is(err, sql.ErrNoRows) || err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	if want := float64(7 * n * (n - 1) / 2); cnt != int64(n) || sum != want || pad != float64(n*1000) {
		t.Fatalf("%s: count %d sum %.0f pad bytes %.0f, want %d %.0f %d", name, cnt, sum, pad, n, want, n*1000)
	}
}
