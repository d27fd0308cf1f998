package sqlstore

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// userConn opens a connection as user (password pw) to database dbname on n.
func (n *node) userConn(t *testing.T, user, pw, dbname string) *sql.DB {
	t.Helper()
	c, err := sql.Open("mysql", fmt.Sprintf("%s:%s@tcp(%s)/%s?timeout=5s", user, pw, n.addr, dbname))
	if err != nil {
		t.Fatal(err)
	}
	c.SetMaxOpenConns(1)
	t.Cleanup(func() { c.Close() })
	return c
}

// wantCode runs q on c (with args, so that go-sql-driver prepares it) and checks the MySQL
// error number.
func wantCode(t *testing.T, c *sql.DB, code uint16, q string, args ...any) {
	t.Helper()
	rows, err := c.Query(q, args...)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	if got := mysqlCode(err); got != code {
		t.Fatalf("%s: want error %d, got %v", q, code, err)
	}
}

func TestFilePrivilegeAndSecureFilePriv(t *testing.T) {
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	n := startNodeEngine(t, filepath.Join(dir, "db"), 0, EngineOptions{SecureFilePriv: files})
	root := n.connect(t, "")
	mustExec(t, root, "CREATE DATABASE app")
	mustExec(t, root, "CREATE TABLE app.t (a VARCHAR(50))")
	mustExec(t, root, "CREATE USER 'u'@'%' IDENTIFIED BY 'pw'")
	mustExec(t, root, "GRANT ALL ON app.* TO 'u'@'%'")
	mustExec(t, root, "CREATE USER 'f'@'%' IDENTIFIED BY 'pw'")
	mustExec(t, root, "GRANT ALL ON app.* TO 'f'@'%'")
	mustExec(t, root, "GRANT FILE ON *.* TO 'f'@'%'")

	inside := filepath.Join(files, "in.txt")
	if err := os.WriteFile(inside, []byte("x\ny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(outside, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(files, "link.txt")); err != nil {
		t.Fatal(err)
	}

	if got := queryRows(t, root, "SELECT @@secure_file_priv"); got != files+"/" {
		t.Fatalf("@@secure_file_priv = %q, want %q", got, files+"/")
	}

	// Without FILE: 1045 for every server-side file access, inside the directory or not.
	u := n.userConn(t, "u", "pw", "app")
	for _, q := range []string{
		"SELECT LOAD_FILE('" + outside + "')",
		"SELECT LOAD_FILE('" + inside + "')",
		"SELECT a FROM t INTO OUTFILE '" + filepath.Join(files, "u.txt") + "'",
		"SELECT a FROM t INTO DUMPFILE '" + filepath.Join(dir, "u.bin") + "'",
	} {
		wantCode(t, u, 1045, q)
	}
	// GMS's own check refuses LOAD DATA INFILE first; its denial is MySQL's 1045 too
	// (errcodes_auth.go).
	wantCode(t, u, 1045, "LOAD DATA INFILE '"+inside+"' INTO TABLE t")
	wantCode(t, u, 1045, "SELECT LOAD_FILE(?)", inside) // prepared
	if _, err := os.Stat(filepath.Join(dir, "u.bin")); !os.IsNotExist(err) {
		t.Fatalf("INTO DUMPFILE without FILE created a file: %v", err)
	}

	// With FILE: confined to secure_file_priv.
	f := n.userConn(t, "f", "pw", "app")
	mustExec(t, f, "INSERT INTO t VALUES ('x'), ('y')")
	if got := queryRows(t, f, "SELECT LOAD_FILE('"+inside+"')"); got != "x\ny\n" {
		t.Fatalf("LOAD_FILE inside: %q", got)
	}
	for _, name := range []string{outside, filepath.Join(files, "link.txt"), files + "/../secret.txt", "/etc/passwd", filepath.Join(files, "missing")} {
		if got := queryRows(t, f, "SELECT LOAD_FILE(?)", name); got != "NULL" {
			t.Fatalf("LOAD_FILE(%s) = %q, want NULL", name, got)
		}
	}
	mustExec(t, f, "SELECT a FROM t INTO OUTFILE '"+filepath.Join(files, "out.txt")+"'")
	if b, err := os.ReadFile(filepath.Join(files, "out.txt")); err != nil || string(b) != "x\ny\n" {
		t.Fatalf("INTO OUTFILE inside: %q %v", b, err)
	}
	for _, q := range []string{
		"SELECT a FROM t INTO OUTFILE '" + filepath.Join(dir, "out.txt") + "'",
		"SELECT a FROM t INTO DUMPFILE '" + files + "/../out.bin'",
		"SELECT a FROM t INTO OUTFILE '" + filepath.Join(files+"-evil", "out.txt") + "'",
		"LOAD DATA INFILE '" + outside + "' INTO TABLE t",
		"LOAD DATA INFILE '" + filepath.Join(files, "link.txt") + "' INTO TABLE t",
	} {
		wantCode(t, f, 1290, q)
	}
	mustExec(t, f, "LOAD DATA INFILE '"+inside+"' INTO TABLE t")
	if got := queryRows(t, f, "SELECT COUNT(*) FROM t"); got != "4" {
		t.Fatalf("LOAD DATA INFILE inside: %s rows", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.txt")); !os.IsNotExist(err) {
		t.Fatalf("INTO OUTFILE outside created a file: %v", err)
	}
}

func TestFilesDisabledByDefault(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir) // no SecureFilePriv: NULL
	root := n.connect(t, "")
	if got := queryRows(t, root, "SELECT @@secure_file_priv"); got != "NULL" {
		t.Fatalf("@@secure_file_priv = %q, want NULL", got)
	}
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := queryRows(t, root, "SELECT LOAD_FILE(?)", secret); got != "NULL" {
		t.Fatalf("LOAD_FILE with secure_file_priv NULL = %q", got)
	}
	wantCode(t, root, 1290, "SELECT 1 INTO OUTFILE '"+filepath.Join(dir, "o.txt")+"'")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (a VARCHAR(10))")
	wantCode(t, root, 1290, "LOAD DATA INFILE '"+secret+"' INTO TABLE d.t")
	// It cannot be changed at run time.
	if _, err := root.Exec("SET GLOBAL secure_file_priv = '/'"); err == nil {
		t.Fatal("SET GLOBAL secure_file_priv succeeded")
	}
}

func TestSetGlobalNeedsSuper(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	mustExec(t, root, "CREATE USER 'u'@'%' IDENTIFIED BY 'pw'")
	mustExec(t, root, "GRANT ALL ON *.* TO 'u'@'%'")
	mustExec(t, root, "REVOKE SUPER ON *.* FROM 'u'@'%'")
	u := n.userConn(t, "u", "pw", "")
	for _, q := range []string{
		"SET GLOBAL innodb_lock_wait_timeout = 7",
		"SET @@global.innodb_lock_wait_timeout = 7",
		"SET PERSIST innodb_lock_wait_timeout = 7",
		"SET innodb_lock_wait_timeout = 3, GLOBAL max_connections = 10",
		"SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED",
	} {
		_, err := u.Exec(q)
		if mysqlCode(err) != 1227 || !strings.Contains(err.Error(), "SUPER or SYSTEM_VARIABLES_ADMIN") {
			t.Fatalf("%s: want 1227, got %v", q, err)
		}
	}
	if got := queryRows(t, root, "SELECT @@global.innodb_lock_wait_timeout"); got != "50" {
		t.Fatalf("global changed by a user without SUPER: %s", got)
	}
	mustExec(t, u, "SET SESSION innodb_lock_wait_timeout = 3")
	mustExec(t, u, "SET @v = 1")
	mustExec(t, root, "SET GLOBAL innodb_lock_wait_timeout = 9")
	if got := queryRows(t, root, "SELECT @@global.innodb_lock_wait_timeout"); got != "9" {
		t.Fatalf("root's SET GLOBAL: %s", got)
	}
	mustExec(t, root, "SET GLOBAL innodb_lock_wait_timeout = 50")
}

// connID returns the connection ID of c's one connection.
func connID(t *testing.T, c *sql.DB) int64 {
	t.Helper()
	var id int64
	if err := c.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestKillNeedsSuper(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.userConn(t, "root", "", "")
	mustExec(t, root, "CREATE USER 'u'@'%' IDENTIFIED BY 'pw'")
	mustExec(t, root, "CREATE USER 'v'@'%' IDENTIFIED BY 'pw'")
	u := n.userConn(t, "u", "pw", "")
	v := n.userConn(t, "v", "pw", "")
	rootID, vID := connID(t, root), connID(t, v)
	for _, q := range []string{"KILL %d", "KILL QUERY %d", "KILL CONNECTION %d"} {
		if _, err := u.Exec(fmt.Sprintf(q, rootID)); err == nil {
			t.Fatalf("u: "+q+" succeeded", rootID)
		}
	}
	if got := queryRows(t, root, "SELECT 1"); got != "1" {
		t.Fatalf("root's connection after u's KILL: %q", got)
	}
	if _, err := root.Exec("KILL 999999"); mysqlCode(err) != 1094 {
		t.Fatalf("KILL of an unknown thread: want 1094, got %v", err)
	}
	mustExec(t, root, fmt.Sprintf("KILL %d", vID))
	if err := v.QueryRow("SELECT 1").Scan(new(int)); err == nil && connID(t, v) == vID {
		t.Fatal("v's connection survived root's KILL")
	}
}
