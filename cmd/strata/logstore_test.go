package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// TestMain lets a test start the strata binary by re-running the test binary with
// STRATA_TEST_MAIN=1: it then runs the command line instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("STRATA_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// logStoreProc is a `strata logstore` process.
type logStoreProc struct {
	dir, addr string
	cmd       *exec.Cmd
	stderr    bytes.Buffer
	exited    chan error
}

func startLogStore(t *testing.T, dir, listen, secretFile string) *logStoreProc {
	t.Helper()
	p := &logStoreProc{dir: dir, exited: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], "logstore", "--data", dir, "--listen", listen, "--secret-file", secretFile)
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
		addr, found := strings.CutPrefix(l, "strata: log store serving on ")
		if !ok || !found {
			_ = p.cmd.Process.Kill()
			t.Fatalf("log store did not start: %q; stderr:\n%s", l, p.stderr.String())
		}
		p.addr = addr
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("log store did not report ready")
	}
	return p
}

// stop sends sig and waits for the process to exit.
func (p *logStoreProc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatal("log store did not stop")
		return nil
	}
}

// TestLogStoreProcesses runs three `strata logstore` processes, writes through them while one
// is killed with SIGKILL (no commit fails), restarts it, and checks that it caught up.
func TestLogStoreProcesses(t *testing.T) {
	tmp := t.TempDir()
	secretFile := filepath.Join(tmp, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var procs []*logStoreProc
	for i := 0; i < 3; i++ {
		procs = append(procs, startLogStore(t, filepath.Join(tmp, fmt.Sprintf("ls%d", i)), "127.0.0.1:0", secretFile))
	}
	defer func() {
		for _, p := range procs {
			_ = p.stop(t, syscall.SIGKILL)
		}
	}()
	addrs := []string{procs[0].addr, procs[1].addr, procs[2].addr}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := logclient.Recover(ctx, logclient.Options{Addrs: addrs, Secret: "s3cret", Epoch: 1,
		StallTimeout: 10 * time.Second, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	commits := 600
	if testing.Short() {
		commits = 200
	}
	// Four committers; store 1 is killed by another goroutine while commits are in flight.
	var mu sync.Mutex
	var data []byte
	done := 0
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for {
			mu.Lock()
			n := done
			mu.Unlock()
			if n >= commits/3 {
				_ = procs[1].cmd.Process.Signal(syscall.SIGKILL)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < commits; i += 4 {
				g := logtest.Group(page.ID(i%7+1), uint64(i), 100+i%200)
				mu.Lock()
				_, end, err := l.Append(g, true)
				if err == nil {
					data = append(data, g...)
				}
				mu.Unlock()
				if err == nil {
					err = l.WaitDurable(ctx, end)
				}
				if err != nil {
					errs <- fmt.Errorf("commit %d: %w", i, err)
					return
				}
				mu.Lock()
				done++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	<-killed
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := <-procs[1].exited; err == nil {
		t.Fatal("the killed log store exited cleanly")
	}
	end := l.End()
	procs[1] = startLogStore(t, procs[1].dir, procs[1].addr, secretFile)
	dial, err := logapi.DialOptions("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.Dial(procs[1].addr, dial...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := logstorepb.NewLogStoreClient(conn)
	if err := awaitLog(ctx, client, end, data, 20*time.Second); err != nil {
		t.Fatalf("restarted log store: %v\n%s", err, procs[1].stderr.String())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// SIGTERM stops a store cleanly.
	if err := procs[0].stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, procs[0].stderr.String())
	}
}

func TestLogStoreNeedsSecret(t *testing.T) {
	root := newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"logstore", "--data", t.TempDir(), "--listen", "127.0.0.1:0"})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Fatalf("logstore without a secret: %v", err)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// awaitLog waits (up to wait) until the store behind client is durable to end, then reads
// the log from its start (LSN 64) and compares it with data.
func awaitLog(ctx context.Context, client logstorepb.LogStoreClient, end page.LSN, data []byte, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		st, err := client.GetStatus(ctx, &logstorepb.StatusRequest{})
		if err == nil && st.GetDurable() >= uint64(end) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("did not catch up to %d: %v %v", end, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stream, err := client.Read(ctx, &logstorepb.ReadRequest{From: 64, Limit: uint64(end), Follow: true})
	if err != nil {
		return err
	}
	var got []byte
	for len(got) < len(data) {
		resp, err := stream.Recv()
		if err != nil {
			return err
		}
		got = append(got, resp.GetData()...)
	}
	if !bytes.Equal(got, data) {
		return errors.New("the store holds other bytes than were written")
	}
	return nil
}
