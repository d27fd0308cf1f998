package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startMariaDB starts a throwaway mariadbd on loopback in a temporary directory, as
// bench/sysbench.sh does, and returns a connection to it as root. The test is skipped when
// MariaDB is not installed.
func startMariaDB(t *testing.T) *sql.DB {
	t.Helper()
	db, _ := startMariaDBAt(t)
	return db
}

// startMariaDBAt is startMariaDB that also returns the server's address.
func startMariaDBAt(t *testing.T) (*sql.DB, string) {
	t.Helper()
	mariadbd, err := exec.LookPath("mariadbd")
	if err != nil {
		t.Skip("mariadbd is not installed")
	}
	installDB, err := exec.LookPath("mariadb-install-db")
	if err != nil {
		t.Skip("mariadb-install-db is not installed")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var user []string
	if os.Getuid() == 0 {
		user = []string{"--user=root"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}, user...)
	if out, err := exec.CommandContext(ctx, installDB, args...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(mariadbd, append([]string{"--no-defaults", "--datadir=" + data,
		"--socket=" + filepath.Join(dir, "sock"), "--pid-file=" + filepath.Join(dir, "pid"),
		fmt.Sprintf("--port=%d", port), "--bind-address=127.0.0.1", "--skip-log-bin"}, user...)...)
	logf, err := os.Create(filepath.Join(dir, "mariadb.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	db, err := sql.Open("mysql", fmt.Sprintf("root@tcp(%s)/?timeout=2s", addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for {
		if err := db.PingContext(ctx); err == nil {
			return db, addr
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "mariadb.log"))
			t.Fatalf("mariadbd exited:\n%s", log)
		case <-ctx.Done():
			t.Fatal("mariadbd did not start in time")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
