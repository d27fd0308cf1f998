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
	rows, err := q.Query("SELECT id, v, pad FROM t" + asOf + " ORDER BY id")
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
		out, err := exec.Command(strataBin, append([]string{"ctl", "history", "--data", c.dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ctl history %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := ctl(); got != "history window: 1h0m0s" {
		t.Errorf("ctl history: %q", got)
	}
	if got := ctl("--set", "2h"); got != "history window: 2h0m0s" {
		t.Errorf("ctl history --set 2h: %q", got)
	}
}
