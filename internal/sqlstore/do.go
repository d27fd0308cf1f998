package sqlstore

import (
	"fmt"
	"io"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// DO.
//
// `DO expr[, expr…]` evaluates the expressions for their effects (SLEEP, GET_LOCK,
// RELEASE_LOCK, assignments) and returns an OK packet; drivers and pools send it to ping and
// to set sessions up. vitess cannot parse it. When a statement fails to parse and starts
// with DO, limitParser parses it as `SELECT strata_do(expr, …)`; the rule below turns that
// SELECT into a doNode, which runs it and answers OK with no result set.

// doFunc is the function the select list of a DO is wrapped in.
const doFunc = "strata_do"

// parseDo returns the statement `DO rest` parses to through parse, or nil when query is not
// a DO statement that parses as a SELECT of its expressions.
func parseDo(query string, parse func(string) (ast.Statement, error)) ast.Statement {
	i := skipSpaceAndComments(query)
	if len(query) < i+3 || !strings.EqualFold(query[i:i+2], "do") {
		return nil
	}
	if c := query[i+2]; c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '(' {
		return nil
	}
	stmt, err := parse(query[:i] + "SELECT " + query[i+2:])
	if err != nil {
		return nil
	}
	sel, ok := stmt.(*ast.Select)
	if !ok || sel.From != nil && !isDual(sel.From) || sel.Where != nil || sel.GroupBy != nil || sel.Having != nil ||
		sel.OrderBy != nil || sel.Limit != nil || sel.Into != nil || sel.With != nil || sel.Window != nil || sel.Lock != "" {
		return nil
	}
	for _, e := range sel.SelectExprs {
		if _, ok := e.(*ast.AliasedExpr); !ok {
			return nil
		}
	}
	sel.SelectExprs = ast.SelectExprs{&ast.AliasedExpr{Expr: &ast.FuncExpr{Name: ast.NewColIdent(doFunc), Exprs: sel.SelectExprs}}}
	return sel
}

// isDual reports whether from is the implicit FROM DUAL vitess gives a SELECT without FROM.
func isDual(from ast.TableExprs) bool {
	if len(from) != 1 {
		return false
	}
	at, ok := from[0].(*ast.AliasedTableExpr)
	if !ok {
		return false
	}
	tn, ok := at.Expr.(ast.TableName)
	return ok && strings.EqualFold(tn.Name.String(), "dual") && tn.DbQualifier.IsEmpty()
}

// skipSpaceAndComments returns the offset of query's first token.
func skipSpaceAndComments(query string) int {
	i := 0
	for i < len(query) {
		switch {
		case query[i] == ' ' || query[i] == '\t' || query[i] == '\n' || query[i] == '\r':
			i++
		case strings.HasPrefix(query[i:], "/*") && !strings.HasPrefix(query[i:], "/*!"):
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				return i
			}
			i += end + 4
		default:
			return i
		}
	}
	return i
}

// installDo registers strata_do and the rule that turns a DO's SELECT into a doNode.
func installDo(eng *sqle.Engine) {
	eng.Analyzer.Catalog.RegisterFunction(nil, sql.FunctionN{Name: doFunc, Fn: func(args ...sql.Expression) (sql.Expression, error) {
		return &doCall{args: args}, nil
	}})
	installFirst(eng, "once-before", analyzer.Rule{Id: ruleDo, Apply: doStatement})
}

// doStatement is the rule: a Project of one strata_do call becomes a doNode.
func doStatement(_ *sql.Context, a *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	p, ok := n.(*plan.Project)
	if !ok || len(p.Projections) != 1 {
		return n, transform.SameTree, nil
	}
	e := p.Projections[0]
	if al, ok := e.(*expression.Alias); ok {
		e = al.Child
	}
	if _, ok := e.(*doCall); !ok {
		return n, transform.SameTree, nil
	}
	return &doNode{UnaryNode: plan.UnaryNode{Child: n}, exec: a.ExecBuilder}, transform.NewTree, nil
}

// doCall evaluates its arguments, in order, and returns NULL.
type doCall struct{ args []sql.Expression }

var _ sql.FunctionExpression = (*doCall)(nil)

// Resolved implements sql.Expression.
func (d *doCall) Resolved() bool { return expression.ExpressionsResolved(d.args...) }

// String implements sql.Expression.
func (d *doCall) String() string {
	parts := make([]string, len(d.args))
	for i, a := range d.args {
		parts[i] = a.String()
	}
	return fmt.Sprintf("DO %s", strings.Join(parts, ", "))
}

// Type implements sql.Expression.
func (d *doCall) Type() sql.Type { return types.Null }

// IsNullable implements sql.Expression.
func (d *doCall) IsNullable() bool { return true }

// Children implements sql.Expression.
func (d *doCall) Children() []sql.Expression { return d.args }

// WithChildren implements sql.Expression.
func (d *doCall) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	if len(children) != len(d.args) {
		return nil, sql.ErrInvalidChildrenNumber.New(d, len(children), len(d.args))
	}
	return &doCall{args: children}, nil
}

// Eval implements sql.Expression.
func (d *doCall) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	for _, a := range d.args {
		if _, err := a.Eval(ctx, row); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// FunctionName implements sql.FunctionExpression.
func (d *doCall) FunctionName() string { return doFunc }

// Description implements sql.FunctionExpression.
func (d *doCall) Description() string { return "evaluates its arguments (DO)" }

// doNode runs a DO statement's SELECT for its effects and answers OK.
type doNode struct {
	plan.UnaryNode
	exec sql.NodeExecBuilder
}

var _ sql.ExecSourceRel = (*doNode)(nil)

// String implements sql.Node.
func (d *doNode) String() string { return "Do(" + d.Child.String() + ")" }

// Schema implements sql.Node: an OK packet.
func (d *doNode) Schema() sql.Schema { return types.OkResultSchema }

// IsReadOnly implements sql.Node.
func (d *doNode) IsReadOnly() bool { return d.Child.IsReadOnly() }

// WithChildren implements sql.Node.
func (d *doNode) WithChildren(children ...sql.Node) (sql.Node, error) {
	if len(children) != 1 {
		return nil, sql.ErrInvalidChildrenNumber.New(d, len(children), 1)
	}
	return &doNode{UnaryNode: plan.UnaryNode{Child: children[0]}, exec: d.exec}, nil
}

// RowIter implements sql.ExecSourceRel: it runs the SELECT to its end, then returns OK.
func (d *doNode) RowIter(ctx *sql.Context, row sql.Row) (sql.RowIter, error) {
	iter, err := d.exec.Build(ctx, d.Child, row)
	if err != nil {
		return nil, err
	}
	for {
		_, err := iter.Next(ctx)
		if err != nil {
			cerr := iter.Close(ctx)
			if err != io.EOF {
				return nil, err
			}
			if cerr != nil {
				return nil, cerr
			}
			break
		}
	}
	return sql.RowsToRowIter(sql.NewRow(types.NewOkResult(0))), nil
}
