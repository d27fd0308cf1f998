package sqlstore

import (
	"bytes"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// mysqlCLI runs Debian's mysql client (MariaDB's) against the node; the test is skipped when
// the client is not installed (.ci/run installs it).
func mysqlCLI(t *testing.T, n *node, stdin string, args ...string) string {
	t.Helper()
	return mysqlCLIAt(t, n.addr, stdin, args...)
}

// mysqlCLIAt is mysqlCLI against the server at addr.
func mysqlCLIAt(t *testing.T, addr, stdin string, args ...string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	bin, err := exec.LookPath("mysql")
	if err != nil {
		t.Skip("mysql client not installed")
	}
	cmd := exec.Command(bin, append([]string{"-h" + host, "-P" + port, "-uroot", "--batch"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("mysql %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

func TestMysqlCLIAndDumpRestore(t *testing.T) {
	n := startNode(t, t.TempDir())
	mysqlCLI(t, n, `
CREATE DATABASE src;
USE src;
CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(30), created DATETIME, price DECIMAL(8,2), note TEXT, KEY n (name));
INSERT INTO t (name, created, price, note) VALUES ('a', '2024-01-02 03:04:05', 1.5, 'x'), ('b''s', '2025-06-07 08:09:10', NULL, REPEAT('long ', 500));
CREATE TABLE child (id INT PRIMARY KEY, tid INT, FOREIGN KEY (tid) REFERENCES t(id));
INSERT INTO child VALUES (1, 1), (2, 2);
`)
	dumpBin, err := exec.LookPath("mariadb-dump")
	if err != nil {
		if dumpBin, err = exec.LookPath("mysqldump"); err != nil {
			t.Skip("mysqldump not installed")
		}
	}
	host, port, _ := net.SplitHostPort(n.addr)
	dump, err := exec.Command(dumpBin, "-h"+host, "-P"+port, "-uroot", "src").Output()
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	mysqlCLI(t, n, "CREATE DATABASE dst")
	mysqlCLI(t, n, string(dump), "dst")
	q := "SELECT id, name, created, price, length(note) FROM %s.t ORDER BY id; SELECT * FROM %s.child ORDER BY id"
	src := mysqlCLI(t, n, strings.ReplaceAll(q, "%s", "src"))
	dst := mysqlCLI(t, n, strings.ReplaceAll(q, "%s", "dst"))
	if src != dst || !strings.Contains(src, "b's") {
		t.Fatalf("restored data differs:\n%s\nvs\n%s", src, dst)
	}
}
