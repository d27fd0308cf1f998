package sqlstore

import "testing"

// TestStrToDateAdjacentFields: STR_TO_DATE reads each numeric field from at most MySQL's
// number of digits, so fields written without separators parse; each answer is MariaDB
// 10.11's.
func TestStrToDateAdjacentFields(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	for _, tc := range []struct{ value, format, want string }{
		{"20240131103000", "%Y%m%d%H%i%s", "2024-01-31 10:30:00"},
		{"20240131", "%Y%m%d", "2024-01-31"},
		{"2024013110", "%Y%m%d%H", "2024-01-31 10:00:00"},
		{"103000", "%H%i%s", "10:30:00"},
		{"31/01/2024 1030", "%d/%m/%Y %H%i", "2024-01-31 10:30:00"},
		{"24013110", "%y%m%d%H", "2024-01-31 10:00:00"},
		{"10:30:00", "%H:%i:%s", "10:30:00"},
		{"Jan 5 2024", "%b %e %Y", "2024-01-05"},
		{"2024-1-5 7:3:9", "%Y-%c-%e %k:%i:%s", "2024-01-05 07:03:09"},
		{"2024-13-01", "%Y-%m-%d", "NULL"},
	} {
		got := queryRows(t, c, "SELECT CAST(STR_TO_DATE(?, ?) AS CHAR)", tc.value, tc.format)
		if got != tc.want {
			t.Errorf("STR_TO_DATE(%q, %q) = %s, want %s", tc.value, tc.format, got, tc.want)
		}
	}
}
