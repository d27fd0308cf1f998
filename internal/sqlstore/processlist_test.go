package sqlstore

import (
	"strings"
	"testing"
)

// TestProcessListNamesUser checks that SHOW PROCESSLIST and information_schema.processlist
// name the account of a connection made without a database, not "unauthenticated user".
func TestProcessListNamesUser(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := n.connect(t, "")
	c.SetMaxOpenConns(1)
	got := queryRows(t, c, "SHOW PROCESSLIST")
	if strings.Contains(got, unauthenticatedUser) || !strings.Contains(got, "root") {
		t.Fatalf("SHOW PROCESSLIST: %s", got)
	}
	if got := queryRows(t, c, "SELECT user FROM information_schema.processlist"); strings.Contains(got, unauthenticatedUser) {
		t.Fatalf("information_schema.processlist: %s", got)
	}
}
