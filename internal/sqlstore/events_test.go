package sqlstore

import (
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// TestNoEvents: a database holds no events: SHOW EVENTS and information_schema.EVENTS are
// empty (GMS refused SHOW EVENTS, 1105, which stopped mysqldump --events), creating one is
// refused with 1235 and dropping one is 1539, as MySQL words them.
func TestNoEvents(t *testing.T) {
	n := startNode(t, t.TempDir())
	mustExec(t, n.connect(t, ""), "CREATE DATABASE ev")
	db := n.connect(t, "ev")
	// SHOW EVENTS in the current database: GMS ignores FROM (planbuilder/show.go:289).
	if got := queryRows(t, db, "SHOW EVENTS"); got != "" {
		t.Errorf("SHOW EVENTS: %q", got)
	}
	if got := queryRows(t, db, "SELECT COUNT(*) FROM information_schema.EVENTS"); got != "0" {
		t.Errorf("information_schema.EVENTS: %q", got)
	}
	mustExec(t, db, "DROP EVENT IF EXISTS ev.e1")
	for _, c := range []struct {
		q    string
		code uint16
	}{
		{"CREATE EVENT ev.e1 ON SCHEDULE EVERY 1 HOUR DO SELECT 1", 1235},
		{"DROP EVENT ev.e1", 1539},
	} {
		_, err := db.Exec(c.q)
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != c.code {
			t.Errorf("%s: %v, want error %d", c.q, err, c.code)
		}
	}
}
