package sqlstore

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverProc is a Strata server in a child process.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
}

func startProc(t *testing.T, dir string) *serverProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STRATA_TEST_SERVE="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd}
	t.Cleanup(func() { p.kill() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				lines <- a
			}
		}
	}()
	select {
	case p.addr = <-lines:
	case <-time.After(60 * time.Second):
		t.Fatal("server did not start")
	}
	return p
}

func (p *serverProc) kill() {
	if p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

func (p *serverProc) connect(t *testing.T, db string) *sql.DB {
	c, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/%s?timeout=5s", p.addr, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestKillDuringLoad kills the server with SIGKILL while clients commit, restarts it, and
// checks that every acknowledged commit is there and nothing else: each transaction inserts
// a row and bumps a counter row, so a partly applied transaction would show.
func TestKillDuringLoad(t *testing.T) {
	dir := t.TempDir()
	p := startProc(t, dir)
	c := p.connect(t, "")
	mustExec(t, c, "CREATE DATABASE loadtest")
	db := p.connect(t, "loadtest")
	mustExec(t, db, "CREATE TABLE events (id INT PRIMARY KEY, worker INT, payload VARCHAR(200), KEY w (worker))")
	mustExec(t, db, "CREATE TABLE counters (worker INT PRIMARY KEY, n INT)")
	const workers = 4
	for w := 0; w < workers; w++ {
		mustExec(t, db, "INSERT INTO counters VALUES (?, 0)", w)
	}
	var mu sync.Mutex
	acked := map[int]bool{}
	attempted := map[int]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := w*1_000_000 + i
				mu.Lock()
				attempted[id] = true
				mu.Unlock()
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return
				}
				if _, err = tx.Exec("INSERT INTO events VALUES (?, ?, ?)", id, w, strings.Repeat("x", 150)); err == nil {
					_, err = tx.Exec("UPDATE counters SET n = n + 1 WHERE worker = ?", w)
				}
				if err != nil {
					tx.Rollback()
					return
				}
				if err := tx.Commit(); err != nil {
					return
				}
				mu.Lock()
				acked[id] = true
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	p.kill()
	cancel()
	wg.Wait()
	mu.Lock()
	nacked := len(acked)
	mu.Unlock()
	if nacked == 0 {
		t.Fatal("no commit was acknowledged before the kill")
	}

	p2 := startProc(t, dir)
	db2 := p2.connect(t, "loadtest")
	rows, err := db2.Query("SELECT id FROM events")
	if err != nil {
		t.Fatal(err)
	}
	present := map[int]bool{}
	for rows.Next() {
		var id int
		rows.Scan(&id)
		present[id] = true
	}
	rows.Close()
	for id := range acked {
		if !present[id] {
			t.Fatalf("acknowledged event %d lost", id)
		}
	}
	for id := range present {
		if !attempted[id] {
			t.Fatalf("event %d was never written", id)
		}
	}
	// Counters match the events: no transaction is half there.
	for w := 0; w < workers; w++ {
		var n, events int
		if err := db2.QueryRow("SELECT n FROM counters WHERE worker = ?", w).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db2.QueryRow("SELECT count(*) FROM events WHERE worker = ?", w).Scan(&events); err != nil {
			t.Fatal(err)
		}
		if n != events {
			t.Fatalf("worker %d: counter %d, events %d", w, n, events)
		}
	}
	t.Logf("%d commits acknowledged before SIGKILL, %d present after restart", nacked, len(present))
}
