package sqlstore

import (
	"strings"
	"testing"
)

// TestMysqlCLIPrepare: PREPARE, EXECUTE and DEALLOCATE typed in the mysql client work (the
// client failed on PREPARE's OK packet with "Received malformed packet": see okinfo.go).
func TestMysqlCLIPrepare(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE p")
	out := mysqlCLI(t, n, `
CREATE TABLE p.t (id INT PRIMARY KEY, v VARCHAR(10));
INSERT INTO p.t VALUES (1, 'one'), (2, 'two');
PREPARE s FROM 'SELECT v FROM p.t WHERE id = ?';
SET @a = 2;
EXECUTE s USING @a;
DEALLOCATE PREPARE s;
PREPARE u FROM 'UPDATE p.t SET v = ? WHERE id = 1';
SET @v = 'uno';
EXECUTE u USING @v;
SELECT v FROM p.t WHERE id = 1;
`, "-vv")
	for _, want := range []string{"Statement prepared", "v\ntwo\n", "v\nuno\n", "Rows matched: 1  Changed: 1  Warnings: 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("mysql client output lacks %q:\n%s", want, out)
		}
	}
}
