package main

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestUpFilesPrivate runs `strata up` (a cluster, then --single) on a data directory that an
// older build left readable by everyone (0755, the secret 0644), writes rows, and walks the
// tree, while the cluster runs and after it stopped: no file or directory is open to group or
// other. The control plane's peer port is on loopback.
func TestUpFilesPrivate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	for _, mode := range []string{"cluster", "single"} {
		t.Run(mode, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			var extra []string
			if mode == "single" {
				extra = []string{"--single"}
			} else {
				secret := filepath.Join(dir, "secret")
				if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(secret, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			up := startUp(t, dir, extra...)
			db, err := sql.Open("mysql", "root@tcp("+up.addr+")/?timeout=5s")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for _, q := range []string{"CREATE DATABASE d", "CREATE TABLE d.t (id INT PRIMARY KEY, v VARCHAR(20))",
				"CREATE USER u IDENTIFIED BY 'pw'"} {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for i := 0; i < 50; i++ {
				if _, err := db.Exec("INSERT INTO d.t VALUES (?, ?)", i, fmt.Sprint("v", i)); err != nil {
					t.Fatal(err)
				}
			}
			if mode == "cluster" {
				waitNodes(t, dir, 10)
				checkPeerOnLoopback(t, dir)
			}
			checkPrivate(t, dir)
			db.Close()
			up.kill()
			checkPrivate(t, dir)
		})
	}
}

// checkPrivate fails t for every file or directory under dir (dir included) that group or
// other may read, write or enter.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while the cluster runs
		}
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		n++
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group or other", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d entries under %s", n, dir)
	}
}

// checkPeerOnLoopback reads the control plane's peer address from its log and checks it is a
// loopback one.
func checkPeerOnLoopback(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "logs", "meta.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`peer="?\[([^\]]*)\]`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no peer address in the meta log:\n%s", b)
	}
	host, _, err := net.SplitHostPort(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("meta peer port on %s, want loopback", m[1])
	}
}
