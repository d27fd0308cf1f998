package sqlstore

import (
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/dolthub/go-mysql-server/sql/types"
)

// showCreateGuard makes SHOW CREATE TABLE print the default of an ENUM or SET column as its
// label, and its labels as SQL strings, as MySQL does. GMS prints the value the default converts to, the element's index
// or the set's bits (rowexec/show_iters.go, convertColumnDefaultToString): ENUM('new','old')
// DEFAULT 'new' came out as DEFAULT '1', which neither MySQL nor MariaDB loads back as it
// was. The node is built with those defaults as string literals.
type showCreateGuard struct{}

// It also prints the FLOAT, DOUBLE and DECIMAL columns whose declared type GMS's type does not
// hold (UNSIGNED, FLOAT(M,D)) as declared, in SHOW CREATE TABLE and SHOW COLUMNS (declared.go).
//
// Build implements sql.NodeExecBuilder.
func (showCreateGuard) Build(ctx *sql.Context, n sql.Node, row sql.Row) (sql.RowIter, error) {
	switch n := n.(type) {
	case *plan.ShowCreateTrigger:
		return withDatabaseCollation(ctx, n, n.Database(), row, unqualifyTriggerTable)
	case *plan.ShowTriggers:
		return withDatabaseCollation(ctx, n, n.Database(), row, nil)
	case *plan.ShowCreateProcedure:
		return withDatabaseCollation(ctx, n, n.Database(), row, nil)
	case *plan.ShowColumns:
		sch, changed := declaredSchema(n.Child, n.TargetSchema())
		if !changed {
			return nil, nil
		}
		nn, err := n.WithTargetSchema(sch)
		if err != nil {
			return nil, err
		}
		return rowexec.DefaultBuilder.Build(ctx, nn, row)
	}
	sc, ok := n.(*plan.ShowCreateTable)
	if !ok || sc.IsView {
		return nil, nil
	}
	sch, declared := declaredSchema(sc.Child, sc.TargetSchema())
	labelled, changed, err := labelledDefaults(ctx, sch)
	if err != nil || !changed && !declared {
		return nil, err
	}
	if changed {
		sch = labelled
	}
	nn, err := sc.WithTargetSchema(sch)
	if err != nil {
		return nil, err
	}
	return rowexec.DefaultBuilder.Build(ctx, nn, row)
}

// labelledDefaults returns sch with the literal defaults of its ENUM and SET columns made
// string literals of their labels, and their labels quoted (quotedEnumSet), and whether
// there were any.
func labelledDefaults(ctx *sql.Context, sch sql.Schema) (sql.Schema, bool, error) {
	var out sql.Schema
	for i, col := range sch {
		if needsQuoting(col.Type) {
			if tc, ok := col.Type.(collatedType); ok {
				if out == nil {
					out = sch.Copy()
				}
				c := *out[i]
				c.Type = quotedEnumSet{tc}
				out[i] = &c
			}
		}
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
		c.Type = out[i].Type
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

// enumSetSQL returns the SQL text of an ENUM or SET type t (as GMS's
// StringWithTableCollation does for tableColl) with its labels quoted as SQL strings: GMS
// joins them between quotes as they are, so a label with a quote made a definition that
// did not parse (SHOW CREATE TABLE's, and the one the catalog keeps). ok is false for
// other types.
func enumSetSQL(t sql.Type, tableColl sql.CollationID) (s string, ok bool) {
	var kind string
	var vals []string
	switch t := t.(type) {
	case types.EnumType:
		kind, vals, s = "enum", t.Values(), t.StringWithTableCollation(tableColl)
	case types.SetType:
		kind, vals, s = "set", t.Values(), t.StringWithTableCollation(tableColl)
	default:
		return "", false
	}
	raw := kind + "('" + strings.Join(vals, "','") + "')"
	if !strings.HasPrefix(s, raw) {
		return s, true
	}
	quoted := make([]string, len(vals))
	for i, v := range vals {
		quoted[i] = expression.NewLiteral(v, types.LongText).String()
	}
	return kind + "(" + strings.Join(quoted, ",") + ")" + s[len(raw):], true
}

// needsQuoting reports whether an ENUM or SET type has a label GMS prints unquoted.
func needsQuoting(t sql.Type) bool {
	var vals []string
	switch t := t.(type) {
	case types.EnumType:
		vals = t.Values()
	case types.SetType:
		vals = t.Values()
	}
	for _, v := range vals {
		if strings.ContainsAny(v, `'\`) {
			return true
		}
	}
	return false
}

// collatedType is a type with a collation.
type collatedType interface {
	sql.Type
	sql.TypeWithCollation
}

// quotedEnumSet is an ENUM or SET type that SHOW CREATE TABLE prints with quoted labels.
type quotedEnumSet struct{ collatedType }

// String implements sql.Type.
func (q quotedEnumSet) String() string {
	return q.StringWithTableCollation(sql.Collation_Default)
}

// StringWithTableCollation implements sql.TypeWithCollation.
func (q quotedEnumSet) StringWithTableCollation(c sql.CollationID) string {
	s, _ := enumSetSQL(q.collatedType, c)
	return s
}

// sqlTypeString is t's SQL text, with ENUM and SET labels quoted.
func sqlTypeString(t sql.Type) string {
	if s, ok := enumSetSQL(t, sql.Collation_Default); ok {
		return s
	}
	return t.String()
}

// declaredSchema returns sch, the schema of the table child reads, with the columns whose
// declared type says more than GMS's of that type (a copy), and whether there were any.
func declaredSchema(child sql.Node, sch sql.Schema) (sql.Schema, bool) {
	t := strataTable(child)
	if t == nil || len(t.declared) == 0 {
		return sch, false
	}
	var out sql.Schema
	for _, c := range t.declared {
		i := sch.IndexOfColName(c.name)
		if i < 0 || !sch[i].Type.Equals(t.sch.Schema[c.idx].Type) {
			continue
		}
		if out == nil {
			out = sch.Copy()
		}
		out[i].Type = declaredType{gmsType: sch[i].Type, text: c.text, decl: c.decl}
	}
	return orSchema(out, sch), out != nil
}

func orSchema(a, b sql.Schema) sql.Schema {
	if a != nil {
		return a
	}
	return b
}

// strataTable is the Strata table n reads, if it reads one.
func strataTable(n sql.Node) *Table {
	if rt, ok := n.(*plan.ResolvedTable); ok {
		return storeTable(rt.Table)
	}
	return nil
}

// withDatabaseCollation runs n (SHOW CREATE TRIGGER, SHOW TRIGGERS, SHOW CREATE PROCEDURE)
// with its "Database Collation" column the collation of db, as in MySQL. GMS gives
// collation_server (rowexec/show.go), so a trigger of a utf8mb4_general_ci database was
// dumped by mysqldump with utf8mb4_0900_ai_ci as its database's collation, and MariaDB's
// mysqldump, which does not know that collation, stopped there (switch_db_collation).
// SHOW CREATE TRIGGER's statement is given as stored, without the qualification
// GetTriggers adds (unqualify, see qualifyTriggerTable in database.go).
func withDatabaseCollation(ctx *sql.Context, n sql.Node, db sql.Database, row sql.Row, unqualify func(stmt, db string) string) (sql.RowIter, error) {
	cdb, ok := db.(sql.CollatedDatabase)
	if !ok {
		return nil, nil
	}
	col := n.Schema().IndexOfColName("Database Collation")
	if col < 0 {
		return nil, nil
	}
	iter, err := rowexec.DefaultBuilder.Build(ctx, n, row)
	if err != nil {
		return nil, err
	}
	stmtCol := -1
	if unqualify != nil {
		stmtCol = n.Schema().IndexOfColName("SQL Original Statement")
	}
	return &collationIter{RowIter: iter, col: col, name: cdb.GetCollation(ctx).Name(),
		stmtCol: stmtCol, db: db.Name(), unqualify: unqualify}, nil
}

// collationIter sets column col of its rows to name, and unqualifies the statement in
// column stmtCol, if any.
type collationIter struct {
	sql.RowIter
	col       int
	name      string
	stmtCol   int
	db        string
	unqualify func(stmt, db string) string
}

// Next implements sql.RowIter.
func (c *collationIter) Next(ctx *sql.Context) (sql.Row, error) {
	r, err := c.RowIter.Next(ctx)
	if err != nil || c.col >= len(r) {
		return r, err
	}
	r = append(sql.Row(nil), r...)
	r[c.col] = c.name
	if c.stmtCol >= 0 && c.stmtCol < len(r) {
		if s, ok := r[c.stmtCol].(string); ok {
			r[c.stmtCol] = c.unqualify(s, c.db)
		}
	}
	return r, nil
}
