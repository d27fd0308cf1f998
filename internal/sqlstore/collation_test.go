package sqlstore

import (
	"fmt"
	"strings"
	"testing"
)

// TestDefaultCollation: as in MySQL 8, the server's default collation is
// utf8mb4_0900_ai_ci, so a database, its tables and their string columns created without a
// collation compare case- and accent-insensitively: 'a' = 'A', WHERE name = 'ALICE' finds
// 'alice' by a scan, a secondary index and a primary key, and a unique key refuses 'ALICE'
// beside 'alice'. A database created with COLLATE utf8mb4_0900_bin keeps comparing bytes.
// (GMS's default was utf8mb4_0900_bin: 'a' = 'A' was 0.)
func TestDefaultCollation(t *testing.T) {
	n := startNode(t, t.TempDir())
	root := n.connect(t, "")
	if got, want := queryRows(t, root, "SELECT @@collation_server, @@global.collation_connection, @@collation_database"), "utf8mb4_0900_ai_ci,utf8mb4_0900_ai_ci,utf8mb4_0900_ai_ci"; got != want {
		t.Errorf("collation variables %s, want %s", got, want)
	}
	mustExec(t, root, "CREATE DATABASE ci")
	mustExec(t, root, "CREATE DATABASE cs COLLATE utf8mb4_0900_bin")
	if got, want := queryRows(t, root, "SELECT schema_name, default_collation_name FROM information_schema.schemata WHERE schema_name IN ('ci', 'cs') ORDER BY 1"), "ci,utf8mb4_0900_ai_ci cs,utf8mb4_0900_bin"; got != want {
		t.Errorf("schemata: %s, want %s", got, want)
	}
	for _, c := range []struct {
		db          string
		insensitive bool
	}{{"ci", true}, {"cs", false}} {
		db := n.connect(t, c.db)
		mustExec(t, db, "CREATE TABLE p (name VARCHAR(20) PRIMARY KEY, nick VARCHAR(20), city VARCHAR(20), KEY (nick), UNIQUE KEY (city))")
		mustExec(t, db, "INSERT INTO p VALUES ('alice', 'ali', 'paris'), ('Bob', 'bobby', 'Oslo'), ('éva', 'evi', 'rome')")
		want := func(ci, cs string) string {
			if c.insensitive {
				return ci
			}
			return cs
		}
		for _, q := range []struct{ q, ci, cs string }{
			{"SELECT name FROM p WHERE name = 'ALICE'", "alice", ""},
			{"SELECT name FROM p WHERE nick = 'ALI'", "alice", ""},
			{"SELECT name FROM p WHERE city = 'OSLO'", "Bob", ""},
			{"SELECT name FROM p IGNORE INDEX (nick) WHERE nick = 'BOBBY'", "Bob", ""},
			{"SELECT name FROM p WHERE name = 'eva'", "éva", ""},
			{"SELECT name FROM p WHERE name IN ('BOB', 'nobody')", "Bob", ""},
			{"SELECT name FROM p ORDER BY name", "alice Bob éva", "Bob alice éva"},
		} {
			if got := queryRows(t, db, q.q); got != want(q.ci, q.cs) {
				t.Errorf("%s: %s = %q, want %q", c.db, q.q, got, want(q.ci, q.cs))
			}
		}
		_, err := db.Exec("INSERT INTO p VALUES ('ALICE', 'x', 'y')")
		if c.insensitive && mysqlCode(err) != 1062 {
			t.Errorf("%s: a primary key 'ALICE' beside 'alice': %v, want 1062", c.db, err)
		}
		if !c.insensitive && err != nil {
			t.Errorf("%s: a primary key 'ALICE' beside 'alice': %v", c.db, err)
		}
		_, err = db.Exec("INSERT INTO p VALUES ('carol', 'c', 'PARIS')")
		if c.insensitive && mysqlCode(err) != 1062 {
			t.Errorf("%s: a unique key 'PARIS' beside 'paris': %v, want 1062", c.db, err)
		}
		ddl := queryRows(t, db, "SHOW CREATE TABLE p")
		if !strings.Contains(ddl, "COLLATE="+want("utf8mb4_0900_ai_ci", "utf8mb4_0900_bin")) {
			t.Errorf("%s: SHOW CREATE TABLE: %s", c.db, ddl)
		}
	}
	// String literals take the connection's collation (go-sql-driver asks for
	// utf8mb4_general_ci in its handshake).
	if got := queryRows(t, root, "SELECT 'a' = 'A', 'a' = 'á', @@collation_connection"); got != "1,1,utf8mb4_general_ci" {
		t.Errorf("literals: %s", got)
	}
}

// TestHandshakeCollation: the collation a client names in its handshake sets the
// connection's character sets and collation, as SET NAMES would (GMS ignored it).
func TestHandshakeCollation(t *testing.T) {
	n := startNode(t, t.TempDir())
	for _, c := range []struct{ coll, want string }{
		{"latin1_general_ci", "latin1,latin1,latin1,latin1_general_ci"},
		{"utf8mb4_0900_ai_ci", "utf8mb4,utf8mb4,utf8mb4,utf8mb4_0900_ai_ci"},
		{"utf8mb4_bin", "utf8mb4,utf8mb4,utf8mb4,utf8mb4_bin"},
	} {
		db := openDB(t, fmt.Sprintf("root@tcp(%s)/?collation=%s&timeout=5s", n.addr, c.coll))
		q := "SELECT @@character_set_client, @@character_set_connection, @@character_set_results, @@collation_connection"
		if got := queryRows(t, db, q); got != c.want {
			t.Errorf("collation=%s: %s = %s, want %s", c.coll, q, got, c.want)
		}
	}
	// A binary connection collation compares literals by bytes.
	db := openDB(t, fmt.Sprintf("root@tcp(%s)/?collation=utf8mb4_bin&timeout=5s", n.addr))
	if got := queryRows(t, db, "SELECT 'a' = 'A'"); got != "0" {
		t.Errorf("utf8mb4_bin: 'a' = 'A' is %s, want 0", got)
	}
	// The mysql client names its character set too.
	out := mysqlCLI(t, n, "SELECT @@character_set_client, @@collation_connection;\n", "--default-character-set=latin1")
	if !strings.Contains(out, "latin1\tlatin1_swedish_ci") {
		t.Errorf("mysql --default-character-set=latin1: %q", out)
	}
}
