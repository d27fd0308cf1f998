package sqlstore

import (
	"strings"
	"testing"
)

// TestTriggerOfAnotherDatabase: a trigger fires, and is listed in
// information_schema.TRIGGERS, whatever the current database (GMS parsed the trigger in it:
// 1146 or 1046); SHOW CREATE TRIGGER gives the statement as written and the database's
// collation.
func TestTriggerOfAnotherDatabase(t *testing.T) {
	n := startNode(t, t.TempDir())
	mysqlCLI(t, n, "CREATE DATABASE u3 COLLATE utf8mb4_general_ci; USE u3; CREATE TABLE t (a VARCHAR(5)); "+
		"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = UPPER(NEW.a)")
	mysqlCLI(t, n, "INSERT INTO u3.t VALUES ('x')")
	mysqlCLI(t, n, "INSERT INTO u3.t VALUES ('y')", "mysql")
	if got := mysqlCLI(t, n, "SELECT a FROM u3.t ORDER BY a", "-N"); got != "X\nY\n" {
		t.Errorf("rows: %q", got)
	}
	if got := mysqlCLI(t, n, "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS", "-N", "mysql"); got != "u3\ttr\tt\n" {
		t.Errorf("information_schema.TRIGGERS: %q", got)
	}
	got := strings.Split(mysqlCLI(t, n, "SHOW CREATE TRIGGER tr", "-N", "u3"), "\t")
	if len(got) != 7 || got[2] != "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = UPPER(NEW.a)" ||
		got[5] != "utf8mb4_general_ci" {
		t.Errorf("SHOW CREATE TRIGGER: %q", got)
	}
}
