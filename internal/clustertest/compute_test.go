package clustertest

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// restartTiming is one restart of the compute node.
type restartTiming struct {
	logEnd         uint64        // the durable log position before the kill
	killToStart    time.Duration // SIGKILL to the new process (the supervisor's backoff)
	startToServing time.Duration // the new process's start to its first answered query
}

// killComputeAndTime SIGKILLs the compute node and measures when the supervisor's new
// process starts and when it first answers a query on a fresh connection.
func killComputeAndTime(t *testing.T, c *cluster) restartTiming {
	t.Helper()
	rw := c.node("rw")
	var rt restartTiming
	rt.logEnd = rw.Durable
	upPID := c.cmd.Process.Pid
	if p := childWith(upPID, " compute --role rw "); p != rw.PID {
		t.Fatalf("compute process %d, ctl status says %d", p, rw.PID)
	}
	probe, err := sql.Open("mysql", "root@tcp("+c.addr+")/d?timeout=1s&readTimeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	probe.SetMaxIdleConns(0) // every probe dials anew
	killed := time.Now()
	c.kill("rw")
	// The new process.
	var pid int
	for pid == 0 || pid == rw.PID {
		if time.Since(killed) > 60*time.Second {
			t.Fatal("no new compute process within 60s of the kill")
		}
		time.Sleep(5 * time.Millisecond)
		pid = childWith(upPID, " compute --role rw ")
	}
	started, err := startTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	// Its first answer.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var n int
		err := probe.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE id = 1").Scan(&n)
		cancel()
		if err == nil {
			break
		}
		if time.Since(killed) > 90*time.Second {
			t.Fatalf("compute not serving within 90s of the kill: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	serving := time.Now()
	rt.killToStart = started.Sub(killed)
	rt.startToServing = serving.Sub(started)
	t.Logf("compute killed at log position %d: new process %d after %v, serving %v after it started",
		rt.logEnd, pid, rt.killToStart.Round(time.Millisecond), rt.startToServing.Round(time.Millisecond))
	return rt
}

// TestComputeKilled SIGKILLs the compute node under a write load, twice: once early and once
// after a much longer log. The supervisor restarts it; the time from the new process's start
// to serving MySQL stays small whatever the log length (recovery replays no redo), every
// acknowledged commit is there, and nothing that the client saw fail without reaching the
// server.
func TestComputeKilled(t *testing.T) {
	c := startCluster(t)
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	c.exec(db, "CREATE TABLE r "+rowsSchema)

	led, ops := newLedger(), &opLog{}
	stopLoad := startWriters(db, 4, led, ops)
	defer stopLoad() // stopping twice is harmless
	time.Sleep(2 * time.Second)
	first := killComputeAndTime(t, c)
	c.waitAllUp(30 * time.Second)

	// A longer log: bulk rows beside the writers.
	var bulk atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for id := 0; ctx.Err() == nil; id += 100 {
			args := make([]any, 0, 300)
			q := "INSERT INTO r (id, v, pad) VALUES "
			for i := id; i < id+100; i++ {
				if i > id {
					q += ","
				}
				q += "(?,?,?)"
				args = append(args, i, 7*i, padOf(i))
			}
			if _, err := db.Exec(q, args...); err != nil {
				t.Errorf("bulk insert: %v", err)
				return
			}
			bulk.Add(100)
		}
	}()
	wg.Wait()
	cancel()
	if t.Failed() {
		return
	}
	second := killComputeAndTime(t, c)
	t.Logf("restart to serving: %v with a log of %d bytes, %v with %d bytes (%d bulk rows of 1 KB between)",
		first.startToServing.Round(time.Millisecond), first.logEnd, second.startToServing.Round(time.Millisecond), second.logEnd, bulk.Load())
	c.waitAllUp(30 * time.Second)
	time.Sleep(time.Second)
	stopLoad()
	for _, rt := range []restartTiming{first, second} {
		// Aim: under 1 s; the bound leaves room for a loaded 2-core machine.
		if rt.startToServing > 5*time.Second {
			t.Errorf("compute took %v from process start to serving (log %d bytes)", rt.startToServing, rt.logEnd)
		}
	}
	if second.logEnd < 4*first.logEnd {
		t.Logf("note: the second log (%d) is not much longer than the first (%d)", second.logEnd, first.logEnd)
	}
	led.verify(t, db)
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM r").Scan(&n); err != nil || int64(n) != bulk.Load() {
		t.Fatalf("bulk rows: %d, %v; %d acknowledged", n, err, bulk.Load())
	}
	// The read-only node followed the log across both writers: once it has applied the new
	// writer's durable end it reads what the writer reads.
	ro, err := sql.Open("mysql", "root@tcp("+c.node("ro-1").Addr+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var durable, applied uint64
	if err := db.QueryRow("SELECT STRATA_DURABLE_LSN()").Scan(&durable); err != nil {
		t.Fatal(err)
	}
	if err := ro.QueryRow("SELECT STRATA_WAIT_LSN(?, 30)", durable).Scan(&applied); err != nil || applied < durable {
		t.Fatalf("the read-only node reached %d of the writer's %d: %v", applied, durable, err)
	}
	var m int
	if err := ro.QueryRow("SELECT COUNT(*) FROM d.r").Scan(&m); err != nil || m != n {
		t.Fatalf("the read-only node counts %d bulk rows (%v), the writer %d", m, err, n)
	}
}
