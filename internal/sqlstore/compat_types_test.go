package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestUnsignedReals: FLOAT, DOUBLE and DECIMAL columns keep UNSIGNED, and FLOAT(M,D) its
// (M,D), in SHOW CREATE TABLE, SHOW COLUMNS, information_schema.columns and result-set
// metadata, through ALTER TABLE and a restart; a negative value is 1264 in strict mode, 0
// with a warning otherwise, as in MySQL 8.
func TestUnsignedReals(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	db := n.connect(t, "")
	mustExec(t, db, "CREATE DATABASE ur")
	db = n.connect(t, "ur")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, f FLOAT UNSIGNED, d DOUBLE UNSIGNED, "+
		"x DECIMAL(5,2) UNSIGNED, g FLOAT(7,4), h DOUBLE(10,3) UNSIGNED, s FLOAT)")

	wantShow := "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `f` float unsigned,\n  `d` double unsigned,\n" +
		"  `x` decimal(5,2) unsigned,\n  `g` float(7,4),\n  `h` double(10,3) unsigned,\n  `s` float,\n"
	checkShape := func(when string) {
		t.Helper()
		if got := queryRows(t, db, "SHOW CREATE TABLE t"); !strings.Contains(got, wantShow) {
			t.Errorf("%s: SHOW CREATE TABLE:\n%s\nwant it to contain\n%s", when, got, wantShow)
		}
		got := queryRows(t, db, "SELECT column_name, column_type, numeric_precision, numeric_scale FROM information_schema.columns "+
			"WHERE table_schema = 'ur' AND table_name = 't' ORDER BY ordinal_position")
		want := "id,int,10,0 f,float unsigned,12,NULL d,double unsigned,22,NULL x,decimal(5,2) unsigned,5,2 " +
			"g,float(7,4),7,4 h,double(10,3) unsigned,10,3 s,float,12,NULL"
		if got != want {
			t.Errorf("%s: information_schema.columns:\n got %s\nwant %s", when, got, want)
		}
	}
	checkShape("after CREATE TABLE")
	rows, err := db.Query("SHOW COLUMNS FROM t")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for rows.Next() {
		var f, typ string
		var null, key, def, extra any
		if err := rows.Scan(&f, &typ, &null, &key, &def, &extra); err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
	}
	rows.Close()
	if got := strings.Join(types, ","); got != "int,float unsigned,double unsigned,decimal(5,2) unsigned,float(7,4),double(10,3) unsigned,float" {
		t.Errorf("SHOW COLUMNS types: %s", got)
	}

	// Result-set metadata: UNSIGNED, and FLOAT(7,4)'s scale as go-sql-driver reads it.
	rows, err = db.Query("SELECT f, d, x, g, s FROM t")
	if err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if p, s, ok := cts[3].DecimalSize(); !ok || p != math.MaxInt64 || s != 4 {
		t.Errorf("FLOAT(7,4) DecimalSize = %d, %d, %v; want MaxInt64, 4", p, s, ok)
	}
	if p, s, ok := cts[4].DecimalSize(); !ok || p != math.MaxInt64 || s != math.MaxInt64 {
		t.Errorf("FLOAT DecimalSize = %d, %d, %v; want not fixed", p, s, ok)
	}
	if p, s, ok := cts[2].DecimalSize(); !ok || p != 4 && p != 5 || s != 2 {
		// MySQL sends DECIMAL(5,2) UNSIGNED with length 6 (no sign), which go-sql-driver reads as precision 4.
		t.Errorf("DECIMAL(5,2) UNSIGNED DecimalSize = %d, %d, %v", p, s, ok)
	}
	// The column definitions: UNSIGNED (32) on f, d, x, h; FLOAT(7,4) length 7, decimals 4;
	// DECIMAL(5,2) UNSIGNED length 6 (no sign), as MySQL sends them.
	meta := queryColumns(t, n.addr, "SELECT f, d, x, g, h, s FROM ur.t")
	var shapes []string
	for _, c := range meta {
		shapes = append(shapes, fmt.Sprintf("%s:%d/%d/%d", c.name, c.flags&32, c.length, c.decimals))
	}
	if got := strings.Join(shapes, " "); got != "f:32/12/31 d:32/22/31 x:32/6/2 g:0/7/4 h:32/10/3 s:0/12/31" {
		t.Errorf("column definitions (unsigned/length/decimals): %s", got)
	}

	// Values: 0 and positive go in; a negative one is 1264 in strict mode (the default).
	mustExec(t, db, "INSERT INTO t (id, f, d, x, h) VALUES (1, 0, 0, 0, 0), (2, 1.5, 2.5, 3.25, 4.5)")
	ctx := context.Background()
	for _, q := range []string{
		"INSERT INTO t (id, f) VALUES (3, -1.5)",
		"INSERT INTO t (id, d) VALUES (3, 1), (4, -1.5)",
		"INSERT INTO t (id, x) VALUES (3, -1.5)",
		"UPDATE t SET f = f - 1 ORDER BY id",
		"INSERT INTO t (id, h) SELECT 10, -h - 1 FROM t WHERE id = 2",
	} {
		_, err := db.ExecContext(ctx, q)
		var me *mysql.MySQLError
		if err == nil || !errors.As(err, &me) || me.Number != 1264 || me.SQLState != [5]byte{'2', '2', '0', '0', '3'} ||
			!strings.HasPrefix(me.Message, "Out of range value for column '") || !strings.HasSuffix(me.Message, "' at row 1") &&
			!strings.HasSuffix(me.Message, "' at row 2") {
			t.Errorf("%s: %v, want 1264 (22003) Out of range value for column …", q, err)
		}
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t (id, d) VALUES (3, 1), (4, -1.5)"); err == nil ||
		err.(*mysql.MySQLError).Message != "Out of range value for column 'd' at row 2" {
		t.Errorf("second row: %v", err)
	}
	// (MySQL prints a DOUBLE(10,3) with 3 decimals, 4.500; GMS prints the value, 4.5.)
	if got := queryRows(t, db, "SELECT id, f, d, x, h FROM t ORDER BY id"); got != "1,0,0,0.00,0 2,1.5,2.5,3.25,4.5" {
		t.Errorf("rows: %s", got)
	}
	// Not strict: 0 and a warning 1264.
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, "SET sql_mode = ''")
	mustExec(t, conn, "INSERT INTO t (id, f) VALUES (5, -2)")
	if got := queryRows(t, conn, "SHOW WARNINGS"); got != "Warning,1264,Out of range value for column 'f' at row 1" {
		t.Errorf("warnings: %s", got)
	}
	if got := queryRows(t, conn, "SELECT f FROM t WHERE id = 5"); got != "0" {
		t.Errorf("clipped: %s", got)
	}
	mustExec(t, conn, "SET sql_mode = DEFAULT")
	// INSERT IGNORE and UPDATE IGNORE: 0 and a warning, in strict mode too.
	mustExec(t, conn, "INSERT IGNORE INTO t (id, f) VALUES (6, 1), (7, -3)")
	if got := queryRows(t, conn, "SHOW WARNINGS"); got != "Warning,1264,Out of range value for column 'f' at row 2" {
		t.Errorf("INSERT IGNORE warnings: %s", got)
	}
	mustExec(t, conn, "UPDATE IGNORE t SET f = f - 2 WHERE id = 6")
	if got := queryRows(t, conn, "SELECT id, f FROM t WHERE id >= 5 ORDER BY id"); got != "5,0 6,0 7,0" {
		t.Errorf("IGNORE rows: %s", got)
	}
	mustExec(t, conn, "DELETE FROM t WHERE id >= 5")
	conn.Close()

	// ALTER TABLE keeps the columns it does not change, and RENAME COLUMN the renamed one; a
	// MODIFY that drops UNSIGNED drops it.
	mustExec(t, db, "ALTER TABLE t ADD COLUMN z INT")
	mustExec(t, db, "ALTER TABLE t RENAME COLUMN z TO z2")
	mustExec(t, db, "ALTER TABLE t DROP COLUMN z2")
	checkShape("after ALTER TABLE")
	mustExec(t, db, "ALTER TABLE t RENAME COLUMN f TO f2")
	if got := queryRows(t, db, "SHOW CREATE TABLE t"); !strings.Contains(got, "`f2` float unsigned,") {
		t.Errorf("after RENAME COLUMN: %s", got)
	}
	mustExec(t, db, "ALTER TABLE t RENAME COLUMN f2 TO f")
	mustExec(t, db, "ALTER TABLE t ADD COLUMN y FLOAT UNSIGNED AFTER s")
	mustExec(t, db, "ALTER TABLE t MODIFY y FLOAT")
	if got := queryRows(t, db, "SHOW CREATE TABLE t"); !strings.Contains(got, "`y` float,") {
		t.Errorf("after MODIFY: %s", got)
	}
	mustExec(t, db, "ALTER TABLE t DROP COLUMN y")
	if _, err := db.ExecContext(ctx, "ALTER TABLE t MODIFY s FLOAT UNSIGNED"); err != nil {
		t.Errorf("MODIFY s FLOAT UNSIGNED: %v", err)
	}
	mustExec(t, db, "ALTER TABLE t MODIFY s FLOAT")

	// CREATE TABLE … LIKE and … AS SELECT copy the declared types.
	mustExec(t, db, "CREATE TABLE tl LIKE t")
	if got := queryRows(t, db, "SHOW CREATE TABLE tl"); !strings.Contains(got, strings.Replace(wantShow, "`t`", "`tl`", 1)) {
		t.Errorf("LIKE: %s", got)
	}
	mustExec(t, db, "CREATE TABLE ts AS SELECT f, x, g, s FROM t")
	if got := queryRows(t, db, "SHOW CREATE TABLE ts"); !strings.Contains(got,
		"`f` float unsigned,\n  `x` decimal(5,2) unsigned,\n  `g` float(7,4),\n  `s` float\n") {
		t.Errorf("AS SELECT: %s", got)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO ts (f) VALUES (-1)"); mysqlCode(err) != 1264 {
		t.Errorf("AS SELECT copy: %v, want 1264", err)
	}

	// FLOAT(M,D) with D > M is MySQL's 1427.
	if _, err := db.ExecContext(ctx, "CREATE TABLE bad (f FLOAT(3,5))"); mysqlCode(err) != 1427 {
		t.Errorf("FLOAT(3,5): %v, want 1427", err)
	}

	// Everything survives a restart.
	n.stop()
	n = startNode(t, dir)
	db = n.connect(t, "ur")
	checkShape("after restart")
	if _, err := db.ExecContext(ctx, "INSERT INTO t (id, f) VALUES (9, -1)"); mysqlCode(err) != 1264 {
		t.Errorf("after restart: %v, want 1264", err)
	}
}

// TestInfoSchemaTextLengths: information_schema.columns gives TEXT and BLOB columns their
// byte limits as both lengths, as MySQL 8 does (GMS divided TEXT's by the character set's
// longest character).
func TestInfoSchemaTextLengths(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	mustExec(t, db, "CREATE DATABASE tl")
	mustExec(t, db, "CREATE TABLE tl.t (a TINYTEXT, b TEXT, c MEDIUMTEXT, d LONGTEXT, e TINYBLOB, f BLOB, g MEDIUMBLOB, "+
		"h LONGBLOB, i TEXT CHARACTER SET latin1, j VARCHAR(10))")
	got := queryRows(t, db, "SELECT column_name, character_maximum_length, character_octet_length FROM information_schema.columns "+
		"WHERE table_schema = 'tl' ORDER BY ordinal_position")
	want := "a,255,255 b,65535,65535 c,16777215,16777215 d,4294967295,4294967295 e,255,255 f,65535,65535 " +
		"g,16777215,16777215 h,4294967295,4294967295 i,65535,65535 j,10,40"
	if got != want {
		t.Errorf("lengths:\n got %s\nwant %s", got, want)
	}
}

// TestInfoSchemaSchemata: information_schema.schemata lists the databases SHOW DATABASES
// lists, mysql included.
func TestInfoSchemaSchemata(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	mustExec(t, db, "CREATE DATABASE sch")
	show := queryRows(t, db, "SHOW DATABASES")
	got := queryRows(t, db, "SELECT schema_name FROM information_schema.schemata ORDER BY schema_name")
	if got != show || !strings.Contains(got, "mysql") {
		t.Errorf("schemata %q, SHOW DATABASES %q", got, show)
	}
	if got := queryRows(t, db, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'mysql'"); got != "1" {
		t.Errorf("mysql rows: %s", got)
	}
	// A user without privileges on mysql sees it in neither.
	mustExec(t, db, "CREATE USER 'u'@'%' IDENTIFIED BY 'p'")
	mustExec(t, db, "GRANT SELECT ON sch.* TO 'u'@'%'")
	u := n.userConn(t, "u", "p", "")
	show = queryRows(t, u, "SHOW DATABASES")
	got = queryRows(t, u, "SELECT schema_name FROM information_schema.schemata ORDER BY schema_name")
	if got != show {
		t.Errorf("user u: schemata %q, SHOW DATABASES %q", got, show)
	}
}

// TestIntegerOutOfRange: integer +, - and * are computed in BIGINT, UNSIGNED when either
// operand is, and a result out of range is MySQL's 1690, worded as MySQL words it.
func TestIntegerOutOfRange(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	mustExec(t, db, "CREATE DATABASE ar")
	db = n.connect(t, "ar")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, u INT UNSIGNED, b BIGINT)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 0, 9223372036854775807), (2, 5, 0)")
	ctx := context.Background()
	for _, c := range []struct{ q, msg string }{
		{"SELECT CAST(0 AS UNSIGNED) - 1", "BIGINT UNSIGNED value is out of range in '(cast(0 as unsigned) - 1)'"},
		{"SELECT 9223372036854775807 + 1", "BIGINT value is out of range in '(9223372036854775807 + 1)'"},
		{"SELECT -9223372036854775807 - 2", "BIGINT value is out of range in '(-9223372036854775807 - 2)'"},
		{"SELECT 4294967296 * 4294967296", "BIGINT value is out of range in '(4294967296 * 4294967296)'"},
		{"SELECT 18446744073709551615 + 1", "BIGINT UNSIGNED value is out of range in '(18446744073709551615 + 1)'"},
		{"SELECT (SELECT CAST(0 AS UNSIGNED) - 1)", "BIGINT UNSIGNED value is out of range in '(cast(0 as unsigned) - 1)'"},
		{"SELECT b + 1 FROM t WHERE id = 1", "BIGINT value is out of range in '(`ar`.`t`.`b` + 1)'"},
		{"UPDATE t SET u = u - 1", "BIGINT UNSIGNED value is out of range in '(`ar`.`t`.`u` - 1)'"},
		{"INSERT INTO t SELECT 3, u - 1, 0 FROM t WHERE id = 1", "BIGINT UNSIGNED value is out of range in '(`ar`.`t`.`u` - 1)'"},
		{"INSERT INTO t VALUES (1, 0, 0) ON DUPLICATE KEY UPDATE u = u - 1", "BIGINT UNSIGNED value is out of range in '(`ar`.`t`.`u` - 1)'"},
	} {
		_, err := db.ExecContext(ctx, c.q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1690 || string(me.SQLState[:]) != "22003" || me.Message != c.msg {
			t.Errorf("%s: %v, want 1690 (22003) %s", c.q, err, c.msg)
		}
	}
	// Through a prepared statement too.
	if _, err := db.ExecContext(ctx, "SELECT ? - CAST(1 AS UNSIGNED)", 0); mysqlCode(err) != 1690 {
		t.Errorf("prepared: %v, want 1690", err)
	}
	// In range, mixed signs work as in MySQL, and the result of an unsigned operand is unsigned.
	if got := queryRows(t, db, "SELECT CAST(5 AS UNSIGNED) + (-1), 2 * 3 - 10, 9223372036854775807 + 0, "+
		"CAST(9223372036854775807 AS UNSIGNED) + 1, -9223372036854775807 - 1, u - 0 FROM t WHERE id = 2"); got !=
		"4,-4,9223372036854775807,9223372036854775808,-9223372036854775808,5" {
		t.Errorf("in range: %s", got)
	}
	meta := queryColumns(t, n.addr, "SELECT u + 1, b + 1, 1 + 1 FROM ar.t WHERE id = 2")
	if meta[0].flags&32 == 0 || meta[1].flags&32 != 0 || meta[2].flags&32 != 0 {
		t.Errorf("UNSIGNED flags: %+v", meta)
	}
	// Nothing changed.
	if got := queryRows(t, db, "SELECT id, u, b FROM t ORDER BY id"); got != "1,0,9223372036854775807 2,5,0" {
		t.Errorf("rows: %s", got)
	}
	// In a trigger, as MySQL prints its row.
	mustExec(t, db, "CREATE TRIGGER trg BEFORE UPDATE ON t FOR EACH ROW SET NEW.b = NEW.u - 1")
	if _, err := db.ExecContext(ctx, "UPDATE t SET b = 1 WHERE id = 1"); err == nil ||
		err.(*mysql.MySQLError).Message != "BIGINT UNSIGNED value is out of range in '(`new`.`u` - 1)'" {
		t.Errorf("trigger: %v", err)
	}
}

// TestUpdateOutOfRange: UPDATE … SET of a value out of an integer column's range is 1264 in
// strict mode, as INSERT's is, where GMS stored it wrapped or clamped; outside strict mode a
// negative value for an UNSIGNED column is 0.
func TestUpdateOutOfRange(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	mustExec(t, db, "CREATE DATABASE uo")
	db = n.connect(t, "uo")
	mustExec(t, db, "CREATE TABLE t (id INT PRIMARY KEY, u INT UNSIGNED, i INT, ti TINYINT)")
	mustExec(t, db, "INSERT INTO t VALUES (1, 1, 1, 1), (2, 2, 2, 2)")
	ctx := context.Background()
	for _, c := range []struct{ q, msg string }{
		{"UPDATE t SET u = -1", "Out of range value for column 'u' at row 1"},
		{"UPDATE t SET i = 2147483648 WHERE id = 2", "Out of range value for column 'i' at row 1"},
		{"UPDATE t SET ti = ti + 200 ORDER BY id", "Out of range value for column 'ti' at row 1"},
		{"INSERT INTO t VALUES (1, 0, 0, 0) ON DUPLICATE KEY UPDATE u = -3", "Out of range value for column 'u' at row 1"},
	} {
		_, err := db.ExecContext(ctx, c.q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != 1264 || string(me.SQLState[:]) != "22003" || me.Message != c.msg {
			t.Errorf("%s: %v, want 1264 (22003) %s", c.q, err, c.msg)
		}
	}
	if got := queryRows(t, db, "SELECT id, u, i, ti FROM t ORDER BY id"); got != "1,1,1,1 2,2,2,2" {
		t.Errorf("rows: %s", got)
	}
	mustExec(t, db, "UPDATE t SET u = u + 1, i = i * 2, ti = DEFAULT WHERE id = 1")
	if got := queryRows(t, db, "SELECT id, u, i, ti FROM t ORDER BY id"); got != "1,2,2,NULL 2,2,2,2" {
		t.Errorf("rows after an update in range: %s", got)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, conn, "SET sql_mode = ''")
	mustExec(t, conn, "UPDATE t SET u = -1 WHERE id = 2")
	if got := queryRows(t, conn, "SELECT u FROM t WHERE id = 2"); got != "0" {
		t.Errorf("not strict: u = %s, want 0", got)
	}
}
