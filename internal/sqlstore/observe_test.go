package sqlstore

import "testing"

func TestStatementKind(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT 1":                        "select",
		"  select * from t":               "select",
		"/* hint */ INSERT INTO t VALUES": "insert",
		"-- note\nUPDATE t SET a=1":       "update",
		"# x\ndelete from t":              "delete",
		"(SELECT 1) UNION (SELECT 2)":     "select",
		"START TRANSACTION":               "begin",
		"WITH c AS (SELECT 1) SELECT *":   "select",
		"commit":                          "commit",
		"SELECTED":                        "other",
		"selectx 1":                       "other",
		"rollback":                        "rollback",
		"TRUNCATE t":                      "drop",
		"/* unterminated":                 "other",
		"":                                "other",
		"GRANT ALL ON *.* TO u":           "other",
		"show tables":                     "show",
	} {
		if got := StatementKind(q); got != want {
			t.Errorf("StatementKind(%q) = %q, want %q", q, got, want)
		}
	}
}
