package clustertest

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"

	"strata/internal/logapi/logstorepb"
	"strata/internal/redo"
)

// TestLogStoreReplaced loses a Log Store's disk after the log was truncated: under a steady
// write load (after about 40 MB of rows, so that the compute node truncates the log's first
// 16 MiB segments below what every Page Store persisted), logstore-3 is held down, killed, its
// data directory deleted, and released. It comes back empty; the writer restarts its log at a
// peer's first retained LSN and fills it from there, byte-identical to its peers. Then
// logstore-1 is held down: the two others, the refilled one included, carry the writes with no
// error, and at the end every acknowledged write is in the table.
func TestLogStoreReplaced(t *testing.T) {
	c := startCluster(t)
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE r "+rowsSchema)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	rw := c.node("rw")

	led, ops := newLedger(), &opLog{}
	stopLoad := startWriters(db, 4, led, ops)
	defer stopLoad() // stopping twice is harmless
	t0 := time.Now()
	loaded := time.Now()
	loadRows(t, db, 40000, 250)
	t.Logf("loaded 40000 rows of 1 KB in %v", time.Since(loaded).Round(time.Millisecond))

	status := func(id string) (*logstorepb.Status, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return logStoreClient(t, c, id).GetStatus(ctx, &logstorepb.StatusRequest{})
	}
	ids := []string{"logstore-1", "logstore-2", "logstore-3"}
	// The compute node truncates every second below what every Page Store persisted.
	deadline := time.Now().Add(120 * time.Second)
	for {
		truncated := 0
		for _, id := range ids {
			if st, err := status(id); err == nil && st.GetFirst() > uint64(redo.StartLSN) {
				truncated++
			}
		}
		if truncated == 3 {
			break
		}
		if time.Now().After(deadline) {
			var firsts []uint64
			for _, id := range ids {
				st, _ := status(id)
				firsts = append(firsts, st.GetFirst())
			}
			t.Fatalf("the log was not truncated on every Log Store within 2m: first retained LSNs %v", firsts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var firsts []uint64
	for _, id := range ids[:2] {
		st, err := status(id)
		if err != nil {
			t.Fatal(err)
		}
		firsts = append(firsts, st.GetFirst())
	}
	t.Logf("log truncated: first retained LSNs of logstore-1 and -2: %v", firsts)

	// logstore-3 loses its disk.
	c.hold("logstore-3")
	old := c.kill("logstore-3")
	deadline = time.Now().Add(10 * time.Second)
	for alive(old) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.RemoveAll(filepath.Join(c.dir, "logstore-3")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // writes go on with two stores
	c.release("logstore-3")
	back := c.waitRestarted("logstore-3", old, 30*time.Second)
	restarted := time.Now()
	var target uint64
	for _, id := range ids[:2] {
		if st, err := status(id); err == nil {
			target = max(target, st.GetDurable())
		}
	}
	var st3 *logstorepb.Status
	for {
		st, err := status("logstore-3")
		if err == nil && st.GetStart() > uint64(redo.StartLSN) && st.GetDurable() >= target {
			st3 = st
			break
		}
		if time.Since(restarted) > 30*time.Second {
			t.Fatalf("logstore-3 (pid %d) not refilled to %d within 30s: %v, %v", back.PID, target, st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("logstore-3 back empty as pid %d; its log restarted at %d (peers' first retained %v) and filled to %d in %v",
		back.PID, st3.GetStart(), firsts, st3.GetDurable(), time.Since(restarted).Round(time.Millisecond))
	if st3.GetStart() != firsts[0] && st3.GetStart() != firsts[1] {
		// The peers may have truncated further since; the start must still be a first
		// retained LSN that a peer held, at or above the ones seen before.
		if st3.GetStart() < min(firsts[0], firsts[1]) {
			t.Errorf("logstore-3 restarted at %d, below the peers' first retained LSNs %v", st3.GetStart(), firsts)
		}
	}
	// Its bytes are its peer's. Both go on truncating below what the Page Stores persisted: a
	// read that finds its start truncated meanwhile is retried above the new first LSNs.
	for attempt := 1; ; attempt++ {
		p2, err := status("logstore-2")
		if err != nil {
			t.Fatal(err)
		}
		p3, err := status("logstore-3")
		if err != nil {
			t.Fatal(err)
		}
		from := max(p3.GetFirst(), p2.GetFirst())
		to := min(p3.GetDurable(), p2.GetDurable())
		a, errA := readStore(t, c, "logstore-3", from, to)
		b, errB := readStore(t, c, "logstore-2", from, to)
		if err := cmp.Or(errA, errB); err != nil {
			if grpcstatus.Code(err) == codes.OutOfRange && attempt < 10 {
				continue
			}
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("logstore-3 and logstore-2 hold different bytes in [%d, %d)", from, to)
		}
		t.Logf("logstore-3 and logstore-2 hold the same %d bytes from %d", len(a), from)
		break
	}

	// Another store is lost: the refilled one is part of every quorum now.
	c.hold("logstore-1")
	c.kill("logstore-1")
	down := time.Now()
	time.Sleep(5 * time.Second)
	okDown, failedDown := ops.between(down, time.Now())
	if okDown == 0 {
		t.Errorf("no statement succeeded with logstore-1 down")
	}
	t.Logf("logstore-1 down, logstore-2 and the refilled logstore-3 up: %d statements", okDown)
	if len(failedDown) > 0 {
		t.Errorf("%d client errors with logstore-1 down:\n%s", len(failedDown), describe(failedDown, 10))
	}
	// Reads of the large table go on (its pages are read from the Page Stores).
	var rows int
	if err := db.QueryRow("SELECT COUNT(*) FROM r").Scan(&rows); err != nil || rows != 40000 {
		t.Errorf("read with logstore-1 down: %d rows, %v", rows, err)
	}
	c.release("logstore-1")
	c.waitAllUp(30 * time.Second)
	time.Sleep(time.Second)
	stopLoad()
	okAll, failedAll := ops.between(t0, time.Now())
	if len(failedAll) > 0 {
		t.Errorf("%d client errors in all:\n%s", len(failedAll), describe(failedAll, 10))
	}
	t.Logf("%d statements in all", okAll)
	if n := c.node("rw"); n.PID != rw.PID {
		t.Errorf("the compute node restarted (pid %d, then %d)", rw.PID, n.PID)
	}
	led.verify(t, db)
}

// readStore reads the synced bytes [from, to) from one Log Store.
func readStore(t *testing.T, c *cluster, id string, from, to uint64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := logStoreClient(t, c, id)
	var out []byte
	for from < to {
		stream, err := client.Read(ctx, &logstorepb.ReadRequest{From: from, Max: 1 << 20, Limit: to})
		if err != nil {
			return nil, fmt.Errorf("read %s at %d: %w", id, from, err)
		}
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) || (err == nil && len(resp.GetData()) == 0) {
			return nil, fmt.Errorf("read %s at %d: empty answer", id, from)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s at %d: %w", id, from, err)
		}
		out = append(out, resp.GetData()...)
		from += uint64(len(resp.GetData()))
	}
	return out, nil
}
