package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"
	"github.com/dolthub/go-mysql-server/sql/types"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
	"github.com/shopspring/decimal"
)

// FLOAT, DOUBLE and DECIMAL columns as declared: UNSIGNED, and FLOAT(M,D) / DOUBLE(M,D).
//
// GMS has one FLOAT, one DOUBLE and signed DECIMALs only: its type conversion drops UNSIGNED
// on them and the (M,D) of FLOAT and DOUBLE (sql/types/conversion.go, ColumnTypeToType,
// cases "float", "double" and "decimal"), and GMS tells a float by identity (types.IsFloat:
// t == Float32 || t == Float64), so a type of our own could not stand in for them at run
// time. So the table keeps GMS's type, and the catalog keeps the declared text:
//
//   - limitParser gives such a column of CREATE TABLE / ALTER TABLE a declaredType
//     (declareColumnTypes), GMS's type that prints as declared, so the catalog record
//     (columnRecord) stores "float unsigned", "float(7,4)", "decimal(5,2) unsigned"; reading
//     the record back (schemaOf) gives GMS's type again, and ALTER TABLE keeps the text of
//     the columns it does not change (keepDeclared).
//   - the table refuses a negative value in an UNSIGNED one (checkUnsigned, from the editor):
//     1264 in strict mode, else 0 and a warning, as MySQL.
//   - SHOW CREATE TABLE and SHOW COLUMNS (showcreate.go), information_schema.columns
//     (infoschema.go) and result-set metadata (tinyint1.go) show the declared type.

// declaredType is GMS's type of a column that prints as declared.
type declaredType struct {
	gmsType
	text string
	decl realDecl
}

// String implements sql.Type.
func (d declaredType) String() string { return d.text }

// Convert implements sql.Type: a negative value is out of range for an UNSIGNED column.
func (d declaredType) Convert(ctx context.Context, v any) (any, sql.ConvertInRange, error) {
	out, inRange, err := d.gmsType.Convert(ctx, v)
	if err == nil && inRange == sql.InRange && d.decl.unsigned && isNegative(out) {
		return out, sql.OutOfRange, nil
	}
	return out, inRange, err
}

// gmsType is GMS's type, embedded.
type gmsType interface{ sql.Type }

// realDecl is what a declared FLOAT, DOUBLE or DECIMAL type adds to GMS's.
type realDecl struct {
	unsigned bool
	m, d     int // FLOAT(M,D), DOUBLE(M,D): M > 0
}

// parseRealDecl reads a catalog type text: ok when it is a FLOAT, DOUBLE or DECIMAL that
// says more than GMS's type does.
func parseRealDecl(text string) (realDecl, bool) {
	var r realDecl
	if text == "" || !strings.ContainsAny(text[:1], "fFdDrR") {
		return r, false // the common case, without allocating
	}
	s := strings.ToLower(strings.TrimSpace(text))
	base, _, _ := strings.Cut(s, "(")
	base, _, _ = strings.Cut(base, " ")
	switch base {
	case "float", "double", "real", "decimal":
	default:
		return r, false
	}
	r.unsigned = strings.Contains(s, " unsigned")
	if base != "decimal" {
		if i := strings.IndexByte(s, '('); i >= 0 {
			if j := strings.IndexByte(s[i:], ')'); j > 0 {
				ms, ds, ok := strings.Cut(s[i+1:i+j], ",")
				if ok {
					r.m, _ = strconv.Atoi(strings.TrimSpace(ms))
					r.d, _ = strconv.Atoi(strings.TrimSpace(ds))
				}
			}
		}
	}
	return r, r.unsigned || r.m > 0
}

// erMBiggerThanD is MySQL's ER_M_BIGGER_THAN_D.
const erMBiggerThanD = 1427

// declareColumnTypes gives the FLOAT, DOUBLE and DECIMAL columns that CREATE TABLE or ALTER
// TABLE declares UNSIGNED or with (M,D) a declaredType, or returns MySQL's refusal of a
// definition it does not take.
func declareColumnTypes(stmt ast.Statement) ast.Statement {
	var specs []*ast.TableSpec
	switch s := stmt.(type) {
	case *ast.DDL:
		specs = append(specs, s.TableSpec)
	case *ast.AlterTable:
		for _, d := range s.Statements {
			if d != nil {
				specs = append(specs, d.TableSpec)
			}
		}
	default:
		return stmt
	}
	for _, spec := range specs {
		if spec == nil {
			continue
		}
		for _, cd := range spec.Columns {
			if cd == nil {
				continue
			}
			if msg := declareColumnType(cd.Name.String(), &cd.Type); msg != "" {
				return refusal(erMBiggerThanD, msg)
			}
		}
	}
	return stmt
}

// declareColumnType gives ct a declaredType when it needs one; it returns MySQL's message
// when (M,D) has D > M.
func declareColumnType(name string, ct *ast.ColumnType) string {
	if ct.ResolvedType != nil {
		return ""
	}
	base := strings.ToLower(ct.Type)
	switch base {
	case "float", "double", "real", "double precision", "decimal", "dec", "numeric", "fixed":
	default:
		return ""
	}
	isDecimal := base == "decimal" || base == "dec" || base == "numeric" || base == "fixed"
	var decl realDecl
	decl.unsigned = bool(ct.Unsigned) || bool(ct.Zerofill)
	if !isDecimal && ct.Length != nil && ct.Scale != nil {
		m, err1 := strconv.Atoi(string(ct.Length.Val))
		d, err2 := strconv.Atoi(string(ct.Scale.Val))
		if err1 != nil || err2 != nil {
			return ""
		}
		if d > m {
			return fmt.Sprintf("For float(M,D), double(M,D) or decimal(M,D), M must be >= D (column '%s').", name)
		}
		decl.m, decl.d = m, d
	}
	if !decl.unsigned && decl.m == 0 {
		return ""
	}
	t, err := types.ColumnTypeToType(ct)
	if err != nil {
		return "" // GMS reports it
	}
	var text string
	switch {
	case isDecimal:
		text = t.String()
	case decl.m > 0:
		name := "float"
		if base != "float" {
			name = "double"
		}
		text = fmt.Sprintf("%s(%d,%d)", name, decl.m, decl.d)
	default:
		text = t.String()
	}
	if decl.unsigned {
		text += " unsigned"
	}
	ct.ResolvedType = declaredType{gmsType: t, text: text, decl: decl}
	return ""
}

// declaredCol is a column of a table whose declared type says more than GMS's.
type declaredCol struct {
	idx  int
	name string
	text string
	decl realDecl
	gms  sql.Type // GMS's type of the column (set by copyDeclaredGuard.declaredOf)
}

// declaredCols lists rec's columns whose declared type says more than GMS's.
func declaredCols(rec *tableRecord) []declaredCol {
	var out []declaredCol
	for i, c := range rec.Columns {
		if d, ok := parseRealDecl(c.Type); ok {
			out = append(out, declaredCol{idx: i, name: c.Name, text: c.Type, decl: d})
		}
	}
	return out
}

// isNegative reports whether v, a FLOAT, DOUBLE or DECIMAL value, is below zero.
func isNegative(v any) bool {
	switch x := v.(type) {
	case float32:
		return x < 0
	case float64:
		return x < 0
	case decimal.Decimal:
		return x.Sign() < 0
	case decimal.NullDecimal:
		return x.Valid && x.Decimal.Sign() < 0
	}
	return false
}

// outOfRangeError is a value out of range for column col of a table, at row (1-based)
// of the editor's statement; errcodes_data.go gives it the statement's row number when it
// knows it.
type outOfRangeError struct {
	col string
	row int
}

func (e *outOfRangeError) Error() string {
	return fmt.Sprintf("Out of range value for column '%s' at row %d", e.col, e.row)
}

// checkUnsigned refuses or clips (to 0, with MySQL's warning, when sql_mode is not strict or
// the statement is an INSERT IGNORE or UPDATE IGNORE)
// the negative values of row in the table's UNSIGNED FLOAT, DOUBLE and DECIMAL columns.
// n is the row's number among the statement's rows (1-based).
func (t *Table) checkUnsigned(ctx *sql.Context, row sql.Row, n int) error {
	for _, c := range t.declared {
		if !c.decl.unsigned || c.idx >= len(row) || !isNegative(row[c.idx]) {
			continue
		}
		if strictMode(ctx) && !ignoring(ctx) {
			return &outOfRangeError{col: c.name, row: n}
		}
		row[c.idx] = t.sch.Schema[c.idx].Type.Zero()
		if ctx.Session != nil {
			ctx.Session.Warn(&sql.Warning{Level: "Warning", Code: erWarnDataOutOfRange,
				Message: (&outOfRangeError{col: c.name, row: n}).Error()})
		}
	}
	return nil
}

// strictMode reports whether the session's sql_mode makes a bad value an error.
func strictMode(ctx *sql.Context) bool {
	if ctx == nil || ctx.Session == nil {
		return true
	}
	m := sql.LoadSqlMode(ctx)
	return m.ModeEnabled("STRICT_TRANS_TABLES") || m.ModeEnabled("STRICT_ALL_TABLES")
}

// keepDeclared gives the columns of rec that ALTER TABLE left as they were (all but
// changed) the declared type text they had in old, where GMS's schema lost it.
func keepDeclared(rec *tableRecord, old *Table, changed *sql.Column) {
	for _, c := range old.declared {
		if changed != nil && strings.EqualFold(changed.Name, c.name) {
			continue
		}
		for i := range rec.Columns {
			nc := &rec.Columns[i]
			if !strings.EqualFold(nc.Name, c.name) {
				continue
			}
			oldT, err1 := planbuilder.ParseColumnTypeString(c.text)
			newT, err2 := planbuilder.ParseColumnTypeString(nc.Type)
			if err1 == nil && err2 == nil && oldT.Equals(newT) {
				nc.Type = c.text
			}
		}
	}
}

// withDeclared gives col, a column of the table as GMS sees it, the declared type of the
// table's column old when GMS's types are the same (RENAME COLUMN, ALTER COLUMN … DEFAULT
// hand the table's own column back).
func (t *Table) withDeclared(old string, col *sql.Column) {
	if _, ok := col.Type.(declaredType); ok {
		return
	}
	for _, c := range t.declared {
		if strings.EqualFold(c.name, old) && t.sch.Schema[c.idx].Type.Equals(col.Type) {
			col.Type = declaredType{gmsType: col.Type, text: c.text, decl: c.decl}
			return
		}
	}
}

// copyDeclaredGuard gives CREATE TABLE … LIKE and CREATE TABLE … AS SELECT the declared types
// of the columns they copy: GMS's plan copies the columns' GMS types (planbuilder/ddl.go,
// buildCreateTableLike; a SELECT's schema), which lost them. It changes the plan's columns
// and lets GMS build it.
type copyDeclaredGuard struct{ s *Store }

// Build implements sql.NodeExecBuilder.
func (g copyDeclaredGuard) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	var sel sql.Node
	if tc, ok := n.(*plan.TableCopier); ok { // CREATE TABLE … AS SELECT, as analysed
		n, sel = tc.Destination, tc.Source
	}
	ct, ok := n.(*plan.CreateTable)
	if !ok {
		return nil, nil
	}
	cols := ct.PkSchema().Schema
	if sel == nil {
		sel = ct.Select()
	}
	if sel != nil {
		ssch := sel.Schema()
		if len(ssch) != len(cols) {
			return nil, nil // the statement declares columns of its own too
		}
		for i, sc := range ssch {
			if sc.Source == "" || !strings.EqualFold(sc.Name, cols[i].Name) {
				continue // an expression or an alias: a type of its own
			}
			db := sc.DatabaseSource
			if db == "" {
				db = ctx.GetCurrentDatabase()
			}
			if c, ok := g.declaredOf(ctx, db, sc.Source, sc.Name); ok {
				setDeclared(cols[i], c)
			}
		}
		return nil, nil
	}
	stmt, err := ast.Parse(ctx.Query())
	if err != nil {
		return nil, nil
	}
	ddl, ok := stmt.(*ast.DDL)
	if !ok || ddl.OptLike == nil {
		return nil, nil
	}
	for _, lt := range ddl.OptLike.LikeTables {
		db := lt.DbQualifier.String()
		if db == "" {
			db = ctx.GetCurrentDatabase()
		}
		for _, col := range cols {
			if c, ok := g.declaredOf(ctx, db, lt.Name.String(), col.Name); ok {
				setDeclared(col, c)
			}
		}
	}
	return nil, nil
}

// declaredOf returns the declared type of column col of Strata's table db.table, if it says
// more than GMS's.
func (g copyDeclaredGuard) declaredOf(ctx *sql.Context, db, table, col string) (declaredCol, bool) {
	d, err := g.s.Database(ctx, db)
	if err != nil {
		return declaredCol{}, false
	}
	st, ok, err := d.GetTableInsensitive(ctx, table)
	if err != nil || !ok {
		return declaredCol{}, false
	}
	t, ok := st.(*Table)
	if !ok {
		return declaredCol{}, false
	}
	for _, c := range t.declared {
		if strings.EqualFold(c.name, col) {
			c.gms = t.sch.Schema[c.idx].Type
			return c, true
		}
	}
	return declaredCol{}, false
}

// setDeclared gives col the declared type c when its GMS type is c's.
func setDeclared(col *sql.Column, c declaredCol) {
	if _, ok := col.Type.(declaredType); ok || c.gms == nil || !c.gms.Equals(col.Type) {
		return
	}
	col.Type = declaredType{gmsType: col.Type, text: c.text, decl: c.decl}
}
