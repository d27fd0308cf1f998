package clustertest

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// prlimitNofile sets the open files limit of process pid (unless lim is nil), returning the
// old one.
func prlimitNofile(pid int, lim *syscall.Rlimit) (syscall.Rlimit, error) {
	var old syscall.Rlimit
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_NOFILE),
		uintptr(unsafe.Pointer(lim)), uintptr(unsafe.Pointer(&old)), 0, 0)
	if errno != 0 {
		return old, errno
	}
	return old, nil
}

// TestComputeOutOfFileDescriptors: a compute node that cannot accept connections (out of file
// descriptors) shows as unhealthy in ctl status, and serves again, up, once it can.
func TestComputeOutOfFileDescriptors(t *testing.T) {
	c := startCluster(t)
	rw := c.node("rw")
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", rw.PID))
	if err != nil {
		t.Fatal(err)
	}
	lim := uint64(len(fds) + 4)
	old, err := prlimitNofile(rw.PID, nil)
	if err != nil {
		t.Skipf("prlimit: %v", err)
	}
	if _, err := prlimitNofile(rw.PID, &syscall.Rlimit{Cur: lim, Max: old.Max}); err != nil {
		t.Skipf("prlimit: %v", err)
	}
	t.Logf("compute pid %d: %d descriptors open, limit lowered from %d to %d", rw.PID, len(fds), old.Cur, lim)
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if _, err := prlimitNofile(rw.PID, &old); err != nil {
				t.Errorf("restore the limit: %v", err)
			}
		}
	}
	defer restore()
	var conns []net.Conn
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for range 20 {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.node("rw").State != "unhealthy" {
		if time.Now().After(deadline) {
			t.Fatalf("rw still %q while it cannot accept", c.node("rw").State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	restore()
	for _, nc := range conns {
		nc.Close()
	}
	conns = nil
	deadline = time.Now().Add(30 * time.Second)
	for c.node("rw").State != "up" {
		if time.Now().After(deadline) {
			t.Fatalf("rw still %q after the limit was raised", c.node("rw").State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	db := c.db("")
	if err := db.Ping(); err != nil {
		t.Fatalf("after the limit was raised: %v", err)
	}
}
