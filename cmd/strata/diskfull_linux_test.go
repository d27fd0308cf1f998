//go:build linux

package main

import (
	"bytes"
	"context"
	"database/sql"
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

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/logclient"
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
	// Started again while the disk is full: it exits again, with an error saying why. Opening
	// may need no space (the segment was cut back to its durable end, and nothing is written
	// until an append comes), so the store may report serving first; the writer's next append
	// to it, which it cannot write, makes it exit. It must not go on serving.
	rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
	rc := exec.CommandContext(rctx, os.Args[0], "logstore", "--data", dirs[0], "--listen", procs[0].addr,
		"--secret-file", secretFile)
	rc.Env = append(os.Environ(), "STRATA_TEST_MAIN=1")
	rc.Cancel = func() error { return rc.Process.Signal(syscall.SIGQUIT) }
	out, err := rc.CombinedOutput()
	timedOut := rctx.Err() != nil
	rcancel()
	if err == nil || timedOut || !bytes.Contains(out, []byte("no space left")) {
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
	dial, err := logapi.DialOptions("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.Dial(procs[0].addr, dial...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := logstorepb.NewLogStoreClient(conn)
	if err := awaitLog(ctx, client, end, data, 30*time.Second); err != nil {
		t.Fatalf("after space was freed: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestUpDiskFull runs `strata up` with its data directory on a small tmpfs and fills it under
// inserts: commits fail (their outcome unknown) while the disk is full, and once space is freed
// the cluster serves again by itself, with every acknowledged row, without anyone killing a node.
func TestUpDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	dir := filepath.Join(t.TempDir(), "data")
	mountTmpfs(t, dir, 256<<20)
	up := startUp(t, dir, "--stall-timeout", "3s", "--ro", "0", "--proxy=false")
	defer up.kill()
	db, err := sql.Open("mysql", "root@tcp("+up.addr+")/?timeout=5s&readTimeout=30s&writeTimeout=30s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v LONGBLOB)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	waitNodes(t, dir, 8)
	val := bytes.Repeat([]byte("x"), 8<<10)
	var acked []int
	id := 0
	insert := func() error {
		id++
		_, err := db.Exec("INSERT INTO d.t VALUES (?, ?)", id, val)
		if err == nil {
			acked = append(acked, id)
		}
		return err
	}
	for range 20 {
		if err := insert(); err != nil {
			t.Fatal(err)
		}
	}
	filler := fill(t, dir)
	// Insert until the full disk stops the commits.
	deadline := time.Now().Add(90 * time.Second)
	var ferr error
	for ferr == nil {
		ferr = insert()
		if time.Now().After(deadline) {
			t.Fatal("inserts still succeed on a full disk")
		}
	}
	t.Logf("full after %d rows: %v", len(acked), ferr)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	deadline = time.Now().Add(120 * time.Second)
	for {
		err := insert()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster does not serve again after space was freed: %v\n%s", err, nodeLogs(dir))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("serving again %v after space was freed", time.Since(start).Round(time.Second))
	for range 20 {
		if err := insert(); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Query("SELECT id FROM d.t")
	if err != nil {
		t.Fatal(err)
	}
	have := map[int]bool{}
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			t.Fatal(err)
		}
		have[i] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, i := range acked {
		if !have[i] {
			t.Fatalf("acknowledged row %d lost", i)
		}
	}
	db.Close()
	up.kill()
}

// TestUpSingleDiskFull: `strata up --single` on a tmpfs filled under inserts stops with an error
// instead of serving on while refusing every change; started again once space is freed, it
// holds every acknowledged row.
func TestUpSingleDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	mountTmpfs(t, dir, 64<<20)
	up := startUp(t, dir, "--single")
	defer up.kill()
	db, err := sql.Open("mysql", "root@tcp("+up.addr+")/?timeout=5s&readTimeout=30s&writeTimeout=30s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v LONGBLOB)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	val := bytes.Repeat([]byte("x"), 8<<10)
	var acked []int
	for id := 1; id <= 20; id++ {
		if _, err := db.Exec("INSERT INTO d.t VALUES (?, ?)", id, val); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, id)
	}
	filler := fill(t, dir)
	for id := 21; ; id++ {
		if _, err := db.Exec("INSERT INTO d.t VALUES (?, ?)", id, val); err != nil {
			break
		}
		acked = append(acked, id)
		if id > 20000 {
			t.Fatal("inserts still succeed on a full disk")
		}
	}
	select {
	case <-up.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("strata up --single still runs with a failed engine")
	}
	if up.cmd.ProcessState.Success() {
		t.Fatal("strata up --single exited cleanly after its engine failed")
	}
	db.Close()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	up = startUp(t, dir, "--single")
	db2, err := sql.Open("mysql", "root@tcp("+up.addr+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var n int
	if err := db2.QueryRow("SELECT count(*) FROM d.t WHERE id <= ?", acked[len(acked)-1]).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n < len(acked) {
		t.Fatalf("%d rows after the restart, %d acknowledged", n, len(acked))
	}
	if _, err := db2.Exec("INSERT INTO d.t VALUES (?, ?)", 1<<30, val); err != nil {
		t.Fatal(err)
	}
	db2.Close()
	up.kill()
}
