package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"strata/internal/meta"
)

// upProc is a `strata up` process (the test binary re-run as strata).
type upProc struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{}
	lines  chan string // stdout after the first line (one kept, later ones dropped unread)
}

func startUp(t *testing.T, dir string, extra ...string) *upProc {
	t.Helper()
	p := &upProc{exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append([]string{"up", "--data", dir, "--port", "0", "--buffer-pool-mb", "16"}, extra...)...)
	p.cmd.Env = append(os.Environ(), "STRATA_TEST_MAIN=1")
	var stderr bytes.Buffer
	p.cmd.Stderr = &stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	p.lines = lines
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.kill() })
	select {
	case l := <-lines:
		rest, ok := strings.CutPrefix(l, "strata: serving MySQL on ")
		if !ok {
			t.Fatalf("first line %q", l)
		}
		p.addr = strings.Fields(rest)[0]
	case <-p.exited:
		t.Fatalf("strata up exited:\n%s%s", stderr.String(), nodeLogs(dir))
	case <-time.After(90 * time.Second):
		t.Fatalf("strata up not ready:\n%s%s", stderr.String(), nodeLogs(dir))
	}
	return p
}

// nodeLogs returns the last lines of every node's log under dir, for a failure message.
func nodeLogs(dir string) string {
	paths, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	var b strings.Builder
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "--- %s (last lines):\n%s\n", filepath.Base(path), strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
	return b.String()
}

func (p *upProc) kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func clusterStatus(t *testing.T, dir string) []meta.Node {
	t.Helper()
	var st statusOut
	out := run(t, "ctl", "status", "--json", "--data", dir)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("ctl status --json: %v\n%s", err, out)
	}
	return st.Nodes
}

// waitNodes waits until every node of the cluster is up, and returns them.
func waitNodes(t *testing.T, dir string, want int) []meta.Node {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		nodes := clusterStatus(t, dir)
		up := 0
		for _, n := range nodes {
			if n.State == meta.StateUp && n.PID != 0 {
				up++
			}
		}
		if up == want && len(nodes) == want {
			return nodes
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not all up: %+v", nodes)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestUpCluster runs `strata up` as a user would: the whole cluster as processes. It writes
// through MySQL, lists the nodes with `strata ctl status --json`, SIGKILLs a Log Store
// under writes (no client error; the supervisor restarts it), stops everything with SIGTERM
// (no process left), and starts the cluster again on the same directory (data kept).
func TestUpCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	dir := t.TempDir()
	up := startUp(t, dir)
	db, err := sql.Open("mysql", "root@tcp("+up.addr+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20))"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	nodes := waitNodes(t, dir, 10)
	roles := map[string]int{}
	var victim meta.Node
	for _, n := range nodes {
		roles[n.Role]++
		if n.Role == meta.RoleLogStore && victim.PID == 0 {
			victim = n
		}
	}
	if roles[meta.RoleMeta] != 1 || roles[meta.RoleLogStore] != 3 || roles[meta.RolePageStore] != 3 || roles[meta.RoleRW] != 1 || roles[meta.RoleRO] != 1 || roles[meta.RoleProxy] != 1 {
		t.Fatalf("roles %v", roles)
	}
	// The control plane refuses a client without the cluster secret.
	for _, n := range nodes {
		if n.Role == meta.RoleMeta {
			mc, err := meta.Dial(context.Background(), meta.ClientOptions{Endpoints: []string{n.Addr}, DialTimeout: 2 * time.Second})
			if err == nil {
				_, berr := mc.BumpEpoch(context.Background())
				mc.Close()
				t.Fatalf("etcd at %s accepted a client without the secret (BumpEpoch: %v)", n.Addr, berr)
			}
		}
	}
	// Kill a Log Store while writing: every insert succeeds.
	for i := 0; i < 200; i++ {
		if i == 50 {
			if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec("INSERT INTO d.t VALUES (?, ?)", i, fmt.Sprint("v", i)); err != nil {
			t.Fatalf("insert %d after killing %s: %v", i, victim.ID, err)
		}
	}
	// The supervisor restarts it, with a new process.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var back bool
		for _, n := range clusterStatus(t, dir) {
			if n.ID == victim.ID && n.State == meta.StateUp && n.PID != victim.PID && n.PID != 0 {
				back = true
			}
		}
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not restarted", victim.ID)
		}
		time.Sleep(200 * time.Millisecond)
	}
	nodes = waitNodes(t, dir, 10)
	db.Close()
	up.kill()
	for _, n := range nodes {
		if alive(n.PID) {
			t.Fatalf("%s (pid %d) still running after strata up stopped", n.ID, n.PID)
		}
	}

	// --log-level reaches every node that strata up starts.
	up = startUp(t, dir, "--log-level", "debug")
	db2, err := sql.Open("mysql", "root@tcp("+up.addr+")/?timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	exported := map[string]bool{} // every series name the nodes expose
	for _, n := range waitNodes(t, dir, 10) {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n.PID))
		if err != nil {
			t.Errorf("%s: %v", n.ID, err)
			continue
		}
		if !strings.Contains(string(cmdline), "\x00--log-level\x00DEBUG") {
			t.Errorf("%s was started without --log-level DEBUG: %q", n.ID, cmdline)
		}
		// Every node serves its metrics at the address it publishes.
		// Positive: series that count what already happened (a restart keeps the data, the
		// log's positions and the stores' files). Present: the rest of each role's own.
		positive := map[string][]string{
			meta.RoleMeta:      {"etcd_server_has_leader"},
			meta.RoleLogStore:  {"strata_logstore_durable_lsn", "strata_logstore_epoch"},
			meta.RolePageStore: {"strata_pagestore_consumed_lsn", "strata_pebble_disk_usage_bytes"},
			meta.RoleRW:        {"strata_bufpool_frames", "strata_engine_visible_lsn", "strata_diskcache_slots"},
			meta.RoleRO:        {"strata_bufpool_frames", "strata_replay_view_lsn", "strata_engine_visible_lsn"},
		}[n.Role]
		present := map[string][]string{
			meta.RoleLogStore: {"strata_logstore_fsync_duration_seconds_count", "strata_logstore_append_wait_seconds_count",
				"strata_logstore_first_lsn", "strata_logstore_written_bytes_total"},
			meta.RolePageStore: {"strata_pagestore_getpage_duration_seconds_count", "strata_pagestore_lag_bytes",
				"strata_pagestore_segments", "strata_pagestore_copying_segments", "strata_pebble_compactions_total"},
			meta.RoleRW: {"strata_engine_commit_duration_seconds_count", "strata_lock_waits_total", "strata_engine_purge_backlog",
				"strata_bufpool_second_tier_hits_total", "strata_diskcache_hits_total", "strata_diskcache_rejected_total"},
			meta.RoleRO: {"strata_replay_lag_bytes", "strata_replay_lag_seconds", "strata_replay_groups_total",
				"strata_replay_page_reads_total", "strata_replay_resyncs_total"},
		}[n.Role]
		if n.Metrics == "" {
			t.Errorf("%s publishes no metrics address", n.ID)
			continue
		}
		m := scrape(t, "http://"+n.Metrics+"/metrics")
		for series := range m {
			name, _, _ := strings.Cut(series, "{")
			exported[name] = true
		}
		for _, name := range append(positive, "go_goroutines") {
			if m[name] <= 0 {
				t.Errorf("%s's metrics at %s: %s = %v, want > 0", n.ID, n.Metrics, name, m[name])
			}
		}
		for _, name := range present {
			if _, ok := m[name]; !ok {
				t.Errorf("%s's metrics at %s lack %s", n.ID, n.Metrics, name)
			}
		}
	}
	// The Grafana dashboard reads only what the nodes export.
	checkDashboardMetrics(t, exported)
	var n int
	if err := db2.QueryRow("SELECT count(*) FROM d.t").Scan(&n); err != nil || n != 200 {
		t.Fatalf("rows after restart: %d, %v", n, err)
	}
	up.kill()
}
