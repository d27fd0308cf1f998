package clustertest

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// checksum returns a digest of table t's rows (as of asOf, when not empty) read through q.
func checksum(t *testing.T, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, asOf string) string {
	t.Helper()
	rows, err := q.Query("SELECT id, v, pad FROM t" + asOf + " ORDER BY id") // asOf may also be a name suffix
	if err != nil {
		t.Fatalf("checksum%s: %v", asOf, err)
	}
	defer rows.Close()
	h := sha256.New()
	n := 0
	for rows.Next() {
		var id, v int64
		var pad string
		if err := rows.Scan(&id, &v, &pad); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d:%d:%s;", id, v, pad)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("checksum%s: %v", asOf, err)
	}
	return fmt.Sprintf("%d rows %s", n, hex.EncodeToString(h.Sum(nil))[:16])
}

// TestAsOfCluster: during a random workload (inserts that split leaves, deletes that merge
// them, rewrites, an index added, the purge running), the table's checksum is recorded at
// many moments; AS OF each moment returns exactly that checksum on the read-write node and
// on a read-only node, long after. `ctl history` shows and changes the window.
func TestAsOfCluster(t *testing.T) {
	c := startCluster(t)
	db := c.newDatabase(1)
	c.exec(db, "CREATE TABLE t "+rowsSchema)
	rng := rand.New(rand.NewPCG(11, 12))
	pad := func() string { return strings.Repeat(string(rune('a'+rng.IntN(26))), 200+rng.IntN(600)) }
	type mark struct{ at, sum string }
	var marks []mark
	var snapSum string
	for round := range 12 {
		for range 40 {
			id := rng.IntN(600)
			switch r := rng.IntN(10); {
			case r < 5:
				c.exec(db, "INSERT INTO t VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE v = v + 1, pad = VALUES(pad)", id, rng.Int64N(1000), pad())
			case r < 8:
				c.exec(db, "DELETE FROM t WHERE id BETWEEN ? AND ?", id, id+rng.IntN(30))
			default:
				c.exec(db, "UPDATE t SET v = v * 2 WHERE id >= ? LIMIT 20", id)
			}
		}
		if round == 6 {
			c.exec(db, "ALTER TABLE t ADD INDEX (v)")
		}
		time.Sleep(2 * time.Millisecond)
		at := time.Now().Format("2006-01-02 15:04:05.000000")
		marks = append(marks, mark{at: at, sum: checksum(t, db, "")})
		time.Sleep(2 * time.Millisecond)
		if round == 4 {
			// A snapshot of this moment, taken while nothing writes.
			out, err := exec.Command(strataBin, "ctl", "snapshot", "create", "before-index", "--data", c.dir).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "snapshot before-index as of") {
				t.Fatalf("ctl snapshot create: %v\n%s", err, out)
			}
			t.Logf("%s", strings.TrimSpace(string(out)))
			snapSum = marks[len(marks)-1].sum
		}
	}
	var last uint64
	if err := db.QueryRow("SELECT STRATA_LAST_COMMIT_LSN()").Scan(&last); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the purge and the horizon move on

	ro, err := sql.Open("mysql", "root@tcp("+c.node("ro-1").Addr+")/d?timeout=3s&readTimeout=60s")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var applied uint64
	if err := ro.QueryRow("SELECT STRATA_WAIT_LSN(?, 30)", last).Scan(&applied); err != nil || applied < last {
		t.Fatalf("the read-only node applied %d of %d: %v", applied, last, err)
	}
	for i, m := range marks {
		for _, n := range []struct {
			name string
			db   *sql.DB
		}{{"rw", db}, {"ro-1", ro}} {
			if got := checksum(t, n.db, fmt.Sprintf(" AS OF '%s'", m.at)); got != m.sum {
				t.Errorf("moment %d (%s) on %s: %s, want %s", i, m.at, n.name, got, m.sum)
			}
		}
	}

	ctl := func(args ...string) string {
		out, err := exec.Command(strataBin, append(append([]string{"ctl"}, args...), "--data", c.dir)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctl %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := ctl("history"); got != "history window: 1h0m0s" {
		t.Errorf("ctl history: %q", got)
	}
	if got := ctl("history", "--set", "2h"); got != "history window: 2h0m0s" {
		t.Errorf("ctl history --set 2h: %q", got)
	}

	// The snapshot reads as its moment did, on both nodes, until it is deleted.
	for _, n := range []*sql.DB{db, ro} {
		if got := checksum(t, n, " AS OF 'before-index'"); got != snapSum {
			t.Errorf("AS OF the snapshot: %s, want %s", got, snapSum)
		}
	}
	if got := ctl("snapshot", "list"); !strings.Contains(got, "before-index") || !strings.Contains(got, "ready") {
		t.Errorf("ctl snapshot list:\n%s", got)
	}
	if out, err := exec.Command(strataBin, "ctl", "snapshot", "create", "before-index", "--data", c.dir).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "already exists") {
		t.Errorf("a second snapshot of the same name: %v\n%s", err, out)
	}
	if out, err := exec.Command(strataBin, "ctl", "snapshot", "create", "9lives", "--data", c.dir).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "a letter, then") {
		t.Errorf("a snapshot name that is not one: %v\n%s", err, out)
	}
	ctl("snapshot", "delete", "before-index")
	if _, err := db.Query("SELECT * FROM t AS OF 'before-index'"); err == nil || !strings.Contains(err.Error(), "nor a snapshot") {
		t.Errorf("AS OF a deleted snapshot: %v", err)
	}
	if got := ctl("snapshot", "create"); !strings.Contains(got, "snapshot snap-") {
		t.Errorf("ctl snapshot create without a name: %q", got)
	}
	if got := ctl("status"); !strings.Contains(got, "history window 2h0m0s, snapshots 1") {
		t.Errorf("ctl status:\n%s", got)
	}

	// An accidental DELETE without WHERE, then a DROP TABLE: restore-table brings the rows
	// back, as of a moment, into a new table (and the dropped one under its own name); the
	// rest stays as it is.
	c.exec(db, "CREATE TABLE other (id INT PRIMARY KEY)")
	c.exec(db, "INSERT INTO other VALUES (1), (2)")
	time.Sleep(2 * time.Millisecond)
	before := time.Now().Format("2006-01-02 15:04:05.000000")
	want := checksum(t, db, "")
	time.Sleep(2 * time.Millisecond)
	c.exec(db, "DELETE FROM t")
	c.exec(db, "INSERT INTO other VALUES (3)")
	out := ctl("restore-table", "d.t", "--at", before, "--as", "d.t_back")
	if !strings.Contains(out, "restored into d.t_back") {
		t.Errorf("ctl restore-table: %q", out)
	}
	t.Log(out)
	if back := checksum(t, db, "_back"); back != want {
		t.Errorf("restored table: %s, want %s", back, want)
	}
	if got := checksum(t, db, ""); !strings.HasPrefix(got, "0 rows") {
		t.Errorf("the table deleted from: %s", got)
	}
	var others int
	if err := db.QueryRow("SELECT COUNT(*) FROM other").Scan(&others); err != nil || others != 3 {
		t.Errorf("the other table: %d rows, %v", others, err)
	}
	c.exec(db, "DROP TABLE t_back")
	c.exec(db, "DROP TABLE t")
	ctl("restore-table", "d.t", "--at", before, "--as", "d.t")
	if got := checksum(t, db, ""); got != want {
		t.Errorf("the dropped table, restored: %s, want %s", got, want)
	}
	if out, err := exec.Command(strataBin, "ctl", "restore-table", "d.nosuch", "--at", before, "--as", "d.x", "--data", c.dir).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "doesn't exist") {
		t.Errorf("restore-table of a table that did not exist: %v\n%s", err, out)
	}
}
