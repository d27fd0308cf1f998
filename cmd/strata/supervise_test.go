package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"strata/internal/supervisor"
)

// testSupervisor returns a supervisor with its logs under dir, and a cluster secret file there.
func testSupervisor(t *testing.T, dir string) (sup *supervisor.Supervisor, secretFile string) {
	t.Helper()
	// The supervisor runs os.Executable(), this test binary: make it run strata's main.
	t.Setenv("STRATA_TEST_MAIN", "1")
	secretFile = filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.New(supervisor.Options{LogDir: filepath.Join(dir, "logs"), HoldDir: filepath.Join(dir, "hold"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return sup, secretFile
}

// TestSupervisorHold kills a supervised node while its hold file exists: the supervisor
// keeps it down until the file is removed, then restarts it at once.
func TestSupervisorHold(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	dir := t.TempDir()
	sup, secret := testSupervisor(t, dir)
	c := &supervisor.Child{Name: "logstore-1", Ready: "strata: log store serving on ", Env: []string{"STRATA_TEST_ENV=child"},
		Args: []string{"logstore", "--data", filepath.Join(dir, "ls"), "--listen", "127.0.0.1:0", "--secret-file", secret}}
	if err := sup.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(10 * time.Second)
	checkEnv := func(pid int) {
		t.Helper()
		if runtime.GOOS != "linux" {
			return
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains("\x00"+string(env), "\x00STRATA_TEST_ENV=child\x00") {
			t.Fatalf("pid %d runs without the child's Env", pid)
		}
	}
	checkEnv(c.PID())

	hold := sup.HoldPath(c)
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	first := c.PID()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Well past the restart backoff (0.5 s), it is still down.
	time.Sleep(2 * time.Second)
	if p := c.PID(); p != first {
		t.Fatalf("held node restarted as pid %d", p)
	}
	if alive(first) {
		t.Fatalf("pid %d still alive after SIGKILL", first)
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.PID() == first || !alive(c.PID()) {
		if time.Now().After(deadline) {
			t.Fatal("node not restarted after its hold file was removed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Without a hold, a killed node comes back by itself.
	second := c.PID()
	checkEnv(second)
	if err := syscall.Kill(second, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for c.PID() == second || !alive(c.PID()) {
		if time.Now().After(deadline) {
			t.Fatal("node not restarted after SIGKILL")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := sup.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if alive(c.PID()) {
		t.Fatalf("pid %d alive after stop", c.PID())
	}
}

// TestSupervisorStartRetries starts a node whose port is held by another socket until the node
// has failed on it: the node exits, and the supervisor starts it again until it serves.
func TestSupervisorStartRetries(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	dir := t.TempDir()
	sup, secret := testSupervisor(t, dir)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := taken.Addr().String()
	// Hold the port until the node has failed on it once (however long its start takes on a
	// loaded machine), then free it for the retry.
	released := make(chan struct{})
	go func() {
		defer close(released)
		defer taken.Close()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if b, _ := os.ReadFile(filepath.Join(dir, "logs", "logstore-1.log")); strings.Contains(string(b), "address already in use") {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() { <-released }()
	c := &supervisor.Child{Name: "logstore-1", Ready: "strata: log store serving on ",
		Args: []string{"logstore", "--data", filepath.Join(dir, "ls"), "--listen", addr, "--secret-file", secret}}
	if err := sup.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	defer sup.Stop(10 * time.Second)
	if c.Addr() != addr {
		t.Fatalf("node serves on %s, want %s", c.Addr(), addr)
	}
	log, err := os.ReadFile(filepath.Join(dir, "logs", "logstore-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "address already in use") {
		t.Fatalf("the first start did not fail on the held port:\n%s", log)
	}
}

// TestStorageEnv: `strata up` gives its storage nodes a quarter of the cores (at least one),
// unless the operator chose GOMAXPROCS.
func TestStorageEnv(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	want := fmt.Sprintf("GOMAXPROCS=%d", max(1, runtime.NumCPU()/4))
	if got := storageEnv(); len(got) != 1 || got[0] != want {
		t.Fatalf("storageEnv() = %q, want [%s]", got, want)
	}
	t.Setenv("GOMAXPROCS", "3")
	if got := storageEnv(); len(got) != 0 {
		t.Fatalf("with GOMAXPROCS set, storageEnv() = %q, want nothing", got)
	}
}
