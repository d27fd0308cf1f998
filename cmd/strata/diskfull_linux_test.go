//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	"strata/internal/logclient"
	"strata/internal/logstore"
	"strata/internal/logstore/logstorepb"
	"strata/internal/logstore/logtest"
	"strata/internal/page"
)

// mountTmpfs mounts a tmpfs of size bytes on dir for the test, or skips the test where it
// cannot (not root, no mount permission).
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
}

// fill writes a file in dir until the file system is full; removing it frees the space.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
		if i > 1<<14 {
			t.Fatal("the file system does not fill")
		}
	}
}

// TestLogStoreDiskFull runs three `strata logstore` processes, one on a small tmpfs, and fills
// that file system under commits: the commits go on (two stores), the full store exits with an
// error (so that a supervisor restarts it), started again on the still-full disk it exits
// again, and once space is freed it starts, holding every byte it acknowledged, and catches up.
func TestLogStoreDiskFull(t *testing.T) {
	tmp := t.TempDir()
	full := filepath.Join(tmp, "full")
	mountTmpfs(t, full, 8<<20)
	secretFile := filepath.Join(tmp, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dirs := []string{filepath.Join(full, "ls0"), filepath.Join(tmp, "ls1"), filepath.Join(tmp, "ls2")}
	var procs []*logStoreProc
	for _, d := range dirs {
		procs = append(procs, startLogStore(t, d, "127.0.0.1:0", secretFile))
	}
	defer func() {
		for _, p := range procs {
			_ = p.stop(t, syscall.SIGKILL)
		}
	}()
	addrs := []string{procs[0].addr, procs[1].addr, procs[2].addr}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	l, err := logclient.Recover(ctx, logclient.Options{Addrs: addrs, Secret: "s3cret", Epoch: 1,
		StallTimeout: 10 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var data []byte
	commit := func(i int) {
		t.Helper()
		g := logtest.Group(page.ID(i%7+1), uint64(i), 4000)
		_, end, err := l.Append(g, true)
		if err == nil {
			err = l.WaitDurable(ctx, end)
		}
		if err != nil {
			t.Fatalf("commit %d: %v", i, err)
		}
		data = append(data, g...)
	}
	i := 0
	for ; i < 50; i++ {
		commit(i)
	}
	filler := fill(t, full)
	// Commits go on with the two other stores; the full one fails within its preallocated MiB
	// and exits.
	var exitErr error
	for exited := false; !exited; i++ {
		commit(i)
		select {
		case exitErr = <-procs[0].exited:
			exited = true
		default:
		}
		if i > 5000 {
			t.Fatal("the store on the full disk did not exit")
		}
	}
	if exitErr == nil {
		t.Fatalf("the full store exited cleanly:\n%s", procs[0].stderr.String())
	}
	if s := procs[0].stderr.String(); !strings.Contains(s, "no space left") {
		t.Fatalf("the full store's error does not say why:\n%s", s)
	}
	for j := 0; j < 20; j++ {
		commit(i)
		i++
	}
	// Started again while the disk is full: it exits again, with an error, instead of serving.
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	rc := exec.CommandContext(rctx, os.Args[0], "logstore", "--data", dirs[0], "--listen", procs[0].addr,
		"--secret-file", secretFile)
	rc.Env = append(os.Environ(), "STRATA_TEST_MAIN=1")
	rc.Cancel = func() error { return rc.Process.Signal(syscall.SIGQUIT) }
	out, err := rc.CombinedOutput()
	timedOut := rctx.Err() != nil
	rcancel()
	if err == nil || timedOut || bytes.Contains(out, []byte("serving on")) {
		t.Fatalf("a log store started on a full disk: %v\n%s", err, out)
	}

	if err := os.Remove(filler); err != nil { // space is back
		t.Fatal(err)
	}
	procs[0] = startLogStore(t, dirs[0], procs[0].addr, secretFile)
	for j := 0; j < 20; j++ {
		commit(i)
		i++
	}
	end := l.End()
	dial, err := logstore.DialOptions("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.Dial(procs[0].addr, dial...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := logstorepb.NewLogStoreClient(conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := client.GetStatus(ctx, &logstorepb.StatusRequest{})
		if err == nil && st.GetDurable() >= uint64(end) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not catch up to %d after space was freed: %v %v", end, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stream, err := client.Read(ctx, &logstorepb.ReadRequest{From: 64, Limit: uint64(end), Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for len(got) < len(data) {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.GetData()...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the store holds other bytes than were committed")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
