package main

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// TestUp runs `strata up` as a user would (on a free port), connects with a MySQL driver,
// stops it, and starts it again on the same data directory.
func TestUp(t *testing.T) {
	dir := t.TempDir()
	for round := 0; round < 2; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		root := newRoot()
		root.SetOut(pw)
		root.SetErr(io.Discard)
		root.SetArgs([]string{"up", "--single", "--data", dir, "--port", "0", "--buffer-pool-mb", "16"})
		done := make(chan error, 1)
		go func() {
			done <- root.ExecuteContext(ctx)
			pw.Close()
		}()
		lines := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var addr string
		select {
		case l := <-lines:
			var ok bool
			if addr, ok = strings.CutPrefix(l, "strata: serving MySQL on "); !ok {
				t.Fatalf("first line %q", l)
			}
			addr = strings.Fields(addr)[0]
		case err := <-done:
			t.Fatalf("up stopped: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatal("up did not report ready")
		}
		// The second line is the metrics address.
		var metricsURL string
		select {
		case l := <-lines:
			var ok bool
			if metricsURL, ok = strings.CutPrefix(l, "strata: serving metrics on "); !ok {
				t.Fatalf("second line %q", l)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("up did not print its metrics address")
		}
		before := scrape(t, metricsURL)
		for _, m := range []string{"go_goroutines", "process_resident_memory_bytes", "strata_bufpool_frames"} {
			if _, ok := before[m]; !ok {
				t.Errorf("metric %s missing", m)
			}
		}
		db, err := sql.Open("mysql", "root@tcp("+addr+")/?timeout=5s")
		if err != nil {
			t.Fatal(err)
		}
		// Server-side file access is confined to DATA/files by default.
		var files string
		if err := db.QueryRow("SELECT @@secure_file_priv").Scan(&files); err != nil || files != filepath.Join(dir, "files")+"/" {
			t.Fatalf("@@secure_file_priv = %q, %v; want %s/files/", files, err, dir)
		}
		if round == 0 {
			for _, q := range []string{"CREATE DATABASE kept", "CREATE TABLE kept.t (id INT PRIMARY KEY)",
				"INSERT INTO kept.t VALUES (1), (2)"} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			// The metrics count what happened.
			if _, err := db.Exec("SELECT * FROM kept.nosuch"); err == nil {
				t.Fatal("a missing table was found")
			}
			after := scrape(t, metricsURL)
			for _, m := range []string{"strata_wal_appends_total", "strata_wal_fsyncs_total", "strata_engine_visible_lsn",
				`strata_sql_statements_total{kind="create"}`, `strata_sql_statement_duration_seconds_count{kind="create"}`,
				`strata_sql_statement_errors_total{kind="select"}`, "strata_engine_commits_total",
				"strata_engine_commit_duration_seconds_count", "strata_engine_rows_written_total", "strata_bufpool_hits_total"} {
				if after[m] <= before[m] {
					t.Errorf("%s did not move: %v then %v", m, before[m], after[m])
				}
			}
			for _, m := range []string{"strata_pagestore_getpage_duration_seconds_count", "strata_pagestore_lag_bytes",
				"strata_engine_purge_backlog", "strata_lock_waits_total", "strata_pebble_read_amp", "strata_pebble_disk_usage_bytes"} {
				if _, ok := after[m]; !ok {
					t.Errorf("metric %s missing", m)
				}
			}
			if after[`strata_sql_statement_errors_total{kind="create"}`] != 0 {
				t.Errorf("a CREATE DATABASE that succeeded was counted as an error")
			}
		} else {
			var n int
			if err := db.QueryRow("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'kept'").Scan(&n); err != nil || n != 1 {
				t.Fatalf("database after restart: %d, %v", n, err)
			}
		}
		db.Close()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("up: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("up did not stop")
		}
	}
}

// TestUpRefusesOpenRoot: listening beyond loopback needs a root password.
func TestUpRefusesOpenRoot(t *testing.T) {
	root := newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"up", "--single", "--data", t.TempDir(), "--host", "0.0.0.0", "--port", "0"})
	t.Setenv("STRATA_ROOT_PASSWORD", "")
	err := root.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "root-password") {
		t.Fatalf("want a refusal naming --root-password, got %v", err)
	}
}

// scrape reads a Prometheus text exposition into series (name{labels}, as exposed) → value,
// and name → value of the name's last series.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(f[0], "{")
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		out[name] = v
		out[f[0]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return out
}
