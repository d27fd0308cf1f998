package sqlstore

import "testing"

func TestAlterTable(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	c0 := n.connect(t, "")
	mustExec(t, c0, "CREATE DATABASE a")
	db := n.connect(t, "a")
	mustExec(t, db, "CREATE TABLE p (id INT PRIMARY KEY, label VARCHAR(20), qty INT)")
	mustExec(t, db, "INSERT INTO p VALUES (1, 'x', 5), (2, 'y', 7), (3, 'z', NULL)")
	mustExec(t, db, "ALTER TABLE p ADD COLUMN price DECIMAL(6,2) NOT NULL DEFAULT 1.25 AFTER label")
	if got := queryRows(t, db, "SELECT id, label, price, qty FROM p ORDER BY id"); got != "1,x,1.25,5 2,y,1.25,7 3,z,1.25,NULL" {
		t.Fatalf("add column: %q", got)
	}
	mustExec(t, db, "ALTER TABLE p DROP COLUMN qty")
	mustExec(t, db, "ALTER TABLE p MODIFY COLUMN label VARCHAR(40) NOT NULL")
	mustExec(t, db, "ALTER TABLE p RENAME COLUMN label TO title")
	mustExec(t, db, "CREATE UNIQUE INDEX t_u ON p (title)")
	if _, err := db.Exec("INSERT INTO p (id, title) VALUES (9, 'x')"); mysqlCode(err) != 1062 {
		t.Fatalf("unique index built by ALTER: %v", err)
	}
	if _, err := db.Exec("CREATE UNIQUE INDEX dup ON p (price)"); err == nil {
		t.Fatal("a unique index over duplicate values was created")
	}
	mustExec(t, db, "ALTER TABLE p ADD INDEX pr (price)")
	mustExec(t, db, "ALTER TABLE p DROP INDEX pr")
	mustExec(t, db, "ALTER TABLE p RENAME TO products")
	n.stop()
	n = startNode(t, dir)
	db = n.connect(t, "a")
	if got := queryRows(t, db, "SELECT id, title, price FROM products WHERE title = 'y'"); got != "2,y,1.25" {
		t.Fatalf("after restart: %q", got)
	}
	if got := queryRows(t, db, "SHOW INDEX FROM products"); got == "" {
		t.Fatal("no indexes")
	}
	if got := queryRows(t, db, "SELECT count(*) FROM products"); got != "3" {
		t.Fatalf("rows: %q", got)
	}
}

func TestViewsTriggersProcedures(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	c0 := n.connect(t, "")
	mustExec(t, c0, "CREATE DATABASE v")
	db := n.connect(t, "v")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)")
	mustExec(t, db, "CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, msg VARCHAR(50))")
	mustExec(t, db, "CREATE VIEW big AS SELECT id, v FROM t WHERE v > 10")
	mustExec(t, db, "CREATE TRIGGER t_ins AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (msg) VALUES (CONCAT('insert ', NEW.id))")
	mustExec(t, db, "CREATE PROCEDURE addrow(IN i INT, IN x INT) BEGIN INSERT INTO t VALUES (i, x); END")
	mustExec(t, db, "CALL addrow(1, 5)")
	mustExec(t, db, "CALL addrow(2, 50)")
	n.stop()
	n = startNode(t, dir)
	db = n.connect(t, "v")
	mustExec(t, db, "CALL addrow(3, 500)")
	if got := queryRows(t, db, "SELECT id FROM big ORDER BY id"); got != "2 3" {
		t.Fatalf("view: %q", got)
	}
	if got := queryRows(t, db, "SELECT msg FROM audit ORDER BY id"); got != "insert 1 insert 2 insert 3" {
		t.Fatalf("trigger: %q", got)
	}
	mustExec(t, db, "ALTER TABLE t ADD CONSTRAINT pos CHECK (v >= 0)")
	if _, err := db.Exec("INSERT INTO t VALUES (4, -1)"); err == nil {
		t.Fatal("check constraint not enforced")
	}
}

func TestForeignKeys(t *testing.T) {
	n := startNode(t, t.TempDir())
	c0 := n.connect(t, "")
	mustExec(t, c0, "CREATE DATABASE f")
	db := n.connect(t, "f")
	mustExec(t, db, "CREATE TABLE parent (id INT PRIMARY KEY, v INT)")
	mustExec(t, db, "CREATE TABLE child (id INT PRIMARY KEY, pid INT, FOREIGN KEY (pid) REFERENCES parent(id) ON DELETE CASCADE)")
	mustExec(t, db, "INSERT INTO parent VALUES (1, 1), (2, 2)")
	mustExec(t, db, "INSERT INTO child VALUES (10, 1), (11, 1), (20, 2)")
	if _, err := db.Exec("INSERT INTO child VALUES (30, 3)"); mysqlCode(err) != 1452 {
		t.Fatalf("want 1452 for a missing parent, got %v", err)
	}
	mustExec(t, db, "DELETE FROM parent WHERE id = 1")
	if got := queryRows(t, db, "SELECT id FROM child ORDER BY id"); got != "20" {
		t.Fatalf("cascade: %q", got)
	}
	if got := queryRows(t, db, "SELECT count(*) FROM information_schema.referential_constraints WHERE constraint_schema = 'f'"); got != "1" {
		t.Fatalf("constraints: %q", got)
	}
}
