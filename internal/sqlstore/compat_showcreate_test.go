package sqlstore

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"testing"
)

func showCreate(t *testing.T, db interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, table string) string {
	t.Helper()
	var name, ddl string
	if err := db.QueryRowContext(context.Background(), "SHOW CREATE TABLE "+table).Scan(&name, &ddl); err != nil {
		t.Fatalf("SHOW CREATE TABLE %s: %v", table, err)
	}
	return ddl
}

// TestShowCreateEnumDefault: SHOW CREATE TABLE prints an ENUM or SET default as its label,
// as MySQL does (GMS printed DEFAULT '1' for DEFAULT 'new'), and labels with quotes or
// backslashes as SQL strings (a table with one could not even be created), and its output re-creates the
// same table, in Strata and in MariaDB.
func TestShowCreateEnumDefault(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE sc")
	db := n.connect(t, "sc")
	mustExec(t, db, "CREATE TABLE e (id INT PRIMARY KEY, "+
		"s ENUM('new','old') NOT NULL DEFAULT 'new', o ENUM('x','y') DEFAULT 'y', "+
		"q ENUM('1','2','3') DEFAULT '3', t SET('a','b','c') DEFAULT 'a,c', n ENUM('x','y') DEFAULT NULL, "+
		"r ENUM('it''s','a\\\\b') DEFAULT 'it''s', u SET('x''y','z') DEFAULT 'x''y,z')")
	got := showCreate(t, db, "e")
	for _, want := range []string{
		"`s` enum('new','old') NOT NULL DEFAULT 'new'",
		"`o` enum('x','y') DEFAULT 'y'",
		"`q` enum('1','2','3') DEFAULT '3'",
		"`t` set('a','b','c') DEFAULT 'a,c'",
		"`n` enum('x','y') DEFAULT NULL",
		"`r` enum('it''s','a\\\\b') DEFAULT 'it''s'",
		"`u` set('x''y','z') DEFAULT 'x''y,z'",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("SHOW CREATE TABLE lacks %q:\n%s", want, got)
		}
	}
	if t.Failed() {
		return
	}
	// The output re-creates an equal table.
	mustExec(t, db, "CREATE DATABASE sc2")
	db2 := n.connect(t, "sc2")
	mustExec(t, db2, got)
	if again := showCreate(t, db2, "e"); again != got {
		t.Fatalf("re-created table differs:\n%s\n%s", got, again)
	}
	mustExec(t, db2, "INSERT INTO e (id) VALUES (1)")
	if row := queryRows(t, db2, "SELECT s, o, q, t, n, r, u FROM e"); row != `new,y,3,a,c,NULL,it's,x'y,z` {
		t.Fatalf("defaults of the re-created table: %s", row)
	}

	// MariaDB loads it too. MariaDB 10.11 has no utf8mb4_0900 collations, so the table
	// options are left out.
	maria := startMariaDB(t)
	mustExec(t, maria, "CREATE DATABASE sc")
	cols := regexp.MustCompile(`\) ENGINE=.*$`).ReplaceAllString(got, ")")
	mustExec(t, maria, strings.Replace(cols, "CREATE TABLE `e`", "CREATE TABLE sc.e", 1))
	mustExec(t, maria, "INSERT INTO sc.e (id) VALUES (1)")
	if row := queryRows(t, maria, "SELECT s, o, q, t, n, r, u FROM sc.e"); row != `new,y,3,a,c,NULL,it's,x'y,z` {
		t.Fatalf("defaults of the table in MariaDB: %s", row)
	}
}
