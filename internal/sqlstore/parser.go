package sqlstore

import (
	"context"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// checkedParser is GMS's parser with Strata's checks on what it returns:
//   - identifiers must be valid UTF-8 (checkName), checked by tokenizing only a query
//     that is not valid UTF-8 as a whole, so that the common path costs one scan;
//   - a DELETE without WHERE of a table in another database than the current one gets an
//     explicit WHERE TRUE, which keeps it a DELETE: GMS's processTruncate turns a DELETE
//     without WHERE into a TRUNCATE after checking triggers and foreign keys in the current
//     database rather than the table's (so DELETE FROM db.t failed with 1049 with no current
//     database, and skipped db.t's ON DELETE triggers when the current database had a t),
//     and its batch for simple DELETEs is fixed in GMS (analyzer/node_batches.go), so the rule
//     cannot be replaced.
type checkedParser struct{ sql.Parser }

func (p checkedParser) check(ctx context.Context, query string, stmt ast.Statement, err error) (ast.Statement, error) {
	if err != nil {
		return stmt, err
	}
	if !utf8.ValidString(query) {
		if err := checkIdentifiers(query); err != nil {
			return raising(err), nil
		}
	}
	if d, ok := stmt.(*ast.Delete); ok && d.Where == nil && len(d.Targets) == 0 && len(d.TableExprs) == 1 {
		if at, ok := d.TableExprs[0].(*ast.AliasedTableExpr); ok {
			if tn, ok := at.Expr.(ast.TableName); ok && !tn.DbQualifier.IsEmpty() {
				cur := ""
				if sctx, ok := ctx.(*sql.Context); ok {
					cur = sctx.GetCurrentDatabase()
				}
				if !strings.EqualFold(tn.DbQualifier.String(), cur) {
					d.Where = &ast.Where{Type: ast.WhereStr, Expr: ast.BoolVal(true)}
				}
			}
		}
	}
	return stmt, nil
}

// raising turns a MySQL error into a SIGNAL statement that raises it: GMS turns any parser
// error into a syntax error, so the parser hands back a statement that fails with the
// error's own number and SQLSTATE.
func raising(err error) ast.Statement {
	se, ok := err.(*mysql.SQLError)
	if !ok {
		se = mysql.NewSQLError(mysql.ERUnknownError, mysql.SSUnknownSQLState, "%s", err.Error())
	}
	return &ast.Signal{SqlStateValue: se.State, Info: []ast.SignalInfo{
		{ConditionItemName: ast.SignalConditionItemName_MysqlErrno, Value: ast.NewIntVal([]byte(strconv.Itoa(se.Num)))},
		{ConditionItemName: ast.SignalConditionItemName_MessageText, Value: ast.NewStrVal([]byte(se.Message))},
	}}
}

// checkIdentifiers refuses identifiers (quoted or not) that are not valid UTF-8.
func checkIdentifiers(query string) error {
	tok := ast.NewStringTokenizer(query)
	for {
		typ, val := tok.Scan()
		switch typ {
		case 0, ast.LEX_ERROR:
			return nil
		case ast.ID:
			if err := checkName(string(val)); err != nil {
				return err
			}
		}
	}
}

// ParseSimple implements sql.Parser.
func (p checkedParser) ParseSimple(query string) (ast.Statement, error) {
	stmt, err := p.Parser.ParseSimple(query)
	return p.check(context.Background(), query, stmt, err)
}

// Parse implements sql.Parser.
func (p checkedParser) Parse(ctx *sql.Context, query string, multi bool) (ast.Statement, string, string, error) {
	stmt, q, rest, err := p.Parser.Parse(ctx, query, multi)
	stmt, err = p.check(ctx, q, stmt, err)
	return stmt, q, rest, err
}

// ParseWithOptions implements sql.Parser.
func (p checkedParser) ParseWithOptions(ctx context.Context, query string, delim rune, multi bool, o ast.ParserOptions) (ast.Statement, string, string, error) {
	stmt, q, rest, err := p.Parser.ParseWithOptions(ctx, query, delim, multi, o)
	stmt, err = p.check(ctx, q, stmt, err)
	return stmt, q, rest, err
}

// ParseOneWithOptions implements sql.Parser.
func (p checkedParser) ParseOneWithOptions(ctx context.Context, query string, o ast.ParserOptions) (ast.Statement, int, error) {
	stmt, n, err := p.Parser.ParseOneWithOptions(ctx, query, o)
	q := query
	if n > 0 && n <= len(query) {
		q = query[:n]
	}
	stmt, err = p.check(ctx, q, stmt, err)
	return stmt, n, err
}
