package sqlstore

import (
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// mysql.help_topic, help_keyword, help_category and help_relation.
//
// GMS's help tables hold no rows, but their scan returns one row of no columns
// (mysql_db/mysql_table.go:71, sql.RowsToRowIter(nil)), so any query of them failed with
// "unable to find field with index 0 in row of 0 columns" (the mysql client's `help`
// command among them). The rule below reads them as the empty tables they are, as a MySQL
// server without its help content loaded answers.

// installHelpTablesRule puts helpTables first in GMS's once-before batch.
func installHelpTablesRule(eng *sqle.Engine) {
	installFirst(eng, "once-before", analyzer.Rule{Id: ruleHelpTables, Apply: helpTables})
}

// helpTables replaces a scan of a mysql.help_* table by an empty table of its schema.
func helpTables(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	showCreate := false
	transform.Inspect(n, func(n sql.Node) bool {
		if _, ok := n.(*plan.ShowCreateTable); ok {
			showCreate = true
		}
		return !showCreate
	})
	if showCreate {
		// SHOW CREATE TABLE reads the table's definition, not its rows (and takes only a
		// table: mysqldump of the mysql database failed with 1105).
		return n, transform.SameTree, nil
	}
	return transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		rt, ok := n.(*plan.ResolvedTable)
		if !ok || rt.Database() == nil || !strings.EqualFold(rt.Database().Name(), "mysql") {
			return n, transform.SameTree, nil
		}
		switch strings.ToLower(rt.Name()) {
		case "help_topic", "help_keyword", "help_category", "help_relation":
		default:
			return n, transform.SameTree, nil
		}
		empty := plan.NewEmptyTableWithSchema(rt.Schema()).(*plan.EmptyTable)
		return empty.WithId(rt.Id()).WithColumns(rt.Columns()), transform.NewTree, nil
	})
}
