package clustertest

import (
	"syscall"
	"testing"
	"time"
)

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

	c.hold("compute")
	rw := c.node("rw")
	if rw.Role != "rw" || rw.PID == 0 {
		t.Fatalf("the writer: %+v", rw)
	}
	killed := time.Now()
	if err := syscall.Kill(rw.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := killed.Add(30 * time.Second)
	var first time.Time
	for {
		if f, ok := ops.firstOK(killed.Add(50 * time.Millisecond)); ok {
			first = f
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write accepted through the proxy within 30 s of the kill:\n%s", describe(ops.failedEndingAfter(killed), 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := first.Sub(killed)
	t.Logf("SIGKILL of the writer to the first write accepted through the proxy: %v", took.Round(time.Millisecond))
	c.waitRole("ro-1", "rw", 10*time.Second)
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
