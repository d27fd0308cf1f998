package sqlstore

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// analyzeTableExec runs ANALYZE TABLE whatever the connection's current database, as MySQL
// does: each table is named with its database, and GMS's builder (rowexec
// buildAnalyzeTable) refused the statement with 1046 when the connection had none, though
// it reads the current database only for that check. The rows are GMS's: table, "analyze",
// and "status" "OK" or "Error" and the error.
type analyzeTableExec struct{}

// Build implements sql.NodeExecBuilder.
func (analyzeTableExec) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	at, ok := n.(*plan.AnalyzeTable)
	if !ok {
		return nil, nil
	}
	rows := make([]sql.Row, 0, len(at.Tables))
	for _, t := range at.Tables {
		msgType, msgText := "status", "OK"
		if err := at.Stats.AnalyzeTable(ctx, t, at.Db); err != nil {
			msgType, msgText = "Error", err.Error()
		}
		rows = append(rows, sql.Row{t.Name(), "analyze", msgType, msgText})
	}
	return sql.RowsToRowIter(rows...), nil
}
