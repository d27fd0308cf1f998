package sqlstore

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/vitess/go/sqltypes"
)

// EXPLAIN.
//
// GMS answers a plain EXPLAIN with one placeholder row of NULLs, and EXPLAIN FORMAT=TREE
// with a row per line of its plan, which fails ("max1Row iterator returned more than one
// row") for a query its planner knows returns one row, such as a primary key lookup.
// explainGuard, in the exec builder, answers both as MySQL 8 does:
//
//   - FORMAT=TREE: one row holding the whole plan (GMS's tree, not MySQL's text);
//   - plain EXPLAIN: MySQL's table, one row per table access of the analysed plan, in the
//     order they run: id and select_type (SIMPLE, PRIMARY, SUBQUERY, DEPENDENT SUBQUERY,
//     DERIVED, UNION), the table (or its alias), the access type (const, eq_ref, ref, range,
//     index, ALL), the index used and its key_len, ref (const or the columns a join looks up
//     by), rows and filtered (estimates: 1 for a unique lookup, the number of keys for a
//     list of unique keys, else the table's row count; filtered is 100 without a residual
//     WHERE, else MySQL's default guess of 10) and Extra (Using where, Using filesort,
//     Using temporary, Using join buffer (hash join), No tables used).
//
// EXPLAIN ANALYZE keeps GMS's answer.
type explainGuard struct{}

// Build implements sql.NodeExecBuilder.
func (explainGuard) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	d, ok := n.(*plan.DescribeQuery)
	if !ok || d.Format.Analyze {
		return nil, nil
	}
	if d.Format.Plan {
		text := strings.TrimRight(sql.Describe(d.Child, d.Format), "\n")
		return sql.RowsToRowIter(sql.NewRow(text)), nil
	}
	e := &explainer{ctx: ctx, next: 1}
	e.query(d.Child, e.newSelect(topSelectType(d.Child)))
	if len(e.rows) == 0 {
		e.rows = append(e.rows, sql.Row{uint64(1), "SIMPLE", nil, nil, nil, nil, nil, nil, nil, nil, nil, "No tables used"})
	}
	return sql.RowsToRowIter(e.rows...), nil
}

// topSelectType is SIMPLE, or PRIMARY when the query has subqueries, derived tables or
// unions.
func topSelectType(n sql.Node) string {
	complexQuery := false
	inspectPlan(n, func(e sql.Expression) {
		if _, ok := e.(*plan.Subquery); ok {
			complexQuery = true
		}
	}, func(n sql.Node) {
		switch n.(type) {
		case *plan.SubqueryAlias, *plan.SetOp:
			complexQuery = true
		}
	})
	if complexQuery {
		return "PRIMARY"
	}
	return "SIMPLE"
}

// explainer collects the rows of a plain EXPLAIN.
type explainer struct {
	ctx  *sql.Context
	rows []sql.Row
	next uint64 // the next SELECT's id
}

// selectScope is one SELECT of the query: its id and type, and the Extra notes that apply
// to its first table (sorting, grouping).
type selectScope struct {
	id         uint64
	selectType string
	firstRow   int // index in rows of the SELECT's first table, -1 before it
	notes      []string
}

func (e *explainer) newSelect(selectType string) *selectScope {
	s := &selectScope{id: e.next, selectType: selectType, firstRow: -1}
	e.next++
	return s
}

// query explains the plan of one SELECT.
func (e *explainer) query(n sql.Node, s *selectScope) {
	e.node(n, s, false, false)
	if s.firstRow >= 0 && len(s.notes) > 0 {
		r := e.rows[s.firstRow]
		r[11] = joinExtra(r[11], strings.Join(s.notes, "; "))
	}
}

// node explains n within s. where says a filter applies to n's rows; lookupJoin says n is
// the inner side of a lookup join.
func (e *explainer) node(n sql.Node, s *selectScope, where, inJoin bool) {
	defer e.subqueries(n, s)
	switch n := n.(type) {
	case *plan.Filter:
		e.node(n.Child, s, true, inJoin)
	case *plan.Sort, *plan.TopN:
		s.notes = appendOnce(s.notes, "Using filesort")
		e.node(n.Children()[0], s, where, inJoin)
	case *plan.GroupBy:
		if len(n.GroupByExprs) > 0 {
			s.notes = appendOnce(s.notes, "Using temporary")
		}
		e.node(n.Child, s, where, inJoin)
	case *plan.Distinct, *plan.OrderedDistinct:
		s.notes = appendOnce(s.notes, "Using temporary")
		e.node(n.Children()[0], s, where, inJoin)
	case *plan.JoinNode:
		e.node(n.Left(), s, false, true)
		first := len(e.rows)
		e.node(n.Right(), s, false, true)
		if n.Op.IsHash() && len(e.rows) > first {
			r := e.rows[len(e.rows)-1]
			r[11] = joinExtra(r[11], "Using join buffer (hash join)")
		}
	case *plan.SubqueryAlias:
		sub := e.newSelect("DERIVED")
		e.addRow(s, fmt.Sprintf("<derived%d>", sub.id), "ALL", nil, nil, nil, nil, estimateRows(e.ctx, nil), where, nil)
		e.query(n.Child, sub)
	case *plan.SetOp:
		e.node(n.Left(), s, where, inJoin)
		e.query(n.Right(), e.newSelect("UNION"))
	case *plan.TableAlias:
		e.table(n.Child, n.Name(), s, where, inJoin)
	case *plan.IndexedTableAccess:
		e.table(n, n.Name(), s, where, inJoin)
	case *plan.ResolvedTable:
		if name := n.Name(); name != "" && !strings.EqualFold(name, "dual") {
			e.table(n, name, s, where, inJoin)
		}
	default:
		for _, c := range n.Children() {
			e.node(c, s, where, inJoin)
		}
	}
}

// subqueries explains the subquery expressions of n, each a SELECT of its own.
func (e *explainer) subqueries(n sql.Node, _ *selectScope) {
	ex, ok := n.(sql.Expressioner)
	if !ok {
		return
	}
	for _, x := range ex.Expressions() {
		transform.InspectExpr(x, func(x sql.Expression) bool {
			sq, ok := x.(*plan.Subquery)
			if !ok || sq.Query == nil {
				return false
			}
			t := "SUBQUERY"
			if !sq.Correlated().Empty() {
				t = "DEPENDENT SUBQUERY"
			}
			e.query(sq.Query, e.newSelect(t))
			return true
		})
	}
}

// table explains one table access.
func (e *explainer) table(n sql.Node, name string, s *selectScope, where, inJoin bool) {
	ita, ok := n.(*plan.IndexedTableAccess)
	if !ok {
		e.addRow(s, name, "ALL", nil, nil, nil, nil, estimateRows(e.ctx, tableOf(n)), where, nil)
		return
	}
	idx := ita.Index()
	key := idx.ID()
	tbl := ita.TableNode
	if !ita.IsStatic() {
		keyExprs := ita.Expressions()
		if len(keyExprs) == 0 { // a full scan of the index, in its order
			e.addRow(s, name, "index", key, key, keyLen(tbl, idx, len(idx.Expressions())), nil, estimateRows(e.ctx, tbl), where, nil)
			return
		}
		typ, rows := "ref", estimateRows(e.ctx, tbl)
		if ita.IsStrictLookup() {
			typ, rows = "eq_ref", uint64(1)
		}
		refs := make([]string, len(keyExprs))
		for i, x := range keyExprs {
			refs[i] = refName(x)
		}
		e.addRow(s, name, typ, key, key, keyLen(tbl, idx, len(keyExprs)), strings.Join(refs, ","), rows, where, nil)
		return
	}
	lookup, err := ita.GetLookup(e.ctx, nil)
	if err != nil {
		e.addRow(s, name, "range", key, key, nil, nil, estimateRows(e.ctx, tbl), where, nil)
		return
	}
	ranges, _ := lookup.Ranges.(sql.MySQLRangeCollection)
	eq := equalityPrefix(e.ctx, ranges)
	cols := len(idx.Expressions())
	switch {
	case len(ranges) == 1 && eq == cols && (idx.IsUnique() || lookup.IsPointLookup):
		e.addRow(s, name, "const", key, key, keyLen(tbl, idx, eq), constRefs(eq), uint64(1), where, nil)
	case len(ranges) == 1 && eq > 0 && eq == rangeColumns(ranges[0]):
		e.addRow(s, name, "ref", key, key, keyLen(tbl, idx, eq), constRefs(eq), estimateRows(e.ctx, tbl), where, nil)
	case len(ranges) == 1 && rangeColumns(ranges[0]) == 0: // the whole index, in its order
		e.addRow(s, name, "index", key, key, keyLen(tbl, idx, cols), nil, estimateRows(e.ctx, tbl), where, nil)
	default:
		rows := estimateRows(e.ctx, tbl)
		if idx.IsUnique() && eq == cols && uint64(len(ranges)) < rows {
			rows = uint64(len(ranges))
		}
		used := eq
		if used < cols {
			used++
		}
		e.addRow(s, name, "range", key, key, keyLen(tbl, idx, used), nil, rows, where, nil)
	}
}

// addRow appends one row of the EXPLAIN table.
func (e *explainer) addRow(s *selectScope, table, typ string, possible, key, keyLen, ref any, rows uint64, where bool, extra any) {
	filtered := 100.0
	if where {
		filtered = 10.0
		extra = joinExtra(extra, "Using where")
	}
	if s.firstRow < 0 {
		s.firstRow = len(e.rows)
	}
	e.rows = append(e.rows, sql.Row{s.id, s.selectType, table, nil, typ, possible, key, keyLen, ref, rows, filtered, extra})
}

// joinExtra appends note to an Extra value.
func joinExtra(extra any, note string) any {
	if s, ok := extra.(string); ok && s != "" {
		return s + "; " + note
	}
	return note
}

func appendOnce(notes []string, note string) []string {
	for _, n := range notes {
		if n == note {
			return notes
		}
	}
	return append(notes, note)
}

// tableOf finds the table under a table node.
func tableOf(n sql.Node) sql.Node {
	var found sql.Node
	transform.Inspect(n, func(n sql.Node) bool {
		if _, ok := n.(*plan.ResolvedTable); ok && found == nil {
			found = n
		}
		return found == nil
	})
	return found
}

// estimateRows is the table's row count, or 1 when it has none.
func estimateRows(ctx *sql.Context, n sql.Node) uint64 {
	var t sql.Table
	if tn, ok := n.(sql.TableNode); ok {
		t = tn.UnderlyingTable()
	}
	if st, ok := t.(sql.StatisticsTable); ok {
		if c, _, err := st.RowCount(ctx); err == nil && c > 0 {
			return c
		}
	}
	return 1
}

// equalityPrefix is the number of leading index columns every range fixes to one value.
func equalityPrefix(ctx *sql.Context, ranges sql.MySQLRangeCollection) int {
	if len(ranges) == 0 {
		return 0
	}
	prefix := len(ranges[0])
	for _, r := range ranges {
		n := 0
		for _, c := range r {
			if c.Type() != sql.RangeType_ClosedClosed {
				break
			}
			lo, hi := sql.GetMySQLRangeCutKey(c.LowerBound), sql.GetMySQLRangeCutKey(c.UpperBound)
			if cmp, err := c.Typ.Compare(ctx, lo, hi); err != nil || cmp != 0 {
				break
			}
			n++
		}
		prefix = min(prefix, n)
	}
	return prefix
}

// rangeColumns is the number of columns a range bounds (the rest are unbounded).
func rangeColumns(r sql.MySQLRange) int {
	n := 0
	for _, c := range r {
		if c.Type() == sql.RangeType_All {
			break
		}
		n++
	}
	return n
}

// constRefs is MySQL's ref for n constant key parts: "const,const".
func constRefs(n int) any {
	if n == 0 {
		return nil
	}
	return strings.TrimSuffix(strings.Repeat("const,", n), ",")
}

// refName is a lookup key expression as MySQL's ref column shows it: db.table.column for a
// column, func for anything else.
func refName(x sql.Expression) string {
	if gf, ok := x.(*expression.GetField); ok {
		if gf.Database() != "" {
			return gf.Database() + "." + gf.Table() + "." + gf.Name()
		}
		return gf.Table() + "." + gf.Name()
	}
	return "func"
}

// keyLen is MySQL's key_len: the bytes of the first n key columns (plus one per nullable
// column, two per variable-length one), or NULL when they cannot be found.
func keyLen(tbl sql.Node, idx sql.Index, n int) any {
	if tbl == nil || n == 0 {
		return nil
	}
	schema := tbl.Schema()
	if tn, ok := tbl.(sql.TableNode); ok {
		if st := storeTable(tn.UnderlyingTable()); st != nil {
			schema = st.sch.Schema // every column, whatever the query reads (projection.go)
		}
	}
	total := 0
	for _, expr := range idx.Expressions()[:min(n, len(idx.Expressions()))] {
		name := expr[strings.LastIndexByte(expr, '.')+1:]
		i := schema.IndexOfColName(name)
		if i < 0 {
			return nil
		}
		total += columnKeyBytes(schema[i])
	}
	return fmt.Sprint(total)
}

// columnKeyBytes is a column's share of MySQL's key_len.
func columnKeyBytes(c *sql.Column) int {
	n := 0
	t := c.Type
	switch t.Type() {
	case sqltypes.Int8, sqltypes.Uint8, sqltypes.Year:
		n = 1
	case sqltypes.Int16, sqltypes.Uint16:
		n = 2
	case sqltypes.Int24, sqltypes.Uint24, sqltypes.Date:
		n = 3
	case sqltypes.Int32, sqltypes.Uint32, sqltypes.Float32:
		n = 4
	case sqltypes.Int64, sqltypes.Uint64, sqltypes.Float64:
		n = 8
	case sqltypes.Datetime:
		n = 5 + (fractionDigits(t)+1)/2
	case sqltypes.Timestamp:
		n = 4 + (fractionDigits(t)+1)/2
	case sqltypes.Time:
		n = 3 + (fractionDigits(t)+1)/2
	case sqltypes.Enum:
		n = 2
	case sqltypes.Set:
		n = 8
	case sqltypes.Bit:
		n = 8
	case sqltypes.Decimal:
		if dt, ok := t.(sql.DecimalType); ok {
			n = decimalBytes(int(dt.Precision())-int(dt.Scale())) + decimalBytes(int(dt.Scale()))
		}
	default:
		if st, ok := t.(sql.StringType); ok {
			n = int(st.MaxByteLength())
			if t.Type() == sqltypes.VarChar || t.Type() == sqltypes.VarBinary || sqltypes.IsText(t.Type()) || sqltypes.IsBinary(t.Type()) {
				n += 2
			}
		}
	}
	if c.Nullable {
		n++
	}
	return n
}

// decimalBytes is the storage of digits decimal digits in MySQL's DECIMAL (4 bytes per 9).
func decimalBytes(digits int) int {
	partial := [...]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}
	return digits/9*4 + partial[digits%9]
}
