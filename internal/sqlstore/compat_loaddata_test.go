package sqlstore

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestLoadDataLocalEscapes: LOAD DATA LOCAL INFILE through go-sql-driver reads the file as
// MySQL does with its default FIELDS ESCAPED BY '\\' (\t is a tab, \\ a backslash, \N NULL,
// an escaped terminator is data) and with ENCLOSED BY; the connection goes on after the
// file. guardConn took the empty packet that ends the file for a command, and GMS's reader
// dropped every backslash.
func TestLoadDataLocalEscapes(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	mustExec(t, root, "SET GLOBAL local_infile = 1")
	t.Cleanup(func() { _, _ = root.Exec("SET GLOBAL local_infile = 0") })
	mustExec(t, root, "CREATE DATABASE ld")
	files := map[string]string{
		"tsv": "1\ta\\tb\tx\n" + // \t in a field
			"2\tc\\\\d\t\\N\n" + // \\ and \N
			"3\te\\nf\tNULL\n" + // \n, and NULL is a string when fields are not enclosed
			"4\tg\\\th\t\\0\n" + // an escaped field terminator
			"5\ti\\\nj\t\n", // an escaped line terminator, and an empty last field
		"csv": "id,s,u\r\n" +
			"1,\"a,b\",NULL\r\n" + // an enclosed terminator; NULL unenclosed is NULL
			"2,\"say \"\"hi\"\"\",\\N\r\n" +
			"3,\"x\\\"y\",\"NULL\"\r\n", // an escaped enclosing character; "NULL" is a string
	}
	for name, body := range files {
		body := body
		mysql.RegisterReaderHandler("compat_"+name, func() io.Reader { return strings.NewReader(body) })
		t.Cleanup(func() { mysql.DeregisterReaderHandler("compat_" + name) })
	}
	db := n.connect(t, "ld")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(20), u VARCHAR(20))")
	mustExec(t, db, "LOAD DATA LOCAL INFILE 'Reader::compat_tsv' INTO TABLE t")
	if got, want := queryRows(t, db, "SELECT id, HEX(s), IFNULL(HEX(u), 'null') FROM t ORDER BY id"),
		fmt.Sprintf("1,%X,78 2,%X,null 3,%X,%X 4,%X,00 5,%X,", "a\tb", `c\d`, "e\nf", "NULL", "g\th", "i\nj"); got != want {
		t.Fatalf("tab-separated:\n got %s\nwant %s", got, want)
	}
	mustExec(t, db, "CREATE TABLE c (id INT PRIMARY KEY, s VARCHAR(20), u VARCHAR(20))")
	mustExec(t, db, `LOAD DATA LOCAL INFILE 'Reader::compat_csv' INTO TABLE c FIELDS TERMINATED BY ',' ENCLOSED BY '"' LINES TERMINATED BY '\r\n' IGNORE 1 LINES`)
	if got, want := queryRows(t, db, "SELECT id, s, IFNULL(u, 'null') FROM c ORDER BY id"),
		`1,a,b,null 2,say "hi",null 3,x"y,NULL`; got != want {
		t.Fatalf("CSV:\n got %s\nwant %s", got, want)
	}
	mustExec(t, root, "SET GLOBAL local_infile = 0")
	_, err := db.Exec("LOAD DATA LOCAL INFILE 'Reader::compat_tsv' INTO TABLE t")
	if code, msg := mysqlErr(err); code != 3948 || msg != "Loading local data is disabled; this must be enabled on both the client and server sides" {
		t.Fatalf("LOAD DATA LOCAL with local_infile off: want 3948, got %v", err)
	}
	if got := queryRows(t, db, "SELECT count(*) FROM t"); got != "5" {
		t.Fatalf("rows after the refused load: %s", got)
	}
}
