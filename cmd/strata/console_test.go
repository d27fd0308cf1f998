package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"strata/internal/console"
	"strata/internal/meta"
)

// consoleURL waits for the console line that `strata up` prints after the MySQL one.
func (p *upProc) consoleURL(t *testing.T) string {
	t.Helper()
	select {
	case l := <-p.lines:
		url, ok := strings.CutPrefix(l, "strata: console on ")
		if !ok {
			t.Fatalf("second line %q, want the console's address", l)
		}
		return url
	case <-time.After(10 * time.Second):
		t.Fatal("strata up did not print the console's address")
	}
	return ""
}

// chromiumPath finds a Chromium to drive, or "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestConsoleInBrowser opens the console of a running `strata up` cluster in headless
// Chromium: the page lists every node up, with the charts fed by the nodes' metrics; a Page
// Store killed (and held down) shows as down, and as up again once released. With
// STRATA_CONSOLE_SCREENSHOT=FILE it saves the page with the node down there (docs/console.png).
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes and a browser")
	}
	chrome := chromiumPath()
	if chrome == "" {
		t.Skip("headless Chromium is not installed: `apt-get install chromium` (Debian) to run this test")
	}
	dir := t.TempDir()
	up := startUp(t, dir)
	url := up.consoleURL(t)
	nodes := waitNodes(t, dir, 10)

	// Every metric the console reads is exported by the nodes it reads it from.
	for _, n := range nodes {
		for _, name := range console.ReadMetrics()[n.Role] {
			if _, ok := scrape(t, "http://"+n.Metrics+"/metrics")[name]; !ok {
				t.Errorf("%s's metrics lack %s, which the console reads", n.ID, name)
			}
		}
	}

	// Statements for the charts, until the test ends (bounded in time and count).
	db, err := sql.Open("mysql", "root@tcp("+up.addr+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE d"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(40))"); err != nil {
		t.Fatal(err)
	}
	load, stopLoad := context.WithTimeout(context.Background(), 3*time.Minute)
	var loaded sync.WaitGroup
	loaded.Add(1)
	go func() {
		defer loaded.Done()
		for i := 0; i < 100000 && load.Err() == nil; i++ {
			_, _ = db.ExecContext(load, "INSERT INTO d.t VALUES (?, ?)", i, fmt.Sprint("value ", i))
			_, _ = db.ExecContext(load, "SELECT v FROM d.t WHERE id = ?", i/2)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { stopLoad(); loaded.Wait() }()

	// The browser, bounded as a whole: cancelling the allocator ends it.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-dev-shm-usage", true))...)
	defer cancelAlloc()
	watchdog := time.AfterFunc(4*time.Minute, cancelAlloc)
	defer watchdog.Stop()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	// waitFor polls the page until the JavaScript expression is true.
	waitFor := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout),
			chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
			page, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v; the page shows:\n%s", what, err, page)
		}
	}
	row := func(id string) string { return fmt.Sprintf(`document.querySelector('#nodes tr[data-node="%s"]')`, id) }
	var victim meta.Node
	for _, n := range nodes {
		waitFor(n.ID+" listed up", fmt.Sprintf(`(%s || {}).dataset?.state === "up"`, row(n.ID)), 30*time.Second)
		if n.Role == meta.RolePageStore && n.ID == "pagestore-2" {
			victim = n
		}
	}
	if victim.PID == 0 {
		t.Fatalf("no pagestore-2 in %+v", nodes)
	}
	waitFor("the page shows pagestore-2's pid", fmt.Sprintf(`%s.children[3].textContent === "%d"`, row(victim.ID), victim.PID), 10*time.Second)
	waitFor("charts drawn from the metrics", `document.querySelectorAll("#chart-statements polyline, #chart-latency polyline, #chart-records polyline").length >= 3`, 60*time.Second)

	shotPath := os.Getenv("STRATA_CONSOLE_SCREENSHOT")
	if shotPath != "" { // a picture for the docs: a minute of history in the charts first
		waitFor("a minute of points", `document.querySelector("#chart-statements polyline").getAttribute("points").split(" ").length >= 30`, 2*time.Minute)
	}

	// Kill the Page Store, held down so that the supervisor does not restart it at once.
	hold := filepath.Join(dir, "hold", victim.ID)
	if err := os.WriteFile(hold, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor("the killed page store shown down", fmt.Sprintf(`%s?.dataset.state === "down" && document.getElementById("ndown").textContent === "1"`, row(victim.ID)), 30*time.Second)
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if path := shotPath; path != "" {
		if len(shot) > 300<<10 {
			t.Errorf("the screenshot is %d KiB; keep it under 300 KiB", len(shot)>>10)
		}
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot in %s (%d KiB)", path, len(shot)>>10)
	}
	// Released, it comes back: up again, with a new process.
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	waitFor("the page store up again", fmt.Sprintf(`%s?.dataset.state === "up" && %s.children[3].textContent !== "%d"`,
		row(victim.ID), row(victim.ID), victim.PID), 60*time.Second)
	stopLoad()
	loaded.Wait()
	up.kill()
}

// TestConsolePortInUse: a console port already taken stops `strata up` at start, before any
// node runs, with an error that names the address.
func TestConsolePortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	root := newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"up", "--data", dir, "--port", "0", "--console-addr", ln.Addr().String()})
	err = root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) || !strings.Contains(err.Error(), "--console-addr") {
		t.Fatalf("want an error naming --console-addr %s, got %v", ln.Addr(), err)
	}
	if logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log")); len(logs) > 0 {
		t.Errorf("nodes were started: %v", logs)
	}
	// The console is a cluster's: --single refuses it.
	root = newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"up", "--single", "--data", t.TempDir(), "--port", "0", "--console-addr", "127.0.0.1:0"})
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "--single") {
		t.Fatalf("--single with --console-addr: %v", err)
	}
}
