package sqlstore

import (
	"bufio"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// dumpSetup is a user database with the objects mysqldump dumps: tables of several types
// (one with a foreign key, one named as a log table of the mysql database), a view, a
// trigger and a procedure. The collation is one MariaDB
// knows too (it has no utf8mb4_0900_ai_ci), so that the dump also loads into MariaDB.
const dumpSetup = `
CREATE DATABASE u1 CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;
USE u1;
CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20), d DATETIME(3), n DECIMAL(6,2),
  b BLOB, e ENUM('x','y') DEFAULT 'y', j JSON, KEY name (name));
INSERT INTO t (name, d, n, b, j) VALUES ('a', '2024-01-02 03:04:05.123', 1.5, x'00ff', '{"a": 1}'),
  ('b''s', NULL, NULL, NULL, NULL), ('long', '2025-06-07 08:09:10', -2.25, REPEAT('z', 30), '[1, 2]');
CREATE TABLE child (id INT PRIMARY KEY, tid INT, FOREIGN KEY (tid) REFERENCES t (id));
INSERT INTO child VALUES (1, 1), (2, 2);
CREATE VIEW v AS SELECT id, name FROM t WHERE id < 3;
CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.name = UPPER(NEW.name);
CREATE PROCEDURE p() SELECT COUNT(*) FROM t;
CREATE TABLE general_log (a INT PRIMARY KEY);
INSERT INTO general_log VALUES (7);
`

// dumpCheck reads back what dumpSetup made, the trigger and procedure included.
const dumpCheck = `
USE u1;
SELECT id, name, d, n, HEX(b), e, j FROM t ORDER BY id;
SELECT * FROM child ORDER BY id;
SELECT * FROM v ORDER BY id;
INSERT INTO t (name) VALUES ('lower');
SELECT name FROM t WHERE id = 4;
CALL p();
SELECT a FROM general_log;
SELECT a FROM u1.general_log;
`

// grantTables are GMS's grant tables (and its help tables and replica table) in the mysql
// database: in-memory views of the privilege store that cannot be dropped or created
// (mysql_db/mysql_db.go), so the DROP TABLE and CREATE TABLE of them in a dump do not load
// into Strata.
var grantTables = map[string]bool{"db": true, "user": true, "tables_priv": true, "procs_priv": true,
	"role_edges": true, "slave_master_info": true, "help_category": true, "help_keyword": true,
	"help_relation": true, "help_topic": true}

// withoutGrantTables returns dump without the sections of the mysql database's grant tables.
func withoutGrantTables(dump string) string {
	curDB := regexp.MustCompile("^-- Current Database: `(.*)`$")
	tableSection := regexp.MustCompile("^-- (?:Table structure for table|Dumping data for table) `(.*)`$")
	var out strings.Builder
	db, skip := "", false
	sc := bufio.NewScanner(strings.NewReader(dump))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if m := curDB.FindStringSubmatch(line); m != nil {
			db, skip = m[1], false
		} else if m := tableSection.FindStringSubmatch(line); m != nil {
			skip = db == "mysql" && grantTables[m[1]]
		} else if strings.HasPrefix(line, "-- Dumping routines") || strings.HasPrefix(line, "-- Dumping events") {
			skip = false
		}
		if !skip {
			out.WriteString(line)
			out.WriteByte('\n')
		}
	}
	return out.String()
}

// TestDumpAllDatabases: MariaDB's mysqldump --all-databases (Debian's mysqldump) dumps
// Strata, mysql.general_log and mysql.slow_log included (it reads their definitions
// unconditionally: they were missing, 1146); the dump loads into a fresh Strata, and a user
// database's dump into MariaDB, with the same contents.
func TestDumpAllDatabases(t *testing.T) {
	dumpBin, err := exec.LookPath("mariadb-dump")
	if err != nil {
		if dumpBin, err = exec.LookPath("mysqldump"); err != nil {
			t.Skip("mysqldump not installed")
		}
	}
	src := startNode(t, t.TempDir())
	mysqlCLI(t, src, dumpSetup)

	// The log tables: MySQL 8's definitions, empty (log_output=FILE).
	got := mysqlCLI(t, src, "SHOW CREATE TABLE mysql.general_log; USE mysql; SHOW CREATE TABLE slow_log; "+
		"SELECT COUNT(*) FROM general_log; SELECT COUNT(*) FROM mysql.slow_log", "-N")
	for _, want := range []string{"`event_time` timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)",
		"`argument` mediumblob NOT NULL", "COMMENT='General log'", "`query_time` time(6) NOT NULL",
		"`sql_text` mediumblob NOT NULL", "COMMENT='Slow log'", "\n0\n0\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log tables: want %q in\n%s", want, got)
		}
	}

	host, port, _ := net.SplitHostPort(src.addr)
	cmd := exec.Command(dumpBin, "-h"+host, "-P"+port, "-uroot", "--all-databases", "--routines", "--triggers", "--events")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mysqldump --all-databases: %v\n%s", err, stderr.String())
	}
	dump := string(out)
	for _, want := range []string{"CREATE TABLE IF NOT EXISTS `general_log`", "CREATE TABLE IF NOT EXISTS `slow_log`",
		"CREATE TABLE `t`", "CREATE TRIGGER", "CREATE PROCEDURE", "VIEW `v`"} {
		if !strings.Contains(dump, want) {
			t.Errorf("the dump has no %q", want)
		}
	}

	// A user database's dump, for MariaDB below.
	userDump, err := exec.Command(dumpBin, "-h"+host, "-P"+port, "-uroot", "--databases", "u1", "--routines", "--triggers").Output()
	if err != nil {
		t.Fatalf("mysqldump u1: %v", err)
	}

	want := mysqlCLI(t, src, dumpCheck, "-N")
	dst := startNode(t, t.TempDir())
	mysqlCLI(t, dst, withoutGrantTables(dump))
	if got := mysqlCLI(t, dst, dumpCheck, "-N"); got != want {
		t.Errorf("restored into Strata:\n%s\nwant\n%s", got, want)
	}
	if got := mysqlCLI(t, dst, "SELECT COUNT(*) FROM mysql.general_log", "-N"); got != "0\n" {
		t.Errorf("mysql.general_log after the restore: %q", got)
	}

	// A user database's dump loads into MariaDB.
	_, mariaAddr := startMariaDBAt(t)
	mysqlCLIAt(t, mariaAddr, string(userDump))
	if got := mysqlCLIAt(t, mariaAddr, dumpCheck, "-N"); got != want {
		t.Errorf("restored into MariaDB:\n%s\nwant\n%s", got, want)
	}
}
