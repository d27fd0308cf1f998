package sqlstore

import "testing"

// TestHelpTables: the mysql.help_* tables read as empty tables (every query of them failed
// with "unable to find field with index 0 in row of 0 columns").
func TestHelpTables(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	checkQueries(t, db, []queryCase{
		{"SELECT * FROM mysql.help_topic", ""},
		{"SELECT COUNT(*) FROM mysql.help_keyword", "0"},
		{"SELECT name FROM mysql.help_category c WHERE c.help_category_id > 1", ""},
		{"SELECT COUNT(*) FROM mysql.help_relation r JOIN mysql.help_topic t ON r.help_topic_id = t.help_topic_id", "0"},
	})
}
