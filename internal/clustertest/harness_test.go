package clustertest

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

var (
	long      = flag.Bool("long", false, "run the long variants (the linearizability check for minutes)")
	strataBin string // the strata binary, built once by TestMain
)

func TestMain(m *testing.M) {
	flag.Parse()
	mysql.SetLogger(log.New(io.Discard, "", 0)) // the driver reports connections killed on purpose
	if testing.Short() {
		os.Exit(m.Run())
	}
	if b := os.Getenv("CLUSTERTEST_STRATA"); b != "" {
		// A strata binary built beforehand (e.g. from another work tree).
		strataBin = b
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "clustertest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	strataBin = filepath.Join(dir, "strata")
	gobin := "go"
	if g := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		gobin = g
	}
	build := exec.Command(gobin, "build", "-o", strataBin, "strata/cmd/strata")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "clustertest: build strata:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one entry of `strata ctl status --json`.
type node struct {
	Role      string `json:"role"`
	ID        string `json:"id"`
	Addr      string `json:"addr"`
	PID       int    `json:"pid"`
	Metrics   string `json:"metrics"` // the address of its /metrics
	State     string `json:"state"`
	Epoch     uint64 `json:"epoch"`
	Durable   uint64 `json:"durable"`
	Applied   uint64 `json:"applied"`
	Persisted uint64 `json:"persisted"`
	// The writer's archive (docs/history.md).
	Archived     uint64 `json:"archived"`
	ArchiveError string `json:"archive_error"`
}

type statusOut struct {
	Epoch     uint64 `json:"epoch"`
	Nodes     []node `json:"nodes"`
	Placement map[string]struct {
		Default   bool `json:"default"`
		Listed    int  `json:"listed"`
		MovingIn  int  `json:"moving_in"`
		MovingOut int  `json:"moving_out"`
	} `json:"placement"`
}

// cluster is a running `strata up`.
type cluster struct {
	t      *testing.T
	dir    string // the data directory
	addr   string // MySQL
	cmd    *exec.Cmd
	upLog  string
	exited chan struct{}
}

// statSources looks at every file the strata binary is built from: go.mod, go.sum and the
// files under cmd/ and internal/ (testdata aside). The test cache keys this package on its
// own Go inputs, which do not include the binary TestMain builds, but it rechecks the files of
// the module a test looked at: with them, a change anywhere in the binary's sources runs the
// cluster tests again instead of reporting an old result.
func statSources(t *testing.T) {
	sourcesOnce.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err == nil {
			_, err = os.Stat(filepath.Join(root, "go.mod"))
		}
		if err == nil {
			_, err = os.Stat(filepath.Join(root, "go.sum"))
		}
		for _, top := range []string{"cmd", "internal"} {
			if err != nil {
				break
			}
			err = filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
				switch {
				case err != nil:
					return err
				case d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")):
					return filepath.SkipDir
				case d.Type().IsRegular():
					_, err = os.Stat(path)
				}
				return err
			})
		}
		sourcesErr = err
	})
	if sourcesErr != nil {
		t.Fatalf("clustertest: looking at the sources: %v", sourcesErr)
	}
}

var (
	sourcesOnce sync.Once
	sourcesErr  error
)

// startCluster starts `strata up` with a 32 MiB buffer pool on a free port, waits for its
// MySQL address and for every node to be up. Cleanup stops it with SIGTERM and checks that no
// node process survives.
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	statSources(t)
	base := t.TempDir()
	c := &cluster{t: t, dir: filepath.Join(base, "data"), upLog: filepath.Join(base, "up.log"), exited: make(chan struct{})}
	args := append([]string{"up", "--data", c.dir, "--port", "0", "--buffer-pool-mb", "32", "--proxy=false"}, extra...)
	c.cmd = exec.Command(strataBin, args...)
	logf, err := os.Create(c.upLog)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = logf
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_ = c.cmd.Wait()
		logf.Close()
		close(c.exited)
	}()
	t.Cleanup(c.stop)
	select {
	case l := <-lines:
		rest, ok := strings.CutPrefix(l, "strata: serving MySQL on ")
		if !ok {
			t.Fatalf("strata up: first line %q", l)
		}
		c.addr = strings.Fields(rest)[0]
	case <-c.exited:
		t.Fatalf("strata up exited:\n%s", c.tail(c.upLog, 40))
	case <-time.After(120 * time.Second):
		t.Fatalf("strata up not ready after 2m:\n%s", c.tail(c.upLog, 40))
	}
	c.waitAllUp(60 * time.Second)
	t.Logf("cluster up in %v: MySQL on %s, data in %s", time.Since(start).Round(time.Millisecond), c.addr, c.dir)
	return c
}

// stop SIGTERMs strata up and checks that every node process it had is gone.
func (c *cluster) stop() {
	t := c.t
	select {
	case <-c.exited:
	default:
		kids := descendants(c.cmd.Process.Pid)
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(45 * time.Second):
			t.Errorf("strata up did not stop within 45s of SIGTERM; killing it")
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		deadline := time.Now().Add(10 * time.Second)
		for _, pid := range kids {
			for alive(pid) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if alive(pid) {
				t.Errorf("node pid %d survived strata up; killing it", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	// Whatever runs on this data directory is ours and must be gone.
	for _, pid := range processesWith(c.dir) {
		t.Errorf("process %d still runs on %s; killing it", pid, c.dir)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if t.Failed() {
		t.Logf("strata up log:\n%s", c.tail(c.upLog, 60))
		for _, n := range []string{"compute", "logstore-1", "logstore-2", "logstore-3", "pagestore-1"} {
			t.Logf("%s log:\n%s", n, c.tail(filepath.Join(c.dir, "logs", n+".log"), 15))
		}
	}
}

// tail returns the last n lines of a file.
func (c *cluster) tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "…"
		}
	}
	return strings.Join(lines, "\n")
}

// grepLogs returns the lines of the nodes' logs (file names under logs/) that contain one of
// the words, each prefixed with its file, sorted (the lines start with their time).
func (c *cluster) grepLogs(files []string, words ...string) string {
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(c.dir, "logs", f))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			for _, w := range words {
				if strings.Contains(l, w) {
					if len(l) > 300 {
						l = l[:300] + "…"
					}
					out = append(out, l+"  ["+f+"]")
					break
				}
			}
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// status runs `strata ctl status --json`.
func (c *cluster) status() (statusOut, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var st statusOut
	cmd := exec.CommandContext(ctx, strataBin, "ctl", "status", "--json", "--data", c.dir)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return st, fmt.Errorf("strata ctl status: %w: %s", err, ee.Stderr)
		}
		return st, fmt.Errorf("strata ctl status: %w", err)
	}
	if err := json.Unmarshal(out, &st); err != nil {
		return st, fmt.Errorf("strata ctl status --json: %w\n%s", err, out)
	}
	return st, nil
}

func (c *cluster) mustStatus() statusOut {
	c.t.Helper()
	st, err := c.status()
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

// node returns the status entry of the node id.
func (c *cluster) node(id string) node {
	c.t.Helper()
	for _, n := range c.mustStatus().Nodes {
		if n.ID == id {
			return n
		}
	}
	c.t.Fatalf("no node %q in ctl status", id)
	return node{}
}

// waitAllUp waits until every node is up with a live process: the eight of a cluster and its
// read-only nodes.
func (c *cluster) waitAllUp(timeout time.Duration) []node {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := c.mustStatus()
		up := 0
		for _, n := range st.Nodes {
			if n.State == "up" && n.PID != 0 && alive(n.PID) {
				up++
			}
		}
		if up == len(st.Nodes) && up >= 8 {
			return st.Nodes
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster not all up after %v: %+v", timeout, st.Nodes)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kill SIGKILLs the current process of node id and returns its pid.
func (c *cluster) kill(id string) int {
	c.t.Helper()
	n := c.node(id)
	if n.PID == 0 || !alive(n.PID) {
		c.t.Fatalf("node %s has no live process: %+v", id, n)
	}
	if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill %s (pid %d): %v", id, n.PID, err)
	}
	c.t.Logf("SIGKILL %s (pid %d)", id, n.PID)
	return n.PID
}

// waitRestarted waits until node id is up again with a process other than old.
func (c *cluster) waitRestarted(id string, old int, timeout time.Duration) node {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, n := range c.mustStatus().Nodes {
			if n.ID == id && n.State == "up" && n.PID != 0 && n.PID != old && alive(n.PID) {
				return n
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s not restarted within %v", id, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hold keeps node id down (the supervisor does not restart it) until release.
func (c *cluster) hold(id string) {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, "hold", id), nil, 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) release(id string) {
	c.t.Helper()
	if err := os.Remove(filepath.Join(c.dir, "hold", id)); err != nil {
		c.t.Fatal(err)
	}
}

// db opens a connection pool to the cluster's MySQL.
func (c *cluster) db(database string) *sql.DB {
	c.t.Helper()
	db, err := sql.Open("mysql", "root@tcp("+c.addr+")/"+database+"?timeout=3s&readTimeout=60s&writeTimeout=60s&interpolateParams=true")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

// ctl runs `strata ctl ARGS --data DIR` on the cluster and returns its output, trimmed.
func (c *cluster) ctl(args ...string) (string, error) {
	out, err := exec.Command(strataBin, append(append([]string{"ctl"}, args...), "--data", c.dir)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// servedDB opens database d on the node whose address out names (`ctl branch create`'s
// "serves MySQL on ADDR,"), and returns the address too.
func servedDB(t *testing.T, out string) (*sql.DB, string) {
	t.Helper()
	m := regexp.MustCompile(`serves MySQL on (\S+),`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no address in %q", out)
	}
	db, err := sql.Open("mysql", "root@tcp("+m[1]+")/d?timeout=3s&readTimeout=30s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, m[1]
}

// fillRows inserts rows 0..n-1 of 500 to 800 bytes into table t (rowsSchema), 100 a statement.
func (c *cluster) fillRows(db *sql.DB, n int) {
	c.t.Helper()
	for i := 0; i < n; i += 100 {
		var vals []string
		for j := i; j < min(i+100, n); j++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, REPEAT('%c', %d))", j, j*7, 'a'+j%26, 500+j%300))
		}
		c.exec(db, "INSERT INTO t VALUES "+strings.Join(vals, ","))
	}
}

// Schemas of the tables the fault tests share: rowsSchema for loadRows' 1 KB rows (table r and
// its copies), ledgerSchema for the writers' table t.
const (
	rowsSchema   = "(id INT PRIMARY KEY, v BIGINT NOT NULL, pad VARCHAR(1000) NOT NULL)"
	ledgerSchema = "(id BIGINT PRIMARY KEY, v BIGINT NOT NULL)"
)

// newDatabase creates database d and returns a pool of at most conns connections to it (0: no
// limit).
func (c *cluster) newDatabase(conns int) *sql.DB {
	c.t.Helper()
	c.exec(c.db(""), "CREATE DATABASE d")
	db := c.db("d")
	db.SetMaxOpenConns(conns)
	return db
}

func (c *cluster) exec(db *sql.DB, q string, args ...any) {
	c.t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		c.t.Fatalf("%s: %v", q, err)
	}
}

// alive says whether pid is a running process (not a zombie).
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := procStat(pid)
	return err == nil && st.state != "Z"
}

type pstat struct {
	state     string
	ppid      int
	startTick uint64 // field 22: start time in clock ticks after boot
}

// procStat reads /proc/<pid>/stat.
func procStat(pid int) (pstat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return pstat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return pstat{}, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 {
		return pstat{}, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return pstat{state: f[0], ppid: ppid, startTick: start}, nil
}

// startTime returns when pid started, to the clock tick (10 ms).
func startTime(pid int) (time.Time, error) {
	st, err := procStat(pid)
	if err != nil {
		return time.Time{}, err
	}
	b, err := os.ReadFile("/proc/uptime")
	now := time.Now()
	if err != nil {
		return time.Time{}, err
	}
	up, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		return time.Time{}, err
	}
	const clkTck = 100 // USER_HZ on Linux
	age := up - float64(st.startTick)/clkTck
	return now.Add(-time.Duration(age * float64(time.Second))), nil
}

func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// descendants returns the processes whose parent is pid (strata up's nodes).
func descendants(pid int) []int {
	var out []int
	for _, p := range allPIDs() {
		if st, err := procStat(p); err == nil && st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

// childWith returns the child of pid whose command line contains sub, or 0.
func childWith(pid int, sub string) int {
	for _, p := range descendants(pid) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); err == nil &&
			strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), sub) && alive(p) {
			return p
		}
	}
	return 0
}

// processesWith returns the live processes whose command line mentions s.
func processesWith(s string) []int {
	var out []int
	for _, p := range allPIDs() {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); err == nil &&
			strings.Contains(string(b), s) && alive(p) {
			out = append(out, p)
		}
	}
	return out
}
