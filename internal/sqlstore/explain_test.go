package sqlstore

import (
	"fmt"
	"strings"
	"testing"
)

// TestExplain: plain EXPLAIN answers MySQL's table (GMS: one placeholder row of NULLs), saying
// which index each table access uses and how, and EXPLAIN FORMAT=TREE answers one row, also
// for a primary key lookup (GMS failed with "max1Row iterator returned more than one row").
func TestExplain(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE x")
	db := n.connect(t, "x")
	mustExec(t, db, "CREATE TABLE p (id INT PRIMARY KEY, name VARCHAR(20), KEY name (name))")
	mustExec(t, db, "CREATE TABLE o (id INT PRIMARY KEY, pid INT, v VARCHAR(10), KEY pid (pid))")
	mustExec(t, db, "INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c')")
	mustExec(t, db, "INSERT INTO o VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z')")
	// Each row: id, select_type, table, type, key, key_len, ref, Extra.
	for _, c := range []struct{ q, want string }{
		{"SELECT * FROM p WHERE id = 1", "1,SIMPLE,p,const,PRIMARY,4,const,NULL"},
		{"SELECT * FROM p WHERE id IN (1, 3)", "1,SIMPLE,p,range,PRIMARY,4,NULL,NULL"},
		{"SELECT * FROM p", "1,SIMPLE,p,ALL,NULL,NULL,NULL,NULL"},
		{"SELECT * FROM p WHERE name = 'b'", "1,SIMPLE,p,ref,name,83,const,NULL"},
		{"SELECT * FROM o WHERE pid = 1 AND v = 'x'", "1,SIMPLE,o,ref,pid,5,const,Using where"},
		{"SELECT * FROM p ORDER BY name", "1,SIMPLE,p,index,name,83,NULL,NULL"},
		{"SELECT 1", "1,SIMPLE,NULL,NULL,NULL,NULL,NULL,No tables used"},
		{"SELECT * FROM (SELECT * FROM o WHERE id = 2) d", "1,PRIMARY,<derived2>,ALL,NULL,NULL,NULL,NULL 2,DERIVED,o,const,PRIMARY,4,const,NULL"},
		{"SELECT id, (SELECT MAX(id) FROM o WHERE o.pid = p.id) FROM p", "1,PRIMARY,p,ALL,NULL,NULL,NULL,NULL 2,DEPENDENT SUBQUERY,o,ref,pid,5,x.p.id,Using where"},
	} {
		rows, err := db.Query("EXPLAIN " + c.q)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", c.q, err)
		}
		var got []string
		for rows.Next() {
			var id, selectType, table, partitions, typ, possible, key, keyLen, ref, nrows, filtered, extra nullString
			if err := rows.Scan(&id, &selectType, &table, &partitions, &typ, &possible, &key, &keyLen, &ref, &nrows, &filtered, &extra); err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.Join([]string{id.s(), selectType.s(), table.s(), typ.s(), key.s(), keyLen.s(), ref.s(), extra.s()}, ","))
		}
		rows.Close()
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("EXPLAIN %s:\n got %s\nwant %s", c.q, g, c.want)
		}
	}
	var rows []string
	r, err := db.Query("EXPLAIN FORMAT=TREE SELECT * FROM p WHERE id = 1")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var s string
		if err := r.Scan(&s); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, s)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if len(rows) != 1 || !strings.Contains(rows[0], "IndexedTableAccess(p)") {
		t.Errorf("EXPLAIN FORMAT=TREE: %q, want one row with the plan", rows)
	}
}

// nullString scans a nullable column as text, NULL as "NULL".
type nullString struct {
	v     string
	valid bool
}

func (n *nullString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		n.valid = false
	case []byte:
		n.v, n.valid = string(v), true
	default:
		n.v, n.valid = fmt.Sprint(v), true
	}
	return nil
}

func (n nullString) s() string {
	if !n.valid {
		return "NULL"
	}
	return n.v
}
