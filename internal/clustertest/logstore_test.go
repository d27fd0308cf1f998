package clustertest

import (
	"strings"
	"testing"
	"time"
)

// TestLogStoreFaults runs a steady write load and:
//  1. SIGKILLs one Log Store: no client error; the supervisor restarts it and it catches up
//     (its durable position reaches what the others had);
//  2. keeps two Log Stores down: writes stall, then fail with an error naming the missing
//     quorum after the compute node's stall timeout;
//  3. lets one come back: writes resume by themselves, the compute node never restarted;
//
// and at the end every acknowledged commit is in the table, and nothing else.
func TestLogStoreFaults(t *testing.T) {
	const stall = 3 * time.Second
	c := startCluster(t, "--stall-timeout", stall.String())
	db := c.newDatabase(8)
	c.exec(db, "CREATE TABLE t "+ledgerSchema)
	rw := c.node("rw")

	led, ops := newLedger(), &opLog{}
	stopLoad := startWriters(db, 4, led, ops)
	defer stopLoad() // stopping twice is harmless
	t0 := time.Now()
	time.Sleep(2 * time.Second)

	// 1. One Log Store killed: no error, it comes back and catches up.
	old := c.kill("logstore-1")
	back := c.waitRestarted("logstore-1", old, 30*time.Second)
	restarted := time.Now()
	var target uint64
	for _, n := range c.mustStatus().Nodes {
		if n.Role == "logstore" && n.ID != "logstore-1" {
			target = max(target, n.Durable)
		}
	}
	for {
		n := c.node("logstore-1")
		if n.Durable >= target {
			t.Logf("logstore-1 back as pid %d %v after the kill; caught up to %d in %v", back.PID,
				restarted.Sub(t0.Add(2*time.Second)).Round(time.Millisecond), target, time.Since(restarted).Round(time.Millisecond))
			break
		}
		if time.Since(restarted) > 30*time.Second {
			t.Fatalf("logstore-1 durable %d, the others reached %d 30s ago", n.Durable, target)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	okA, failedA := ops.between(t0, time.Now())
	if len(failedA) > 0 {
		t.Fatalf("%d client errors with one Log Store killed:\n%s", len(failedA), describe(failedA, 10))
	}
	t.Logf("one Log Store killed: %d statements, 0 errors", okA)

	// 2. Two Log Stores kept down: writes stall, then fail with a clear error.
	c.hold("logstore-1")
	c.hold("logstore-2")
	c.kill("logstore-1")
	c.kill("logstore-2")
	down := time.Now()
	deadline := down.Add(4*stall + 10*time.Second)
	for {
		errs := ops.errorsAfter(down)
		if len(errs) == 4 && time.Since(down) > stall+time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with two Log Stores down, only %d of 4 clients got an error in %v", len(errs), time.Since(down))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Nothing commits without a quorum (a statement already in flight at the kill may have).
	okB, _ := ops.between(down.Add(500*time.Millisecond), time.Now())
	if okB > 0 {
		t.Errorf("%d statements succeeded with two Log Stores down", okB)
	}
	// Every error since the kill (statements in flight then included) is the stall's.
	var unclear, early []opResult
	failedB := ops.failedEndingAfter(down)
	var slowest time.Duration
	for _, r := range failedB {
		slowest = max(slowest, r.end.Sub(r.start))
		msg := r.err.Error()
		if !strings.Contains(msg, "not enough log stores") {
			unclear = append(unclear, r)
		}
		if r.end.Sub(r.start) < stall-100*time.Millisecond {
			early = append(early, r)
		}
	}
	if len(unclear) > 0 {
		t.Errorf("%d errors with two Log Stores down do not say that the Log Stores lack a quorum:\n%s", len(unclear), describe(unclear, 3))
	}
	if len(early) > 0 {
		t.Errorf("%d statements failed before the %v stall timeout:\n%s", len(early), stall, describe(early, 3))
	}
	if len(failedB) > 0 {
		t.Logf("two Log Stores down: %d statements failed after stalling, e.g. after %v (longest %v): %v", len(failedB),
			failedB[0].end.Sub(failedB[0].start).Round(time.Millisecond), slowest.Round(time.Millisecond), failedB[0].err)
	}

	// Reads go on during the stall.
	var rows int
	if err := db.QueryRow("SELECT COUNT(*) FROM t").Scan(&rows); err != nil {
		t.Errorf("read during the stall: %v", err)
	}

	// 3. One returns: writes resume by themselves.
	c.release("logstore-1")
	released := time.Now()
	for {
		if at, ok := ops.firstOK(released); ok {
			t.Logf("writes resumed %v after logstore-1's hold was removed", at.Sub(released).Round(time.Millisecond))
			break
		}
		if time.Since(released) > 30*time.Second {
			t.Fatalf("writes did not resume within 30s of logstore-1's return:\n%s", describe(flatten(ops.errorsAfter(released)), 8))
		}
		time.Sleep(50 * time.Millisecond)
	}
	resumed := time.Now()
	time.Sleep(2 * time.Second)
	c.release("logstore-2")
	c.waitAllUp(30 * time.Second)
	time.Sleep(time.Second)
	stopLoad()
	okC, failedC := ops.between(resumed, time.Now())
	if len(failedC) > 0 {
		t.Errorf("%d client errors after writes resumed:\n%s", len(failedC), describe(failedC, 10))
	}
	t.Logf("after the quorum returned: %d statements", okC)
	if n := c.node("rw"); n.PID != rw.PID {
		t.Errorf("the compute node restarted (pid %d, then %d)", rw.PID, n.PID)
	}
	led.verify(t, db)
}

func flatten(m map[int][]opResult) []opResult {
	var out []opResult
	for _, v := range m {
		out = append(out, v...)
	}
	return out
}
