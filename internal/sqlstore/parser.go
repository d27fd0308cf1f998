package sqlstore

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// Checks on parsed statements, applied by limitParser (limits.go) besides the shape limits.

// checkIdentifiers refuses identifiers (quoted or not) that are not valid UTF-8 (see
// checkName). Only a query that is not valid UTF-8 as a whole is tokenized, so the common
// path costs one scan.
func checkIdentifiers(query string) *mysql.SQLError {
	if utf8.ValidString(query) {
		return nil
	}
	tok := ast.NewStringTokenizer(query)
	for {
		typ, val := tok.Scan()
		switch typ {
		case 0, ast.LEX_ERROR:
			return nil
		case ast.ID:
			if err := checkName(string(val)); err != nil {
				return err.(*mysql.SQLError)
			}
		}
	}
}

// keepDelete gives a DELETE without WHERE of a table in another database than the current
// one an explicit WHERE TRUE, which keeps it a DELETE. GMS's processTruncate turns a DELETE
// without WHERE into a TRUNCATE after checking triggers and foreign keys in the current
// database rather than the table's, so DELETE FROM db.t failed with 1049 with no current
// database, and skipped db.t's ON DELETE triggers when the current database had a table t
// without them. GMS's batch for simple DELETEs is fixed (analyzer/node_batches.go), so the
// rule cannot be replaced.
func keepDelete(ctx context.Context, stmt ast.Statement) {
	d, ok := stmt.(*ast.Delete)
	if !ok || d.Where != nil || len(d.Targets) != 0 || len(d.TableExprs) != 1 {
		return
	}
	at, ok := d.TableExprs[0].(*ast.AliasedTableExpr)
	if !ok {
		return
	}
	tn, ok := at.Expr.(ast.TableName)
	if !ok || tn.DbQualifier.IsEmpty() {
		return
	}
	cur := ""
	if sctx, ok := ctx.(*sql.Context); ok {
		cur = sctx.GetCurrentDatabase()
	}
	if !strings.EqualFold(tn.DbQualifier.String(), cur) {
		d.Where = &ast.Where{Type: ast.WhereStr, Expr: ast.BoolVal(true)}
	}
}
