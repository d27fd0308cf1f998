package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"strata/internal/engine"
	"strata/internal/page"
)

// paramLiterals converts the execution's parameters the way GMS's handler does (bind
// variable -> parser value -> planbuilder literal), in order v1..vN, but for integers and
// NULL (directLiteral), and strings and doubles, whose literals it makes as the planbuilder
// would.
func (p *preparedHandler) paramLiterals(ctx *sql.Context, sess *Session, prepare *mysql.PrepareData) (lits []*expression.Literal, ok bool) {
	n := int(prepare.ParamsCount)
	if len(prepare.BindVars) != n {
		return nil, false
	}
	lits = make([]*expression.Literal, n)
	var exprs map[string]ast.Expr // the others, for the planbuilder
	for i := 1; i <= n; i++ {
		name := "v" + strconv.Itoa(i)
		bv := prepare.BindVars[name]
		if bv == nil {
			return nil, false
		}
		if l := directLiteral(bv); l != nil {
			lits[i-1] = l
			continue
		}
		if l := plannedLiteral(ctx, bv); l != nil {
			lits[i-1] = l
			continue
		}
		val, err := sqltypes.BindVariableToValue(bv)
		if err != nil {
			return nil, false
		}
		e, err := ast.ExprFromValue(val)
		if err != nil {
			return nil, false
		}
		if exprs == nil {
			exprs = make(map[string]ast.Expr, n)
		}
		exprs[name] = e
	}
	if exprs == nil {
		return lits, true
	}
	warnings := sess.WarningCount()
	defer func() {
		// the planbuilder reports conversion errors by panicking
		if r := recover(); r != nil {
			lits, ok = nil, false
		}
		if sess.WarningCount() != warnings {
			lits, ok = nil, false
		}
	}()
	b := planbuilder.New(ctx, p.eng.Analyzer.Catalog, p.eng.EventScheduler, p.eng.Parser)
	b.SetBindings(exprs)
	bound := b.BindCtx().Bindings
	for i := 1; i <= n; i++ {
		name := "v" + strconv.Itoa(i)
		if lits[i-1] != nil {
			continue
		}
		l, isLit := bound[name].(*expression.Literal)
		if !isLit {
			return nil, false
		}
		lits[i-1] = l
	}
	return lits, true
}

// directLiteral returns the literal of an integer or NULL parameter, nil for others. An
// integer has the type it has on the wire, BIGINT or BIGINT UNSIGNED, as in MySQL (a
// MYSQL_TYPE_LONGLONG parameter is a BIGINT), where GMS's binder gives a literal the
// smallest integer type that holds its value: the statement's plan then does not depend on
// how large the value is, and one template serves every value.
func directLiteral(bv *querypb.BindVariable) *expression.Literal {
	switch bv.Type {
	case querypb.Type_NULL_TYPE:
		return expression.NewLiteral(nil, types.Null)
	case querypb.Type_INT8, querypb.Type_INT16, querypb.Type_INT24, querypb.Type_INT32, querypb.Type_INT64:
		if v, err := strconv.ParseInt(string(bv.Value), 10, 64); err == nil {
			return expression.NewLiteral(v, types.Int64)
		}
	case querypb.Type_UINT8, querypb.Type_UINT16, querypb.Type_UINT24, querypb.Type_UINT32, querypb.Type_UINT64:
		if v, err := strconv.ParseUint(string(bv.Value), 10, 64); err == nil {
			return expression.NewLiteral(v, types.Uint64)
		}
	}
	return nil
}

// plannedLiteral returns the literal the planbuilder makes of a quoted (string) or double
// parameter, nil for others: through sqlparser.ExprFromValue a quoted value is a string
// literal, which Builder.ConvertVal makes a LONGTEXT of the connection's collation; a double
// is written back in exponent notation, which ConvertVal parses as a float64.
func plannedLiteral(ctx *sql.Context, bv *querypb.BindVariable) *expression.Literal {
	switch {
	case bv.Type == querypb.Type_FLOAT64 || bv.Type == querypb.Type_FLOAT32:
		f, err := strconv.ParseFloat(string(bv.Value), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil
		}
		return expression.NewLiteral(f, types.Float64)
	case sqltypes.IsQuoted(bv.Type) && bv.Type != querypb.Type_TUPLE:
		return expression.NewLiteral(string(bv.Value), types.CreateLongText(ctx.GetCollation()))
	}
	return nil
}

func (t *planTemplate) matches(sess *Session, lits []*expression.Literal) bool {
	if t.sess != sess || t.sessGen != sess.planGen.Load() || len(lits) != len(t.params) {
		return false
	}
	for i, l := range lits {
		if !l.Type().Equals(t.params[i].Type()) {
			return false
		}
	}
	return true
}

var errCatalogBusy = errors.New("sqlstore: catalog change in progress")

// buildTemplate binds and analyses the statement with lits as its parameters, at a fresh
// snapshot of the catalog, and keeps the result if its dependence on the values is known.
func (p *preparedHandler) buildTemplate(ctx *sql.Context, sess *Session, query string, lits []*expression.Literal, parse func() (ast.Statement, error)) (*planTemplate, error) {
	var stmt ast.Statement
	if parse != nil {
		var err error
		if stmt, err = parse(); err != nil {
			return nil, err
		}
	} else {
		var ok bool
		// GMS keys prepared statements by the text without surrounding spaces and
		// trailing semicolons (Engine.PrepareQuery).
		if stmt, ok = p.eng.PreparedDataCache.GetCachedStmt(sess.ID(), sql.RemoveSpaceAndDelimiter(query, ';')); !ok {
			return nil, errors.New("sqlstore: statement not prepared")
		}
	}
	p.s.prep.builds.Add(1)
	t := &planTemplate{sess: sess, sessGen: sess.planGen.Load(), params: lits}

	// Catalog reads see one snapshot that includes every committed catalog change.
	kv, err := p.s.db.Begin(engine.TxnOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer kv.Rollback()
	snap := kv.Snapshot()
	if p.s.catalogBusy.Load() != 0 {
		return nil, errCatalogBusy
	}
	t.catLSN = page.LSN(p.s.catalogLSN.Load())
	if t.catLSN > snap {
		return nil, errCatalogBusy
	}
	p.eng.Analyzer.Catalog.MySQLDb.UserActivePrivilegeSet(ctx)
	_, t.priv = sess.GetPrivilegeSet()

	prev := sess.GetTransaction()
	sess.SetTransaction(&Transaction{kv: kv, temp: true})
	defer sess.SetTransaction(prev)
	warnings := sess.WarningCount()
	defer func() {
		if sess.WarningCount() != warnings {
			sess.ClearWarnings() // the execution that follows clears them anyway
		}
	}()

	binds := make(map[string]sql.Expression, len(lits))
	for i, l := range lits {
		binds["v"+strconv.Itoa(i+1)] = l
	}
	b := planbuilder.New(ctx, p.eng.Analyzer.Catalog, p.eng.EventScheduler, p.eng.Parser)
	b.SetBindingsWithExpr(binds)
	qFlags := &sql.QueryFlags{}
	qFlags.Set(sql.QFlagDeferProjections)
	var bound sql.Node
	// The binder counts the statement (Com_insert, Com_update, Com_delete); the guard counts
	// each execution of the template instead, and a failed build is counted by GMS's path.
	t.coms = uncounted(ctx, sess, func() { bound, qFlags, err = b.BindOnly(stmt, query, qFlags) })
	if err != nil {
		return nil, err
	}
	if unused := b.BindCtx().UnusedBindings(); len(unused) > 0 {
		return nil, errors.New("sqlstore: unused bindings")
	}
	if qFlags.IsSet(sql.QFlagTrigger) || qFlags.IsSet(sql.QFlagDDL) || qFlags.IsSet(sql.QFlagAlterTable) ||
		qFlags.IsSet(sql.QFlagDBDDL) || qFlags.IsSet(sql.QFlagShowWarnings) || qFlags.SubqueryIsSet() {
		return nil, errors.New("sqlstore: statement kind not cached")
	}
	filters := boundFilters(bound)
	if t.derived, err = derivedLiterals(ctx, stmt, bound, lits); err != nil {
		return nil, err
	}
	analyzed, err := p.eng.Analyzer.Analyze(ctx, bound, nil, qFlags)
	if err != nil {
		return nil, err
	}
	if sess.WarningCount() != warnings {
		return nil, errors.New("sqlstore: warnings while planning")
	}
	t.plan = analyzed
	t.isSelect = plan.NodeRepresentsSelect(analyzed)
	t.direct = analyzed.Schema() == nil || types.IsOkResultSchema(analyzed.Schema())
	t.max1Row = qFlags.IsSet(sql.QFlagMax1Row)
	if err := t.check(ctx, filters); err != nil {
		return nil, err
	}
	t.markParams()
	// The plan was costed with the tables' statistics as they are now: it is reused until
	// one of them is rebuilt with a row count more than twice or under half of these
	// (stats.go).
	for _, tbl := range t.tables {
		t.statsGens = append(t.statsGens, p.s.stats.generation(tbl))
	}
	return t, nil
}

// comCounters are the status variables GMS's binder counts statements in.
var comCounters = [...]string{"Com_insert", "Com_update", "Com_delete"}

// comCount is what binding a template's statement added to one of comCounters.
type comCount struct {
	name string
	n    int
}

// uncounted runs fn and takes back what it added to the session's comCounters, returning it.
func uncounted(ctx *sql.Context, sess *Session, fn func()) []comCount {
	read := func() (out [len(comCounters)]uint64) {
		for i, name := range comCounters {
			if v, err := sess.GetStatusVariable(ctx, name); err == nil {
				out[i], _ = v.(uint64)
			}
		}
		return out
	}
	before := read()
	fn()
	var out []comCount
	for i, n := range read() {
		if d := int(n - before[i]); d != 0 {
			sql.IncrementStatusVariable(ctx, comCounters[i], -d)
			out = append(out, comCount{name: comCounters[i], n: d})
		}
	}
	return out
}

// boundFilters returns the WHERE conjuncts of the bound plan's filters.
func boundFilters(n sql.Node) []sql.Expression {
	var out []sql.Expression
	inspectAll(n, func(n sql.Node) {
		if f, ok := n.(*plan.Filter); ok {
			out = append(out, expression.SplitConjunction(f.Expression)...)
		}
	})
	return out
}

// inspectAll visits every node, INSERT sources included (they are not children).
func inspectAll(n sql.Node, fn func(sql.Node)) {
	transform.Inspect(n, func(n sql.Node) bool {
		if n == nil {
			return false
		}
		fn(n)
		if ii, ok := n.(*plan.InsertInto); ok && ii.Source != nil {
			inspectAll(ii.Source, fn)
		}
		return true
	})
}

// check verifies that the analysed plan depends on the parameter values only where
// instantiate puts the new ones, and prepares the lookup recipes.
func (t *planTemplate) check(ctx *sql.Context, filters []sql.Expression) error {
	index := make(map[*expression.Literal]int, len(t.params))
	for i, l := range t.params {
		index[l] = i
	}
	for d, dv := range t.derived {
		index[d] = dv.param
	}
	found := make([]bool, len(t.params))
	var err error
	fail := func(format string, args ...any) {
		if err == nil {
			err = fmt.Errorf("sqlstore: plan not cached: "+format, args...)
		}
	}
	tables := 0
	control := false
	aliases := map[*plan.IndexedTableAccess]string{} // the alias over each aliased lookup
	inspectAll(t.plan, func(n sql.Node) {
		if err != nil {
			return
		}
		switch n := n.(type) {
		case *plan.Project, *plan.Filter, *plan.Sort, *plan.Distinct, *plan.GroupBy, *plan.Having,
			*plan.Limit, *plan.TopN, *plan.Update, *plan.UpdateSource, *plan.InsertInto, *plan.Values,
			*plan.InsertDestination, *binaryChanges, *sortNode, *distinctNode, *prefetchJoin:
		case *plan.StartTransaction, *plan.Commit, *plan.Rollback:
			// Transaction control (BEGIN, START TRANSACTION with its characteristics,
			// COMMIT, ROLLBACK): the node alone, holding all it does; sysbench and ORMs
			// prepare them and run them in every transaction.
			control = n == t.plan
			if !control {
				fail("%T inside a plan", n)
			}
		case *plan.TableAlias:
			if ita, ok := n.Child.(*plan.IndexedTableAccess); ok {
				aliases[ita] = n.Name()
			}
		case *plan.DeleteFrom:
			if n.HasExplicitTargets() {
				fail("multi-table delete")
			}
		case *plan.ResolvedTable:
			tables++
			t.addTable(n)
		case *plan.JoinNode:
			// Joins of the nodes listed here: hash joins (plan.HashLookup keeps its table
			// in the node) and cached results are not.
		case *plan.IndexedTableAccess:
			tables++
			if !n.IsStatic() {
				// The inner side of a lookup join: its keys are expressions of the outer
				// row, parameters among them, evaluated per row.
				if rt, ok := n.TableNode.(*plan.ResolvedTable); ok {
					t.addTable(rt)
				} else {
					fail("index access over %T", n.TableNode)
				}
				for _, e := range n.Expressions() {
					walkParams(e, true, index, found, fail)
				}
				return
			}
			r, e := newRecipe(ctx, n, aliases[n], filters)
			if e != nil {
				err = e
				return
			}
			if t.recipes == nil {
				t.recipes = map[*plan.IndexedTableAccess]*lookupRecipe{}
			}
			t.recipes[n] = r
			if rt, ok := n.TableNode.(*plan.ResolvedTable); ok {
				t.addTable(rt)
			} else {
				fail("index access over %T", n.TableNode)
			}
			return
		default:
			fail("node %T", n)
			return
		}
		if ex, ok := n.(sql.Expressioner); ok {
			for _, e := range ex.Expressions() {
				walkParams(e, true, index, found, fail)
			}
		}
	})
	if err != nil {
		return err
	}
	if control {
		if len(t.params) != 0 {
			return errors.New("sqlstore: plan not cached: transaction control with parameters")
		}
		return nil
	}
	if tables == 0 {
		return errors.New("sqlstore: plan not cached: no table")
	}
	for i, ok := range found {
		if !ok {
			if !t.inRecipes(i) {
				return fmt.Errorf("sqlstore: plan not cached: parameter %d consumed by the analyser", i+1)
			}
		}
	}
	// Parameters both in a recipe and elsewhere are fine: each place gets the new value.
	return nil
}

func (t *planTemplate) addTable(rt *plan.ResolvedTable) {
	t.tables = append(t.tables, rt.UnderlyingTable())
}

// inRecipes reports whether parameter i (or a literal derived from it) makes a lookup.
func (t *planTemplate) inRecipes(i int) bool {
	lits := []sql.Expression{t.params[i]}
	for d, dv := range t.derived {
		if dv.param == i {
			lits = append(lits, d)
		}
	}
	uses := func(leaves []recipeLeaf) bool {
		for _, lf := range leaves {
			for _, l := range lits {
				if lf.value != nil && containsExpr(lf.value, l) {
					return true
				}
			}
		}
		return false
	}
	for _, r := range t.recipes {
		if uses(r.leaves) {
			return true
		}
		for _, alt := range r.alts {
			if uses(alt) {
				return true
			}
		}
	}
	return false
}

// astOp names a comparison operator as seen from the column's side; anything but the six
// comparisons the binder converts literals in shares one name (and so is ambiguous with
// every other).
func astOp(op string, swapped bool) string {
	switch strings.ToLower(op) {
	case ast.EqualStr, ast.NotEqualStr:
		return "="
	case ast.NullSafeEqualStr:
		return "<=>"
	case ast.LessThanStr:
		return flip("<", swapped)
	case ast.LessEqualStr:
		return flip("<=", swapped)
	case ast.GreaterThanStr:
		return flip(">", swapped)
	case ast.GreaterEqualStr:
		return flip(">=", swapped)
	}
	return "?"
}

func exprOp(e sql.Expression, swapped bool) string {
	switch e.(type) {
	case *expression.Equals:
		return "="
	case *expression.NullSafeEquals:
		return "<=>"
	case *expression.LessThan:
		return flip("<", swapped)
	case *expression.LessThanOrEqual:
		return flip("<=", swapped)
	case *expression.GreaterThan:
		return flip(">", swapped)
	case *expression.GreaterThanOrEqual:
		return flip(">=", swapped)
	}
	return "?"
}

func flip(op string, swapped bool) string {
	if !swapped {
		return op
	}
	switch op {
	case "<":
		return ">"
	case "<=":
		return ">="
	case ">":
		return "<"
	case ">=":
		return "<="
	}
	return op
}

// derivedLiterals finds the literals the binder made from parameters by converting them to
// the type of the column they are compared with. Each parameter appears once in the
// statement; the statement's comparisons tell which column it was compared with, and a
// literal of that column's type in a comparison with that column, holding the converted
// value, is the derived one. Anything ambiguous (the column compared with several
// parameters, or with constants too) is refused.
func derivedLiterals(ctx *sql.Context, stmt ast.Statement, bound sql.Node, lits []*expression.Literal) (map[*expression.Literal]derivation, error) {
	params := map[string][]int{} // column name and operator -> parameters compared with it
	consts := map[string]bool{}  // column name and operator compared with a constant
	_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
		c, ok := n.(*ast.ComparisonExpr)
		if !ok {
			return true, nil
		}
		for k, pair := range [2][2]ast.Expr{{c.Left, c.Right}, {c.Right, c.Left}} {
			col, ok := pair[0].(*ast.ColName)
			if !ok {
				continue
			}
			name := col.Name.Lowered() + " " + astOp(c.Operator, k == 1)
			if _, ok := pair[1].(*ast.ColName); ok {
				continue // a column compared with a column: no literal comes of it
			}
			if v, ok := pair[1].(*ast.SQLVal); ok {
				if v.Type == ast.ValArg {
					i, err := strconv.Atoi(strings.TrimPrefix(string(v.Val), ":v"))
					if err == nil && i >= 1 && i <= len(lits) {
						params[name] = append(params[name], i-1)
						continue
					}
				}
			}
			consts[name] = true
		}
		return true, nil
	}, stmt)
	isParam := make(map[*expression.Literal]bool, len(lits))
	for _, l := range lits {
		isParam[l] = true
	}
	out := map[*expression.Literal]derivation{}
	var err error
	inspectAll(bound, func(n sql.Node) {
		ex, ok := n.(sql.Expressioner)
		if !ok || err != nil {
			return
		}
		for _, e := range ex.Expressions() {
			sql.Inspect(e, func(e sql.Expression) bool {
				switch e.(type) {
				case *expression.Equals, *expression.NullSafeEquals, *expression.LessThan, *expression.LessThanOrEqual,
					*expression.GreaterThan, *expression.GreaterThanOrEqual:
				default:
					return true
				}
				ch := e.Children()
				for k, pair := range [2][2]sql.Expression{{ch[0], ch[1]}, {ch[1], ch[0]}} {
					gf, ok1 := pair[0].(*expression.GetField)
					d, ok2 := pair[1].(*expression.Literal)
					if !ok1 || !ok2 || isParam[d] {
						continue
					}
					name := strings.ToLower(gf.Name()) + " " + exprOp(e, k == 1)
					ps := params[name]
					if len(ps) == 0 {
						continue // a constant of the statement
					}
					if len(ps) > 1 || consts[name] {
						err = fmt.Errorf("sqlstore: plan not cached: column %s compared with several values", name)
						return false
					}
					if !d.Type().Equals(gf.Type()) {
						err = fmt.Errorf("sqlstore: plan not cached: unexplained literal %s", d)
						return false
					}
					v, _, cerr := gf.Type().Convert(ctx, lits[ps[0]].Value())
					if cerr != nil && !expression.ErrNilOperand.Is(cerr) {
						err = cerr
						return false
					}
					if cmp, cerr := gf.Type().Compare(ctx, v, d.Value()); cerr != nil || cmp != 0 {
						err = fmt.Errorf("sqlstore: plan not cached: unexplained literal %s", d)
						return false
					}
					out[d] = derivation{param: ps[0], typ: gf.Type()}
				}
				return true
			})
		}
	})
	return out, err
}

func containsExpr(e sql.Expression, target sql.Expression) bool {
	found := false
	sql.Inspect(e, func(e sql.Expression) bool {
		if e == target {
			found = true
		}
		return !found
	})
	return found
}

// walkParams records where parameters are. safe says whether every expression above e is
// one whose value is computed from its children when evaluated, and nothing else.
func walkParams(e sql.Expression, safe bool, index map[*expression.Literal]int, found []bool, fail func(string, ...any)) {
	switch e := e.(type) {
	case *plan.Subquery, *expression.BindVar, *expression.ProcedureParam, *expression.HashInTuple:
		fail("expression %T", e)
		return
	case *expression.Literal:
		if i, ok := index[e]; ok {
			if !safe {
				fail("parameter %d under an expression that may keep its value", i+1)
				return
			}
			found[i] = true
		}
		return
	}
	safe = safe && paramSafe(e)
	for _, c := range e.Children() {
		walkParams(c, safe, index, found, fail)
	}
}

// paramSafe lists the expressions a parameter may sit under: they keep nothing computed
// from their children, so a copy with a new child behaves as if built with it.
func paramSafe(e sql.Expression) bool {
	switch e.(type) {
	case *expression.Equals, *expression.NullSafeEquals, *expression.LessThan, *expression.LessThanOrEqual,
		*expression.GreaterThan, *expression.GreaterThanOrEqual, *expression.And, *expression.Or,
		*expression.Not, *expression.Arithmetic, *expression.Between, *expression.IsNull,
		*expression.SetField, *expression.Alias, *expression.Convert, *expression.AutoIncrement,
		*expression.Tuple, *expression.InTuple, *rangeChecked, *intArith, *doubleOp, *intCast:
		return true
	}
	return false
}

func evaluable(e sql.Expression) bool {
	ok := true
	sql.Inspect(e, func(e sql.Expression) bool {
		switch e.(type) {
		case *expression.GetField, *plan.Subquery, *expression.BindVar, *expression.ProcedureParam:
			ok = false
		}
		return ok
	})
	return ok
}
