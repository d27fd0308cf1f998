package proxy

import (
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestMySQLCLI: the mysql command-line client through the proxy: several statements and
// result sets in one string, a database at login, and the node's 1045.
func TestMySQLCLI(t *testing.T) {
	bin, err := exec.LookPath("mysql")
	if err != nil {
		t.Skip("no mysql client installed")
	}
	_, _, p := cluster(t, nil)
	host, port, _ := net.SplitHostPort(p.Addr().String())
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--protocol=TCP", "-h", host, "-P", port, "--connect-timeout=5", "-N", "-B"}, args...)...)
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run("-u", "root", "-e", "CREATE DATABASE d; CREATE TABLE d.t (i INT PRIMARY KEY); INSERT INTO d.t VALUES (1),(2)"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out, err := run("-u", "root", "d", "-e", "SELECT COUNT(*) FROM t; SELECT i FROM t ORDER BY i; SELECT DATABASE()")
	if err != nil || out != "2\n1\n2\nd" {
		t.Fatalf("several result sets: %q %v", out, err)
	}
	out, err = run("-u", "root", "-pwrong", "-e", "SELECT 1")
	if err == nil || !strings.Contains(out, "1045") {
		t.Fatalf("a wrong password: %q %v", out, err)
	}
	// An error in the middle of a multi-statement string stops it there.
	out, err = run("-u", "root", "d", "-e", "INSERT INTO t VALUES (3); INSERT INTO t VALUES (3); INSERT INTO t VALUES (4)")
	if err == nil || !strings.Contains(out, "1062") {
		t.Fatalf("a duplicate key in a multi-statement string: %q %v", out, err)
	}
	if out, err := run("-u", "root", "d", "-e", "SELECT GROUP_CONCAT(i ORDER BY i) FROM t"); err != nil || out != "1,2,3" {
		t.Fatalf("after the failed string: %q %v", out, err)
	}
}
