package clustertest

import (
	"context"
	"database/sql"
	"flag"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// allFailover runs the failover tests beyond TestFailoverUnderLoad (about two minutes more),
// kept out of the default run to hold `go test ./...` to its budget.
var allFailover = flag.Bool("failover", false, "run every failover test (switchover, fencing, linearizability)")

func needFailoverFlag(t *testing.T) {
	t.Helper()
	if !*allFailover && !*long {
		t.Skip("run with -failover (or -long)")
	}
}

// roleOf returns the role node id runs as, "" when it is not up.
func (c *cluster) roleOf(id string) string {
	c.t.Helper()
	st, err := c.status()
	if err != nil {
		return ""
	}
	for _, n := range st.Nodes {
		if n.ID == id && n.State == "up" && n.PID != 0 && alive(n.PID) {
			return n.Role
		}
	}
	return ""
}

// waitRole waits until node id runs as role.
func (c *cluster) waitRole(id, role string, timeout time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for c.roleOf(id) != role {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s does not run as %s within %v: %+v", id, role, timeout, c.mustStatus().Nodes)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFailoverUnderLoad SIGKILLs the writer under a write load through the proxy while the
// supervisor holds it down: the read-only node takes over, writes resume through the proxy,
// and every acknowledged commit is there. Released, the old writer rejoins as a read-only node.
func TestFailoverUnderLoad(t *testing.T) {
	c := startCluster(t, "--proxy=true", "--ro", "1")
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	c.waitRole("ro-1", "ro", 30*time.Second)

	led, ops := newLedger(), &opLog{}
	stopLoad := startWriters(db, 4, led, ops)
	defer stopLoad()
	time.Sleep(2 * time.Second)

	// The read-only node caches the table (its replay then keeps those pages current).
	roDB, err := sql.Open("mysql", "root@tcp("+c.node("ro-1").Addr+")/d?timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	defer roDB.Close()
	var rowsSeen int
	if err := roDB.QueryRow("SELECT COUNT(*) FROM t").Scan(&rowsSeen); err != nil {
		t.Fatal(err)
	}
	c.hold("compute")
	rw := c.node("rw")
	if rw.Role != "rw" || rw.PID == 0 {
		t.Fatalf("the writer: %+v", rw)
	}
	killed, took := killForWrites(t, rw, ops)
	t.Logf("SIGKILL of the writer (%s) to the first write accepted through the proxy: %v", killed.UTC().Format("15:04:05.000"), took.Round(time.Millisecond))
	c.waitRole("ro-1", "rw", 10*time.Second)
	t.Logf("the promotion, as the logs tell it:\n%s", c.grepLogs([]string{"ro-1.log", "proxy.log"},
		"took the writer epoch", "recovering the log", "compute: open", "compute nodes changed", "serving MySQL"))
	// The promoted node kept its buffer pool: the pages it cached as a read-only node.
	if m := regexp.MustCompile(`kept_pages=(\d+)`).FindStringSubmatch(c.grepLogs([]string{"ro-1.log"}, "kept_pages")); m == nil || m[1] == "0" {
		t.Errorf("the promoted node did not keep its buffer pool (%v; it had read %d rows)", m, rowsSeen)
	}
	time.Sleep(time.Second)
	failed := ops.failedEndingAfter(killed)
	t.Logf("%d statements failed after the kill", len(failed))
	if len(failed) > 0 {
		t.Logf("failures:\n%s", describe(failed, 10))
	}

	// The old writer comes back as a read-only node; it cannot write with its old epoch.
	c.release("compute")
	c.waitRole("rw", "ro", 60*time.Second)
	time.Sleep(time.Second)
	stopLoad()
	led.verify(t, db)
	if took > 10*time.Second {
		t.Errorf("writes resumed %v after the kill; aim: 3 s", took)
	}
}

// killForWrites SIGKILLs node n and waits (30 s at most) for the first write of the load to
// succeed after it: when it killed, and how long writes took to resume.
func killForWrites(t *testing.T, n node, ops *opLog) (killed time.Time, took time.Duration) {
	t.Helper()
	killed = time.Now()
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := killed.Add(30 * time.Second)
	for {
		if f, ok := ops.firstOK(killed.Add(50 * time.Millisecond)); ok {
			return killed, f.Sub(killed)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted through the proxy within 30 s of the kill:\n%s", describe(ops.failedEndingAfter(killed), 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestartUnderLoad is TestFailoverUnderLoad's baseline: the same load through the proxy,
// with no read-only node, so that the supervisor restarting the writer is what brings writes
// back (as before failover existed). bench/failover.sh runs both.
func TestRestartUnderLoad(t *testing.T) {
	needFailoverFlag(t)
	c := startCluster(t, "--proxy=true", "--ro", "0")
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	led, ops := newLedger(), &opLog{}
	stopLoad := startWriters(db, 4, led, ops)
	defer stopLoad()
	time.Sleep(2 * time.Second)
	rw := c.node("rw")
	killed, took := killForWrites(t, rw, ops)
	t.Logf("SIGKILL of the writer (%s) to the first write accepted through the proxy, restarted by its supervisor: %v",
		killed.UTC().Format("15:04:05.000"), took.Round(time.Millisecond))
	time.Sleep(time.Second)
	t.Logf("%d statements failed after the kill", len(ops.failedEndingAfter(killed)))
	stopLoad()
	led.verify(t, db)
}

// writer returns the node that runs as the writer (ID and pid), waiting for one.
func (c *cluster) writer(timeout time.Duration) node {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if st, err := c.status(); err == nil {
			for _, n := range st.Nodes {
				if n.Role == "rw" && n.State == "up" && n.PID != 0 && alive(n.PID) {
					return n
				}
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no writer within %v", timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLinearizableFailover runs register clients through the proxy at consistency global
// while the writer, whichever node it is, is SIGKILLed every few seconds: the supervisor
// restarts it, and a read-only node may take over meanwhile. Porcupine must find the history
// linearizable.
func TestLinearizableFailover(t *testing.T) {
	needFailoverFlag(t)
	const keys, clients = 5, 6
	dur := 25 * time.Second
	if *long {
		dur = 3 * time.Minute
	}
	c := startCluster(t, "--proxy=true", "--ro", "1")
	db := c.newDatabase(0)
	c.exec(db, "CREATE TABLE reg (k INT PRIMARY KEY, v BIGINT NOT NULL)")
	for k := 0; k < keys; k++ {
		c.exec(db, "INSERT INTO reg VALUES (?, 0)", k)
	}
	h := &history{base: time.Now(), n: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		cdb, err := sql.Open("mysql", "root@tcp("+c.addr+")/d?timeout=3s&readTimeout=60s&writeTimeout=60s&interpolateParams=true&strata_read_consistency=%27global%27")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cdb.Close() })
		cdb.SetMaxOpenConns(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			registerClient(ctx, cdb, i, keys, h)
		}()
	}
	stopClients := func() {
		cancel()
		wg.Wait()
	}
	defer stopClients()

	end := time.Now().Add(dur)
	time.Sleep(3 * time.Second)
	kills := 0
	for time.Now().Before(end.Add(-5 * time.Second)) {
		c.waitAllUp(60 * time.Second)
		w := c.writer(30 * time.Second)
		if err := syscall.Kill(w.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		kills++
		t.Logf("SIGKILL writer %s (pid %d, epoch %d)", w.ID, w.PID, w.Epoch)
		time.Sleep(5 * time.Second)
	}
	time.Sleep(time.Until(end))
	stopClients()
	c.waitAllUp(60 * time.Second)
	t.Logf("%d writers killed; the writer now: %s", kills, c.writer(30*time.Second).ID)

	h.mu.Lock()
	ops := h.ops
	t.Logf("history: %d operations (%v)", len(ops), h.n)
	h.mu.Unlock()
	res, _ := porcupine.CheckOperationsVerbose(registerModel, ops, 2*time.Minute)
	t.Logf("porcupine: %s", res)
	if res != porcupine.Ok {
		t.Fatalf("porcupine: %s", res)
	}
}

// TestSwitchover hands the writer's role to the read-only node with `strata ctl failover`
// under a write load through the proxy, and back: every acknowledged commit is there.
func TestSwitchover(t *testing.T) {
	needFailoverFlag(t)
	c := startCluster(t, "--proxy=true", "--ro", "1")
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	c.waitRole("ro-1", "ro", 30*time.Second)
	led, ops := newLedger(), &opLog{}
	stopLoad := startWriters(db, 4, led, ops)
	defer stopLoad()
	time.Sleep(2 * time.Second)
	for i, to := range []string{"ro-1", "rw"} {
		c.waitRole(to, "ro", 60*time.Second)
		// A transaction open across the switchover is rolled back, and told so.
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO t VALUES (?, 1)", -1-i); err != nil {
			t.Fatalf("insert in the transaction: %v", err)
		}
		start := time.Now()
		out, err := exec.Command(strataBin, "ctl", "failover", "--to", to, "--data", c.dir).CombinedOutput()
		if err != nil {
			t.Fatalf("strata ctl failover --to %s: %v\n%s", to, err, out)
		}
		took := time.Since(start)
		c.waitRole(to, "rw", 10*time.Second)
		time.Sleep(time.Second) // writes go on on the new writer
		failed := ops.failedEndingAfter(start)
		t.Logf("switchover to %s: %s(ctl %v); longest pause of the writes %v; %d autocommit statements failed",
			to, out, took.Round(time.Millisecond), ops.longestPause(start, time.Now()).Round(time.Millisecond), len(failed))
		if i == 0 {
			t.Logf("the switchover, as the logs tell it:\n%s", c.grepLogs([]string{"compute.log", "ro-1.log", "proxy.log"},
				"switchover requested", "drained", "stepped down", "took the writer epoch", "recovering the log", "compute: open",
				"compute nodes changed", "readonly: open", "readonly: serving", "not kept"))
		}
		// The old writer drained: what it refused unexecuted the proxy sent to the new one.
		if len(failed) > 0 {
			t.Errorf("autocommit statements failed across a planned switchover:\n%s", describe(failed, 10))
		}
		_, err = tx.Exec("INSERT INTO t VALUES (?, 1)", -100-i)
		if err == nil || !strings.Contains(err.Error(), "1213") {
			t.Errorf("a statement of a transaction open across the switchover: %v; want error 1213 (rolled back)", err)
		} else {
			t.Logf("the open transaction: %v", err)
		}
		_ = tx.Rollback()
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE id < 0").Scan(&n); err != nil || n != 0 {
			t.Errorf("rows of the rolled back transactions: %d, %v", n, err)
		}
		time.Sleep(2 * time.Second)
	}
	if f := ops.failedEndingAfter(time.Time{}); len(f) > 0 {
		t.Logf("failures:\n%s", describe(f, 10))
	}
	stopLoad()
	led.verify(t, db)
}

// TestPartitionedWriterFenced cuts the writer off (SIGSTOP: it neither publishes nor answers)
// until the read-only node has taken over, then lets it run again: a commit sent to it
// directly is never acknowledged (the Log Stores refuse its old epoch), and it comes back as
// a read-only node.
func TestPartitionedWriterFenced(t *testing.T) {
	needFailoverFlag(t)
	c := startCluster(t, "--proxy=true", "--ro", "1")
	db := c.newDatabase(4)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	c.waitRole("ro-1", "ro", 30*time.Second)
	old := c.node("rw")
	direct, err := sql.Open("mysql", "root@tcp("+old.Addr+")/d?timeout=2s&readTimeout=10s&writeTimeout=10s")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := direct.Exec("INSERT INTO t VALUES (1, 1)"); err != nil {
		t.Fatalf("write on the writer: %v", err)
	}
	if err := syscall.Kill(old.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = syscall.Kill(old.PID, syscall.SIGCONT)
		}
	}()
	c.waitRole("ro-1", "rw", 30*time.Second)
	if _, err := db.Exec("INSERT INTO t VALUES (2, 1)"); err != nil {
		t.Fatalf("write through the proxy after the takeover: %v", err)
	}
	// The old writer runs again, still believing it writes: nothing it is asked to commit
	// may be acknowledged.
	_ = syscall.Kill(old.PID, syscall.SIGCONT)
	stopped = false
	for i := int64(100); i < 110; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_, err := direct.ExecContext(ctx, "INSERT INTO t VALUES (?, 1)", i)
		cancel()
		if err == nil {
			t.Errorf("the fenced writer acknowledged a commit of row %d", i)
		} else if i == 100 {
			t.Logf("the fenced writer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE id >= 100").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows from the fenced writer: %d, %v", n, err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows: %d, %v; want 2", n, err)
	}
	c.waitRole("rw", "ro", 60*time.Second)
}
