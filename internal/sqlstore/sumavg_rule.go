package sqlstore

import (
	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
)

// GMS's planner types every reference to a SUM or AVG as DOUBLE, whatever the function's
// own type (planbuilder/aggregates.go, buildAggregateFunc: `if name == "avg" || name ==
// "sum" { aggType = types.Float64 }`), so the result column would be a DOUBLE even where the
// aggregate computes a DECIMAL. The rule below runs first among the rules GMS runs once per
// statement: it gives each reference to a numericAgg the aggregate's type, then each
// reference to an alias of such an expression, and to a derived table's or view's column,
// the type that column now has, repeating until nothing changes.

// maxRetypePasses bounds the passes; each pass settles at least one level of nesting.
const maxRetypePasses = 8

// installNumericAggRule puts retypeNumericAggs first in GMS's once-before batch, and among
// the rules GMS runs for simple UPDATE and DELETE statements (analyzer.AlwaysBeforeDefault,
// changed once per process).
func installNumericAggRule(eng *sqle.Engine) {
	rule := analyzer.Rule{Id: ruleNumericAggs, Apply: retypeNumericAggs}
	installAlwaysBefore(rule, false)
	installFirst(eng, "once-before", rule)
}

// retypeNumericAggs is the analyzer rule: see above.
func retypeNumericAggs(_ *sql.Context, _ *analyzer.Analyzer, n sql.Node, _ *plan.Scope, _ analyzer.RuleSelector, _ *sql.QueryFlags) (sql.Node, transform.TreeIdentity, error) {
	if !hasNumericAgg(n) {
		return n, transform.SameTree, nil
	}
	var before sql.Schema
	if ct, ok := n.(*plan.CreateTable); ok && ct.Select() != nil {
		before = ct.Select().Schema()
	}
	identity := transform.SameTree
	for range maxRetypePasses {
		typesByID := map[sql.ColumnId]sql.Type{}
		collectColumnTypes(n, typesByID)
		next, same, err := retypeReferences(n, typesByID)
		if err != nil {
			return n, transform.SameTree, err
		}
		if same == transform.SameTree {
			break
		}
		n, identity = next, transform.NewTree
	}
	if ct, ok := n.(*plan.CreateTable); ok && before != nil && identity == transform.NewTree {
		return retypeCreateSelect(ct, before), transform.NewTree, nil
	}
	return n, identity, nil
}

// retypeCreateSelect gives the columns of CREATE TABLE … AS SELECT that the planner took
// from the SELECT (before, as the planner typed it) the type the SELECT now gives them.
// A statement that declares columns keeps their declared types: the planner's columns
// are then the declared ones, which differ from the SELECT's (the rare statement that
// declares exactly the SELECT's names and types is taken as not declaring them).
func retypeCreateSelect(ct *plan.CreateTable, before sql.Schema) sql.Node {
	after := ct.Select().Schema()
	pk := ct.PkSchema()
	if len(after) != len(before) || len(pk.Schema) != len(before) {
		return ct
	}
	cols := make(sql.Schema, len(pk.Schema))
	changed := false
	for i, col := range pk.Schema {
		if col.Name != before[i].Name || !col.Type.Equals(before[i].Type) {
			return ct
		}
		c := *col
		if !after[i].Type.Equals(c.Type) {
			c.Type, changed = after[i].Type, true
		}
		cols[i] = &c
	}
	if !changed {
		return ct
	}
	return plan.NewCreateTableSelect(ct.Database(), ct.Name(), ct.IfNotExists(), ct.Temporary(), ct.Select(), &plan.TableSpec{
		Schema:    sql.NewPrimaryKeySchema(cols, pk.PkOrdinals...),
		FkDefs:    ct.ForeignKeys(),
		ChDefs:    ct.Checks(),
		IdxDefs:   ct.Indexes(),
		Collation: ct.Collation,
		TableOpts: ct.TableOpts,
	})
}

// hasNumericAgg reports whether the plan, subqueries included, computes a numericAgg.
func hasNumericAgg(n sql.Node) bool {
	found := false
	inspectPlan(n, func(e sql.Expression) {
		if _, ok := e.(*numericAgg); ok {
			found = true
		}
	}, nil)
	return found
}

// collectColumnTypes records the type of every column a reference may need to follow: the
// numericAggs, the aliases, and the columns of derived tables and views.
func collectColumnTypes(n sql.Node, typesByID map[sql.ColumnId]sql.Type) {
	inspectPlan(n, func(e sql.Expression) {
		switch e := e.(type) {
		case *numericAgg:
			if e.id != 0 {
				typesByID[e.id] = e.Type()
			}
		case *expression.Alias:
			if e.Id() != 0 {
				typesByID[e.Id()] = e.Type()
			}
		}
	}, func(n sql.Node) {
		sa, ok := n.(*plan.SubqueryAlias)
		if !ok || sa.Child == nil {
			return
		}
		schema := sa.Child.Schema()
		i := 0
		sa.Columns().ForEach(func(id sql.ColumnId) {
			if i < len(schema) {
				typesByID[id] = schema[i].Type
			}
			i++
		})
	})
}

// inspectPlan calls onExpr for every expression and onNode for every node of the plan,
// through opaque nodes (derived tables, unions) and subquery expressions.
func inspectPlan(n sql.Node, onExpr func(sql.Expression), onNode func(sql.Node)) {
	var visitNode func(sql.Node)
	var visitExpr func(sql.Expression) bool
	visitExpr = func(e sql.Expression) bool {
		if onExpr != nil {
			onExpr(e)
		}
		if sq, ok := e.(*plan.Subquery); ok && sq.Query != nil {
			visitNode(sq.Query)
		}
		return true
	}
	visitNode = func(n sql.Node) {
		_, _, _ = transform.NodeWithOpaque(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
			if onNode != nil {
				onNode(n)
			}
			if ex, ok := n.(sql.Expressioner); ok {
				for _, e := range ex.Expressions() {
					transform.InspectExpr(e, func(e sql.Expression) bool {
						visitExpr(e)
						return false
					})
				}
			}
			return n, transform.SameTree, nil
		})
	}
	visitNode(n)
}

// retypeReferences gives every reference whose column is in typesByID that column's type.
func retypeReferences(n sql.Node, typesByID map[sql.ColumnId]sql.Type) (sql.Node, transform.TreeIdentity, error) {
	return transform.NodeWithOpaque(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
		if _, ok := n.(sql.Expressioner); !ok {
			return n, transform.SameTree, nil
		}
		return transform.OneNodeExpressions(n, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
			switch e := e.(type) {
			case *expression.GetField:
				t, ok := typesByID[e.Id()]
				if !ok || t == nil || t.Equals(e.Type()) {
					return e, transform.SameTree, nil
				}
				gf := expression.NewGetFieldWithTable(e.Index(), int(e.TableId()), t, e.Database(), e.Table(), e.Name(), e.IsNullable())
				return gf.WithId(e.Id()).(*expression.GetField), transform.NewTree, nil
			case *plan.Subquery:
				if e.Query == nil {
					return e, transform.SameTree, nil
				}
				q, same, err := retypeReferences(e.Query, typesByID)
				if err != nil || same == transform.SameTree {
					return e, transform.SameTree, err
				}
				return e.WithQuery(q), transform.NewTree, nil
			}
			return e, transform.SameTree, nil
		})
	})
}
