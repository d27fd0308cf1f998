package sqlstore

import (
	"fmt"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// Row constructors IN a list, with NULLs.
//
// `(a, b) IN ((x, y), …)` is, in MySQL, the OR over the list of `a = x AND b = y`: with a
// NULL on either side it is NULL unless another element matches or one of the element's
// comparisons is false. GMS's InTuple and HashInTuple compare the rows as whole values, so
// `(NULL, NULL) IN ((5, 7))` was FALSE and `(NULL, NULL) NOT IN ((5, 7), (0, 1))` TRUE: a
// row of NULLs passed a NOT IN filter. The rule below, run last, wraps each such IN whose
// left side is a row constructor: rows without a NULL on either side are decided by GMS's
// expression as before; others are compared element by element in SQL's three values.

// installRowINRule adds the rule to the rules GMS runs last.
func installRowINRule(eng *sqle.Engine) {
	installAfterAll(eng, analyzer.Rule{Id: ruleRowIN, Apply: wrapRowINs})
}

// wrapRowINs wraps every IN over a row constructor in a rowIN.
func wrapRowINs(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeExprs(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		var left, right sql.Expression
		switch x := e.(type) {
		case *expression.InTuple:
			left, right = x.Left(), x.Right()
		case *expression.HashInTuple:
			left, right = x.Left(), x.Right()
		default:
			return e, transform.SameTree, nil
		}
		lt, ok := left.(expression.Tuple)
		if !ok || len(lt) < 2 {
			return e, transform.SameTree, nil
		}
		rt, ok := right.(expression.Tuple)
		if !ok {
			return e, transform.SameTree, nil
		}
		return newRowIN(e, lt, rt), transform.NewTree, nil
	})
}

// newRowIN wraps e, an IN of row constructor left over list.
func newRowIN(e sql.Expression, left, list expression.Tuple) *rowIN {
	return &rowIN{Expression: e, left: left, list: list, listNullFree: nullFreeLiterals(list)}
}

// nullFreeLiterals reports whether every element of list is a row of non-NULL literals: such
// a list needs no evaluation to know it holds no NULL.
func nullFreeLiterals(list expression.Tuple) bool {
	for _, el := range list {
		et, ok := el.(expression.Tuple)
		if !ok {
			return false
		}
		for _, x := range et {
			if l, ok := x.(*expression.Literal); !ok || l.Value() == nil {
				return false
			}
		}
	}
	return true
}

// rowIN is an IN over a row constructor, NULLs compared as SQL does.
type rowIN struct {
	sql.Expression // GMS's InTuple or HashInTuple
	left           expression.Tuple
	list           expression.Tuple
	listNullFree   bool // the list is rows of non-NULL literals (nullFreeLiterals)
}

// Eval implements sql.Expression.
func (r *rowIN) Eval(ctx *sql.Context, row sql.Row) (any, error) {
	lv := make([]any, len(r.left))
	hasNull := false
	for i, e := range r.left {
		v, err := e.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		lv[i] = v
		hasNull = hasNull || v == nil
	}
	if !hasNull && r.listNullFree {
		return r.Expression.Eval(ctx, row) // no NULL on either side: GMS's comparison
	}
	elems := make([][]any, len(r.list))
	for i, el := range r.list {
		v, err := el.Eval(ctx, row)
		if err != nil {
			return nil, err
		}
		vs, ok := v.([]any)
		if !ok || len(vs) != len(lv) {
			return r.Expression.Eval(ctx, row) // GMS's error for a mismatched element
		}
		elems[i] = vs
		for _, x := range vs {
			hasNull = hasNull || x == nil
		}
	}
	if !hasNull {
		return r.Expression.Eval(ctx, row)
	}
	unknown := false
	for i, vs := range elems {
		et, _ := r.list[i].(expression.Tuple)
		match := true // so far: TRUE, or NULL once unknown is set for this element
		elemUnknown := false
		for j := range lv {
			if lv[j] == nil || vs[j] == nil {
				elemUnknown = true
				continue
			}
			rt := r.left[j].Type()
			if j < len(et) {
				rt = et[j].Type()
			}
			eq, err := expression.NewEquals(expression.NewLiteral(lv[j], r.left[j].Type()), expression.NewLiteral(vs[j], rt)).Eval(ctx, nil)
			if err != nil {
				return nil, err
			}
			if eq == nil {
				elemUnknown = true
				continue
			}
			if b, ok := eq.(bool); ok && !b {
				match = false
				break
			}
		}
		switch {
		case match && !elemUnknown:
			return true, nil
		case match:
			unknown = true
		}
	}
	if unknown {
		return nil, nil
	}
	return false, nil
}

// IsNullable implements sql.Expression.
func (r *rowIN) IsNullable() bool { return true }

// WithChildren implements sql.Expression.
func (r *rowIN) WithChildren(children ...sql.Expression) (sql.Expression, error) {
	e, err := r.Expression.WithChildren(children...)
	if err != nil {
		return nil, err
	}
	if len(children) != 2 {
		return nil, sql.ErrInvalidChildrenNumber.New(r, len(children), 2)
	}
	lt, ok1 := children[0].(expression.Tuple)
	rt, ok2 := children[1].(expression.Tuple)
	if !ok1 || !ok2 {
		return e, nil
	}
	return newRowIN(e, lt, rt), nil
}

// String implements fmt.Stringer, as GMS's expression shows.
func (r *rowIN) String() string { return fmt.Sprint(r.Expression) }
