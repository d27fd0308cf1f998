package sqlstore

import (
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// showCreateGuard makes SHOW CREATE TABLE print the default of an ENUM or SET column as its
// label, as MySQL does. GMS prints the value the default converts to, the element's index
// or the set's bits (rowexec/show_iters.go, convertColumnDefaultToString): ENUM('new','old')
// DEFAULT 'new' came out as DEFAULT '1', which neither MySQL nor MariaDB loads back as it
// was. The node is built with those defaults as string literals.
type showCreateGuard struct{}

// Build implements sql.NodeExecBuilder.
func (showCreateGuard) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	sc, ok := n.(*plan.ShowCreateTable)
	if !ok || sc.IsView {
		return nil, nil
	}
	sch, changed, err := labelledDefaults(ctx, sc.TargetSchema())
	if err != nil || !changed {
		return nil, err
	}
	nn, err := sc.WithTargetSchema(sch)
	if err != nil {
		return nil, err
	}
	return rowexec.DefaultBuilder.Build(ctx, nn, row)
}

// labelledDefaults returns sch with the literal defaults of its ENUM and SET columns made
// string literals of their labels, and whether there were any.
func labelledDefaults(ctx *sql.Context, sch sql.Schema) (sql.Schema, bool, error) {
	var out sql.Schema
	for i, col := range sch {
		if col.Default == nil || !col.Default.IsLiteral() {
			continue
		}
		_, isEnum := col.Type.(sql.EnumType)
		_, isSet := col.Type.(sql.SetType)
		if !isEnum && !isSet {
			continue
		}
		v, err := col.Default.Eval(ctx, nil)
		if err != nil {
			return nil, false, err
		}
		if v == nil {
			continue
		}
		label, ok := enumSetLabel(col.Type, v)
		if !ok {
			return nil, false, sql.ErrInvalidColumnDefaultValue.New(col.Name)
		}
		if out == nil {
			out = sch.Copy()
		}
		c := *out[i]
		c.Default = &sql.ColumnDefaultValue{
			Expr:      expression.NewLiteral(label, types.LongText),
			OutType:   types.LongText,
			Literal:   true,
			ReturnNil: col.Default.ReturnNil,
		}
		out[i] = &c
	}
	return out, out != nil, nil
}

// enumSetLabel returns the label of v, a value of the ENUM or SET type t (an index or bits).
func enumSetLabel(t sql.Type, v any) (string, bool) {
	if s, ok := v.(string); ok {
		return s, true
	}
	n, ok := toUint(v)
	if !ok {
		return "", false
	}
	switch t := t.(type) {
	case sql.EnumType:
		return t.At(int(n))
	case sql.SetType:
		label, err := t.BitsToString(n)
		return label, err == nil
	}
	return "", false
}
