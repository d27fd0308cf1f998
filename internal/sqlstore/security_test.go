package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"strata/internal/localdb"
)

func TestPasswordsTLSAndUsers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := localdb.Open(ctx, localdb.Options{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := Open(ctx, db.DB, quiet)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := st.NewSQLEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetRootPassword(ctx, eng, "s3cret'"); err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := LoadOrCreateTLS(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := st.ServeWith(eng, l, ServeOptions{TLS: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	open := func(user, pw, tlsMode string) *sql.DB {
		c, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/?tls=%s&timeout=5s", user, pw, l.Addr(), tlsMode))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if err := open("root", "", "false").Ping(); mysqlCode(err) != 1045 {
		t.Fatalf("root without the password: want 1045, got %v", err)
	}
	root := open("root", "s3cret'", "skip-verify")
	var cipher string
	if err := root.QueryRow("SHOW STATUS LIKE 'Ssl_cipher'").Scan(new(string), &cipher); err != nil {
		t.Logf("ssl status: %v", err)
	}
	mustExec(t, root, "CREATE DATABASE app")
	mustExec(t, root, "CREATE USER 'nat'@'%' IDENTIFIED WITH mysql_native_password BY 'pw1'")
	mustExec(t, root, "CREATE USER 'sha'@'%' IDENTIFIED WITH caching_sha2_password BY 'pw2'")
	mustExec(t, root, "GRANT SELECT ON app.* TO 'nat'@'%'")
	mustExec(t, root, "GRANT ALL ON app.* TO 'sha'@'%'")
	if err := open("nat", "pw1", "false").Ping(); err != nil {
		t.Fatalf("native password login: %v", err)
	}
	sha := open("sha", "pw2", "skip-verify")
	mustExec(t, sha, "CREATE TABLE app.t (i INT PRIMARY KEY)")
	nat := open("nat", "pw1", "false")
	if _, err := nat.Exec("INSERT INTO app.t VALUES (1)"); err == nil {
		t.Fatal("a SELECT-only user could insert")
	}
	// Users survive a restart.
	srv.Close()
	eng2, err := st.NewSQLEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv2, err := st.ServeWith(eng2, l2, ServeOptions{TLS: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	c, err := sql.Open("mysql", fmt.Sprintf("nat:pw1@tcp(%s)/?timeout=5s", l2.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Ping(); err != nil {
		t.Fatalf("user after restart: %v", err)
	}
}
