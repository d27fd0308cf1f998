package sqlstore

import (
	"testing"
	"time"
)

// TestCastDatetimeToTime: CAST of a date-and-time string or TIMESTAMP literal to TIME is its
// time of day, as in MySQL (GMS returned NULL); other values cast as before.
func TestCastDatetimeToTime(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	for _, c := range []struct{ q, want string }{
		{"SELECT CAST('2011-11-20 21:27:37' AS TIME)", "21:27:37"},
		{"SELECT CAST(TIMESTAMP '2011-11-20 21:27:37' AS TIME)", "21:27:37"},
		{"SELECT CAST('12:34:56' AS TIME)", "12:34:56"},
		{"SELECT CAST('-838:59:59' AS TIME)", "-838:59:59"},
		{"SELECT CAST('x' AS TIME)", "NULL"},
		{"SELECT CAST('0000-00-00' AS TIME)", "00:00:00"},
		{"SELECT CAST('2011-01-02' AS TIME)", "00:20:11"},
		{"SELECT CAST(CAST('2011-01-02' AS DATE) AS TIME)", "00:00:00"},
	} {
		if got := queryRows(t, db, c.q); got != c.want {
			t.Errorf("%s = %s, want %s", c.q, got, c.want)
		}
	}
}

// TestCastZeroTimeParamToTime: go-sql-driver/mysql sends a zero time.Time as '0000-00-00';
// a prepared CAST(? AS TIME) of it is 00:00:00, as in MySQL (the driver's TestDateTime).
func TestCastZeroTimeParamToTime(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	for _, v := range []any{time.Time{}, time.Date(2011, 11, 20, 21, 27, 37, 0, time.UTC)} {
		var got string
		if err := db.QueryRow("SELECT CAST(? AS TIME)", v).Scan(&got); err != nil {
			t.Fatalf("CAST(%v AS TIME): %v", v, err)
		}
		want := v.(time.Time).Format("15:04:05")
		if got != want {
			t.Errorf("CAST(%v AS TIME) = %s, want %s", v, got, want)
		}
	}
}
