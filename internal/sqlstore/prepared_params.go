package sqlstore

import (
	"strings"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/vt/sqlparser"
)

// Placeholders.
//
// MySQL refuses to prepare a statement with more than 65,535 placeholders (error 1390).
// vitess counts them in a uint16 (go/mysql/conn.go, ComPrepare), so 65,536 become 0 and
// the client is told a wrong count, and it sizes COM_STMT_EXECUTE's NULL bitmap as
// (ParamsCount+7)/8 in 16 bits (go/mysql/query.go:639), so 65,529 or more panic on
// execution. Strata refuses them at COM_STMT_PREPARE with MySQL's error.

// maxPlaceholders is the most placeholders vitess can execute.
const maxPlaceholders = 1<<16 - 8

// erPSManyParam is MySQL's ER_PS_MANY_PARAM.
const erPSManyParam = 1390

// checkPlaceholders refuses a statement with more than maxPlaceholders placeholders. Only
// a statement at least that long can have so many, so shorter ones are not parsed again.
func checkPlaceholders(query string) error {
	if len(query) <= maxPlaceholders || strings.Count(query, "?") <= maxPlaceholders {
		return nil
	}
	stmt, err := sqlparser.Parse(query)
	if err != nil {
		return nil // vitess reports the syntax error
	}
	n := 0
	_ = sqlparser.Walk(func(node sqlparser.SQLNode) (bool, error) {
		if v, ok := node.(*sqlparser.SQLVal); ok && strings.HasPrefix(string(v.Val), ":v") {
			n++
		}
		return true, nil
	}, stmt)
	if n <= maxPlaceholders {
		return nil
	}
	return mysql.NewSQLError(erPSManyParam, mysql.SSUnknownSQLState, "Prepared statement contains too many placeholders")
}
