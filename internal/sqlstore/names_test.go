package sqlstore

import (
	"fmt"
	"strings"
	"testing"
)

// TestDeleteInAnotherDatabase: DELETE FROM db.t without WHERE works with no current database,
// and runs db.t's ON DELETE triggers even when the current database has a table t without
// them (GMS turned such a DELETE into a TRUNCATE after checking the wrong database).
func TestDeleteInAnotherDatabase(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (a INT PRIMARY KEY)")
	mustExec(t, root, "INSERT INTO d.t VALUES (1), (2)")
	mustExec(t, root, "DELETE FROM d.t")
	mustExec(t, root, "INSERT INTO d.t VALUES (1), (2), (3)")
	mustExec(t, root, "TRUNCATE d.t")
	if got := queryRows(t, root, "SELECT COUNT(*) FROM d.t"); got != "0" {
		t.Fatalf("rows after DELETE and TRUNCATE: %s", got)
	}

	mustExec(t, root, "CREATE TABLE d.log (a INT)")
	mustExec(t, root, "CREATE TRIGGER d.logdel AFTER DELETE ON d.t FOR EACH ROW INSERT INTO d.log VALUES (OLD.a)")
	mustExec(t, root, "INSERT INTO d.t VALUES (1), (2), (3)")
	mustExec(t, root, "CREATE DATABASE other")
	mustExec(t, root, "CREATE TABLE other.t (a INT PRIMARY KEY)")
	c := n.connect(t, "other")
	c.SetMaxOpenConns(1)
	mustExec(t, c, "DELETE FROM d.t")
	if got := queryRows(t, root, "SELECT COUNT(*) FROM d.log"); got != "3" {
		t.Fatalf("ON DELETE trigger ran for %s rows, want 3", got)
	}
}

func TestInvalidNamesAndTooManyColumns(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	mustExec(t, root, "CREATE DATABASE d")
	mustExec(t, root, "CREATE TABLE d.t (a INT PRIMARY KEY)")
	for _, q := range []string{
		"CREATE DATABASE `x\xff`",
		"CREATE TABLE d.`a\xffb` (i INT)",
		"CREATE TABLE d.u (`c\xfe` INT)",
		"ALTER TABLE d.t ADD COLUMN `c\xfe` INT",
		"ALTER TABLE d.t RENAME TO d.`t\xff`",
		"CREATE INDEX `i\xff` ON d.t (a)",
		"CREATE VIEW d.`v\xff` AS SELECT 1",
	} {
		_, err := root.Exec(q)
		if mysqlCode(err) != 1300 || !strings.Contains(err.Error(), `\xF`) {
			t.Errorf("%q: want 1300, got %v", q, err)
		}
	}
	// MySQL parses ON DELETE/UPDATE SET DEFAULT but does not support it.
	for _, q := range []string{
		"CREATE TABLE d.c (a INT, FOREIGN KEY (a) REFERENCES d.t (a) ON DELETE SET DEFAULT)",
		"CREATE TABLE d.c (a INT, FOREIGN KEY (a) REFERENCES d.t (a) ON UPDATE SET DEFAULT)",
	} {
		if _, err := root.Exec(q); err == nil || !strings.Contains(err.Error(), "SET DEFAULT") {
			t.Errorf("%s: want SET DEFAULT refused, got %v", q, err)
		}
	}
	if got := queryRows(t, root, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'd'"); got != "1" {
		t.Fatalf("tables in d: %s", got)
	}

	cols := func(n int) string {
		c := make([]string, n)
		for i := range c {
			c[i] = fmt.Sprintf("c%d INT", i)
		}
		return strings.Join(c, ", ")
	}
	if _, err := root.Exec("CREATE TABLE d.wide (" + cols(4097) + ")"); mysqlCode(err) != 1117 {
		t.Fatalf("4097 columns: want 1117, got %v", err)
	}
	mustExec(t, root, "CREATE TABLE d.wide ("+cols(4096)+")")
	if _, err := root.Exec("ALTER TABLE d.wide ADD COLUMN extra INT"); mysqlCode(err) != 1117 {
		t.Fatalf("a 4097th column: want 1117, got %v", err)
	}
}
