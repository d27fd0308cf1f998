package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var tpcc = flag.Bool("tpcc", false, "run go-tpc's TPC-C (1 warehouse, 20 s, then its consistency check) against strata up --single and strata up; needs the go-tpc binary (GO_TPC, PATH or GOPATH/bin)")

// goTPC finds the go-tpc binary, a tool and never a dependency of the module.
func goTPC(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("GO_TPC"); p != "" {
		return p
	}
	if p, err := exec.LookPath("go-tpc"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	if p := filepath.Join(gopath, "bin", "go-tpc"); gopath != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("go-tpc not found: go install github.com/pingcap/go-tpc/cmd/go-tpc@v1.0.7, or set GO_TPC")
	return ""
}

// TestTPCC runs a short TPC-C, as a user of go-tpc would, against one process and against
// the local cluster: prepare, 20 s of the five transactions on 4 connections, and every
// consistency check, which must pass. Behind -tpcc (about 3 minutes); bench/tpcc.sh measures
// the same against MariaDB.
func TestTPCC(t *testing.T) {
	if !*tpcc {
		t.Skip("-tpcc runs go-tpc's TPC-C")
	}
	bin := goTPC(t)
	for _, mode := range []struct {
		name  string
		extra []string
	}{{"single", []string{"--single", "--buffer-pool-mb", "256"}}, {"cluster", []string{"--buffer-pool-mb", "256", "--proxy=false"}}} {
		t.Run(mode.name, func(t *testing.T) {
			up := startUp(t, t.TempDir(), mode.extra...)
			db, err := sql.Open("mysql", "root@tcp("+up.addr+")/")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE DATABASE tpcc"); err != nil {
				t.Fatal(err)
			}
			host, port, _ := strings.Cut(up.addr, ":")
			common := []string{"--warehouses", "1", "-D", "tpcc", "-H", host, "-P", port, "-U", "root"}
			goTPCRun := func(limit time.Duration, args ...string) string {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), limit)
				defer cancel()
				var out bytes.Buffer
				cmd := exec.CommandContext(ctx, bin, append(args, common...)...)
				cmd.Stdout, cmd.Stderr = &out, &out
				start := time.Now()
				if err := cmd.Run(); err != nil {
					t.Fatalf("go-tpc %s: %v after %s\n%s", strings.Join(args, " "), err, time.Since(start).Round(time.Second), tail(out.String(), 30))
				}
				t.Logf("go-tpc %s: %s", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
				return out.String()
			}
			goTPCRun(5*time.Minute, "tpcc", "prepare", "-T", "4", "--no-check")
			out := goTPCRun(2*time.Minute, "tpcc", "run", "-T", "4", "--time", "20s")
			m := regexp.MustCompile(`tpmC: ([0-9.]+)`).FindStringSubmatch(out)
			if m == nil || m[1] == "0.0" {
				t.Fatalf("no transactions:\n%s", tail(out, 30))
			}
			t.Logf("tpmC %s", m[1])
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "_ERR") && strings.HasPrefix(l, "[Summary]") {
					t.Logf("%s", l) // NEW_ORDER_ERR is TPC-C's 1% of orders with an unknown item
				}
			}
			goTPCRun(10*time.Minute, "tpcc", "check", "-T", "1")
		})
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
