package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"strata/internal/logclient"
	"strata/internal/meta"
	"strata/internal/page"
	"strata/internal/pageclient"
	"strata/internal/pageserver/pstest"
	"strata/internal/pagestore"
	"strata/internal/redo"
	"strata/internal/storage"
)

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pageStoreProc is a `strata pagestore` process.
type pageStoreProc struct {
	addr   string
	cmd    *exec.Cmd
	stderr syncBuffer
	exited chan error
}

func startPageStore(t *testing.T, args ...string) *pageStoreProc {
	t.Helper()
	p := &pageStoreProc{exited: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], append([]string{"pagestore"}, args...)...)
	p.cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN=1")
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.exited <- p.cmd.Wait()
	}()
	select {
	case l, ok := <-lines:
		addr, found := strings.CutPrefix(l, "strata: page store serving on ")
		if !ok || !found {
			_ = p.cmd.Process.Kill()
			t.Fatalf("page store did not start: %q; stderr:\n%s", l, p.stderr.String())
		}
		p.addr = addr
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("page store did not report ready")
	}
	return p
}

// stop sends sig and waits for the process to exit.
func (p *pageStoreProc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("page store did not stop")
		return nil
	}
}

// pageCheck feeds the same redo to the Log Stores (through a writer) and to an in-process
// Page Store, and compares the pages a `strata pagestore` process serves with the local ones.
type pageCheck struct {
	t      *testing.T
	w      *pstest.Workload
	local  *pagestore.Store
	writer *logclient.Log
	copied int // bytes of the workload's log given to the writer
}

// grow appends n groups to the workload and the same bytes to the Log Stores, and waits until
// they are durable.
func (c *pageCheck) grow(ctx context.Context, n int) page.LSN {
	c.t.Helper()
	if err := c.w.Groups(n); err != nil {
		c.t.Fatal(err)
	}
	all := c.w.Log.Bytes()
	_, end, err := c.writer.Append(all[c.copied:], true)
	if err == nil {
		err = c.writer.WaitDurable(ctx, end)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	c.copied = len(all)
	if end != c.w.Log.End() {
		c.t.Fatalf("the Log Stores' log ends at %d, the workload's at %d", end, c.w.Log.End())
	}
	return end
}

// compare reads every page at lsn and at a few earlier positions from the process at addr and
// from the local store.
func (c *pageCheck) compare(ctx context.Context, addr string, lsn page.LSN) {
	c.t.Helper()
	pc, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: []string{addr}},
		Secret: "s3cret", Logger: quietLogger()})
	if err != nil {
		c.t.Fatal(err)
	}
	defer pc.Close()
	lsns := []page.LSN{lsn}
	for _, x := range c.w.LSNs(6) {
		if x <= lsn {
			lsns = append(lsns, x)
		}
	}
	var got, want page.Page
	for _, at := range lsns {
		for _, id := range c.w.IDs {
			gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			errGot := pc.GetPage(gctx, id, at, &got)
			errWant := c.local.GetPage(gctx, id, at, &want)
			cancel()
			switch {
			case errors.Is(errWant, storage.ErrPageNotFound) && errors.Is(errGot, storage.ErrPageNotFound):
			case errGot != nil || errWant != nil:
				c.t.Fatalf("page %d at %d: served %v, local %v", id, at, errGot, errWant)
			case got != want:
				c.t.Fatalf("page %d at %d: the page store process serves another page than the local store", id, at)
			}
		}
	}
}

var openedRE = regexp.MustCompile(`pagestore: opened" .*persisted=(\d+)`)

// TestPageStoreProcess runs three `strata logstore` processes and a `strata pagestore`
// process: the pages it serves match a local store fed the same log; it goes on consuming
// after one Log Store is killed; killed itself and restarted, it resumes from its persisted
// position and serves again.
func TestPageStoreProcess(t *testing.T) {
	tmp := t.TempDir()
	secretFile := filepath.Join(tmp, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs []*logStoreProc
	defer func() {
		for _, p := range logs {
			_ = p.stop(t, syscall.SIGKILL)
		}
	}()
	for i := range 3 {
		logs = append(logs, startLogStore(t, filepath.Join(tmp, fmt.Sprintf("ls%d", i)), "127.0.0.1:0", secretFile))
	}
	addrs := []string{logs[0].addr, logs[1].addr, logs[2].addr}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	writer, err := logclient.Recover(ctx, logclient.Options{Addrs: addrs, Secret: "s3cret", Epoch: 1, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	if writer.Recovered() != redo.StartLSN {
		t.Fatalf("a new log starts at %d", writer.Recovered())
	}
	w := pstest.NewWorkload(7, 1, 6)
	local, err := pagestore.Open(ctx, pagestore.Options{Dir: filepath.Join(tmp, "local"), Log: w.Log,
		Logger: quietLogger(), CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	local.Start()
	c := &pageCheck{t: t, w: w, local: local, writer: writer}

	psDir := filepath.Join(tmp, "ps")
	psArgs := []string{"--data", psDir, "--secret-file", secretFile, "--log", strings.Join(addrs, ","),
		"--flush-interval", "100ms"}
	ps := startPageStore(t, append(psArgs, "--listen", "127.0.0.1:0")...)
	defer func() { _ = ps.stop(t, syscall.SIGKILL) }()
	end := c.grow(ctx, 150)
	c.compare(ctx, ps.addr, end)

	// One Log Store killed (the first, which the page store's reader tries first): new
	// commits still reach the page store.
	_ = logs[0].stop(t, syscall.SIGKILL)
	end = c.grow(ctx, 100)
	c.compare(ctx, ps.addr, end)

	// Wait until the page store has persisted everything, kill it, and restart it on the same
	// address and directory: it starts from what it persisted.
	pc, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: []string{ps.addr}},
		Secret: "s3cret", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var persisted page.LSN
	deadline := time.Now().Add(10 * time.Second)
	for persisted < end {
		st := pc.Status(ctx)[0]
		if st.Err == nil {
			persisted = st.Persisted
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page store persisted %d of %d: %v", persisted, end, st.Err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := ps.stop(t, syscall.SIGKILL); err == nil {
		t.Fatal("the killed page store exited cleanly")
	}
	end = c.grow(ctx, 50) // committed while the page store is down
	// The restarted one also publishes its status to the control plane.
	ms, err := meta.StartServer(ctx, meta.ServerOptions{Dir: filepath.Join(tmp, "meta"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	ps = startPageStore(t, append(psArgs, "--listen", ps.addr, "--etcd", strings.Join(ms.Endpoints(), ","), "--id", "ps1")...)
	m := openedRE.FindStringSubmatch(ps.stderr.String())
	if m == nil {
		t.Fatalf("the restarted page store did not log its persisted position:\n%s", ps.stderr.String())
	}
	if from, _ := strconv.ParseUint(m[1], 10, 64); page.LSN(from) < persisted {
		t.Fatalf("the restarted page store started from %d, below the persisted %d", from, persisted)
	}
	c.compare(ctx, ps.addr, end)
	end = c.grow(ctx, 50)
	c.compare(ctx, ps.addr, end)
	mc, err := meta.Dial(ctx, meta.ClientOptions{Endpoints: ms.Endpoints(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	deadline = time.Now().Add(10 * time.Second)
	for {
		nodes, err := mc.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) == 1 && nodes[0].Role == meta.RolePageStore && nodes[0].ID == "ps1" && nodes[0].Addr == ps.addr &&
			nodes[0].State == meta.StateUp && nodes[0].Applied >= uint64(end) && nodes[0].PID == ps.cmd.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page store's status in the control plane: %+v", nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// SIGTERM stops it cleanly.
	if err := ps.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, ps.stderr.String())
	}
	if nodes, err := mc.Nodes(ctx); err != nil || len(nodes) != 0 {
		t.Fatalf("the stopped page store is still published: %+v %v", nodes, err)
	}
}

func TestPageStoreFlags(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--log", "127.0.0.1:1"}, "secret"},
		{[]string{"--secret-file", secretFile}, "--log"},
		{[]string{"--secret-file", secretFile, "--log", "127.0.0.1:1", "--segments", "1"}, "together"},
		{[]string{"--secret-file", secretFile, "--log", "127.0.0.1:1", "--segments", "3-1", "--segment-pages", "8"}, "bad segment"},
	} {
		root := newRoot()
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs(append([]string{"pagestore", "--data", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...))
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pagestore %v: %v, want an error about %q", tc.args, err, tc.want)
		}
	}
	got, err := parseSegments(" 0,2, 5-7,")
	if err != nil || fmt.Sprint(got) != "[0 2 5 6 7]" {
		t.Fatalf("parseSegments: %v %v", got, err)
	}
}
