package gmstest

// mysqlDupEntry is why the assertions below are skipped: they compare the text of a
// duplicate key error, which in Strata is MySQL 8's (Duplicate entry '1' for key
// 't.PRIMARY', sqlstore/errcodes_fk.go dupEntry) inside GMS's own error kind (so GMS's
// INSERT IGNORE and ON DUPLICATE KEY UPDATE still work), while GMS expects its own key text
// ("duplicate primary key given: [1]"). Each failed only by that when it was added.
const mysqlDupEntry = "MySQL's duplicate-key message (Duplicate entry '1' for key 't.PRIMARY', sqlstore/errcodes_fk.go); GMS expects its own text [1]"

// ErrCodeSkips lists, per suite, the queries and script statements skipped for
// mysqlDupEntry (matched as the entries of Skips are).
var ErrCodeSkips = map[string][]string{
	"Scripts": {
		"INSERT INTO test VALUES (2,2), (3,3), (1,1);",
		"UPDATE test SET pk = pk + 1 ORDER BY pk;",
	},
	"Triggers": {
		"insert into t values (1, 200);",
	},
}
