package sqlstore

import "testing"

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
	} {
		if got := queryRows(t, db, c.q); got != c.want {
			t.Errorf("%s = %s, want %s", c.q, got, c.want)
		}
	}
}
