package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/go-mysql-server/sql/planbuilder"
	"github.com/dolthub/go-mysql-server/sql/rowexec"
	"github.com/dolthub/go-mysql-server/sql/transform"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

	"strata/internal/engine"
	"strata/internal/page"
)

// Reusing analysed plans of prepared statements.
//
// GMS binds and analyses a prepared statement again on every COM_STMT_EXECUTE. The handler
// below keeps, per connection and statement, a template: the plan GMS's own binder and
// analyser produce for one set of parameter values, in which each parameter is a distinct
// literal object. An execution with other values of the same types substitutes the new
// literals for the old ones and rebuilds the static index lookup from the WHERE conjuncts it
// was made of, with GMS's index builder; everything else in the plan is reused. The result
// runs through GMS's own execution of a bound plan (Handler.ComExecuteBound).
//
// A template is only made for plans whose dependence on the parameter values is known:
//   - every node is of a type listed in checkNode (projections, filters, sorts, grouping,
//     one table read directly or through a static index lookup, UPDATE/DELETE of that
//     table, INSERT ... VALUES): no joins, subqueries, triggers, foreign key handlers,
//     procedures or DDL;
//   - every parameter is still in the plan as the very literal object bound, and every
//     expression between it and its node is of a type listed in paramSafe (so that the
//     analyser cannot have folded it or cached something computed from it);
//   - the static index lookup is exactly what the recipe (the WHERE conjuncts on the
//     index's columns, through sql.MySQLIndexBuilder) gives for the bound values.
//
// An execution falls back to GMS's normal path when its parameter types differ from the
// template's, when the rebuilt lookup is not one non-empty range, or when the template may
// be stale: see templateValid (catalog, session variables, current database, temporary
// tables, privileges, statistics).

// PreparedStats counts what the prepared-statement plan cache did.
type PreparedStats struct {
	Hits      uint64 // executions that reused an analysed plan
	Builds    uint64 // templates built (one analysis each)
	Fallbacks uint64 // executions through GMS's normal path (one analysis each)
}

type preparedCounters struct {
	hits, builds, fallbacks atomic.Uint64
}

// PreparedStats returns the prepared-statement plan cache's counters.
func (s *Store) PreparedStats() PreparedStats {
	return PreparedStats{Hits: s.prep.hits.Load(), Builds: s.prep.builds.Load(), Fallbacks: s.prep.fallbacks.Load()}
}

const (
	maxStmtsPerConn = 64 // templates are kept for this many statement texts per connection
	maxVariants     = 4  // parameter type signatures kept per statement
	maxFailures     = 8  // a statement whose template cannot be built this often is left alone
)

// preparedHandler wraps GMS's handler.
type preparedHandler struct {
	*server.Handler
	s   *Store
	eng *sqle.Engine
	sm  func() *server.SessionManager

	mu    sync.Mutex
	conns map[uint32]map[string]*stmtPlans // connection ID -> statement text -> plans
}

// stmtPlans are the templates of one statement text on one connection; the text, not the
// statement ID, determines the plan, so a client that prepares, executes and closes the
// same statement again and again still reuses it.
type stmtPlans struct {
	variants []*planTemplate
	failed   []*planTemplate // parameter types (and session state) a template failed for
	never    bool
}

// planTemplate is an analysed plan for one statement, session state and parameter types.
type planTemplate struct {
	sess     *Session
	sessGen  uint64
	priv     uint64
	catLSN   page.LSN
	params   []*expression.Literal // the bound literal of each parameter, in order
	derived  map[*expression.Literal]derivation
	plan     sql.Node
	recipes  map[*plan.IndexedTableAccess]*lookupRecipe
	tables   []sql.Table // for the statistics check
	dbs      []string
	isSelect bool
	okResult bool             // the plan returns an OK result (DML)
	max1Row  bool             // the analyser found that it returns at most one row
	fields   []*querypb.Field // its result columns, from its first execution
}

// derivation says how the binder made a literal from a parameter: comparing a column with a
// literal of a congruent type, it converts the literal to the column's type
// (planbuilder's typeExpandComparisonLiteral). The decision depends on the two types only.
type derivation struct {
	param int
	typ   sql.Type
}

// lookupRecipe rebuilds a static index lookup from WHERE conjuncts.
type lookupRecipe struct {
	lookup sql.IndexLookup // the analysed one
	leaves []recipeLeaf
}

type recipeLeaf struct {
	name  string // the index column expression, lower case
	op    analyzer.IndexScanOp
	value sql.Expression // nil for IS NULL / IS NOT NULL
}

func (p *preparedHandler) conn(id uint32) map[string]*stmtPlans {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.conns[id]
	if m == nil {
		m = map[string]*stmtPlans{}
		p.conns[id] = m
	}
	return m
}

func (p *preparedHandler) dropConn(id uint32) {
	p.mu.Lock()
	delete(p.conns, id)
	p.mu.Unlock()
}

// ConnectionClosed implements mysql.Handler.
func (p *preparedHandler) ConnectionClosed(c *mysql.Conn) {
	p.dropConn(c.ConnectionID)
	p.Handler.ConnectionClosed(c)
}

// ComResetConnection implements mysql.Handler: the session is replaced.
func (p *preparedHandler) ComResetConnection(c *mysql.Conn) error {
	p.dropConn(c.ConnectionID)
	return p.Handler.ComResetConnection(c)
}

// ComStmtExecute implements mysql.Handler.
func (p *preparedHandler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	if err := p.tryCached(ctx, c, prepare, callback); err != errNoTemplate {
		return err
	}
	p.s.prep.fallbacks.Add(1)
	return p.Handler.ComStmtExecute(ctx, c, prepare, callback)
}

var errNoTemplate = errors.New("sqlstore: no usable plan template")

// tryCached runs the execution from a template, or returns errNoTemplate having sent nothing.
func (p *preparedHandler) tryCached(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	query := prepare.PrepareStmt
	m := p.conn(c.ConnectionID)
	sp := m[query]
	if sp != nil && sp.never {
		return errNoTemplate
	}
	sqlCtx, err := p.sm().NewContextWithQuery(ctx, c, query)
	if err != nil {
		return errNoTemplate
	}
	sess, ok := sqlCtx.Session.(*Session)
	if !ok {
		return errNoTemplate
	}
	lits, ok := p.paramLiterals(sqlCtx, sess, prepare)
	if !ok {
		return errNoTemplate
	}
	for attempt := 0; attempt < 2; attempt++ {
		t := p.template(sqlCtx, m, query, sess, lits)
		if t == nil {
			return errNoTemplate
		}
		node, ok := t.instantiate(sqlCtx, lits)
		if !ok {
			return errNoTemplate
		}
		chk := &pendingPlan{root: node, t: t}
		sess.pending.Store(chk)
		if t.okResult || (t.max1Row && t.fields != nil) {
			err = p.execDirect(ctx, c, query, node, t, callback)
		} else {
			err = p.Handler.ComExecuteBound(ctx, c, query, node, func(res *sqltypes.Result, more bool) error {
				if t.max1Row && t.fields == nil && res != nil && len(res.Fields) > 0 {
					t.fields = res.Fields
				}
				return callback(res)
			})
		}
		sess.pending.Store(nil)
		if chk.rejected {
			m[query].drop(t) // stale: build again
			continue
		}
		if !chk.passed && err == nil {
			// The plan ran without meeting the guard: cannot happen, but never trust it.
			return fmt.Errorf("sqlstore: prepared plan ran unchecked")
		}
		p.s.prep.hits.Add(1)
		return err
	}
	return errNoTemplate
}

func (sp *stmtPlans) drop(t *planTemplate) {
	for i, v := range sp.variants {
		if v == t {
			sp.variants = append(sp.variants[:i], sp.variants[i+1:]...)
			return
		}
	}
}

// template returns a template for the statement and parameter types, building one if
// needed; nil if there is none to be had.
func (p *preparedHandler) template(ctx *sql.Context, m map[string]*stmtPlans, query string, sess *Session, lits []*expression.Literal) *planTemplate {
	sp := m[query]
	if sp != nil {
		if sp.never {
			return nil
		}
		for _, v := range sp.variants {
			if v.matches(sess, lits) {
				if v.catLSN == page.LSN(p.s.catalogLSN.Load()) {
					return v
				}
				sp.drop(v) // the catalog changed since
				break
			}
		}
		for _, f := range sp.failed {
			if f.matches(sess, lits) && f.catLSN == page.LSN(p.s.catalogLSN.Load()) {
				return nil
			}
		}
	} else {
		if len(m) >= maxStmtsPerConn {
			for q := range m {
				delete(m, q)
				break
			}
		}
		sp = &stmtPlans{}
		m[query] = sp
	}
	gen, catLSN := sess.planGen.Load(), page.LSN(p.s.catalogLSN.Load())
	t, err := p.buildTemplate(ctx, sess, query, lits)
	if err != nil {
		if !errors.Is(err, errCatalogBusy) {
			// Remember the failure for these types (until the session state changes).
			if len(sp.failed) >= maxFailures {
				sp.never = true
			}
			sp.failed = append(sp.failed, &planTemplate{sess: sess, sessGen: gen, catLSN: catLSN, params: lits})
		}
		return nil
	}
	if len(sp.variants) >= maxVariants {
		sp.variants = sp.variants[1:]
	}
	sp.variants = append(sp.variants, t)
	return t
}

// execDirect runs a plan that returns an OK result or at most one row the way GMS's handler
// does (Handler.doQuery with resultForOkIter / resultForMax1RowIter), which ComExecuteBound
// cannot: it does not pass the analyser's query flags, and so spools every result through
// goroutines.
func (p *preparedHandler) execDirect(ctx context.Context, c *mysql.Conn, query string, node sql.Node, t *planTemplate, callback func(*sqltypes.Result) error) error {
	sqlCtx, err := p.sm().NewContextWithQuery(ctx, c, query)
	if err != nil {
		return err
	}
	sqlCtx, err = sqlCtx.ProcessList.BeginQuery(sqlCtx, query)
	if err != nil {
		return err
	}
	defer sqlCtx.ProcessList.EndQuery(sqlCtx)
	if err := sql.SessionCommandBegin(sqlCtx.Session); err != nil {
		return err
	}
	defer sql.SessionCommandEnd(sqlCtx.Session)
	qFlags := &sql.QueryFlags{}
	qFlags.Set(sql.QFlagDeferProjections)
	if t.max1Row {
		qFlags.Set(sql.QFlagMax1Row)
	}
	schema, iter, _, err := p.eng.PrepQueryPlanForExecution(sqlCtx, query, node, qFlags)
	if err != nil {
		return sql.CastSQLError(err)
	}
	// The row's values may point into buf until the callback has sent them.
	buf := sql.ByteBufPool.Get().(*sql.ByteBuffer)
	defer func() {
		buf.Reset()
		sql.ByteBufPool.Put(buf)
	}()
	var res *sqltypes.Result
	if types.IsOkResultSchema(schema) {
		res, err = okResult(sqlCtx, iter)
	} else {
		res, err = oneRowResult(sqlCtx, schema, iter, t.fields, buf)
	}
	if err != nil {
		return sql.CastSQLError(err)
	}
	autocommit, err := plan.IsSessionAutocommit(sqlCtx)
	if err != nil {
		return sql.CastSQLError(err)
	}
	if autocommit {
		c.StatusFlags |= uint16(mysql.ServerStatusAutocommit)
	} else {
		c.StatusFlags &^= uint16(mysql.ServerStatusAutocommit)
	}
	if sqlCtx.GetTransaction() != nil {
		c.StatusFlags |= uint16(mysql.ServerInTransaction)
	} else {
		c.StatusFlags &^= uint16(mysql.ServerInTransaction)
	}
	return callback(res)
}

func okResult(ctx *sql.Context, iter sql.RowIter) (*sqltypes.Result, error) {
	row, err := iter.Next(ctx)
	if err != nil {
		iter.Close(ctx)
		return nil, err
	}
	if _, err := iter.Next(ctx); err != io.EOF {
		iter.Close(ctx)
		return nil, fmt.Errorf("result schema iterator returned more than one row")
	}
	if err := iter.Close(ctx); err != nil {
		return nil, err
	}
	ok, isOK := row[0].(types.OkResult)
	if !isOK {
		return nil, fmt.Errorf("sqlstore: expected an OK result, got %T", row[0])
	}
	res := &sqltypes.Result{RowsAffected: ok.RowsAffected, InsertID: ok.InsertID}
	if ok.Info != nil {
		res.Info = ok.Info.String()
	}
	return res, nil
}

func oneRowResult(ctx *sql.Context, schema sql.Schema, iter sql.RowIter, fields []*querypb.Field, buf *sql.ByteBuffer) (*sqltypes.Result, error) {
	defer iter.Close(ctx)
	row, err := iter.Next(ctx)
	if err == io.EOF {
		return &sqltypes.Result{Fields: fields}, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := iter.Next(ctx); err != io.EOF {
		return nil, fmt.Errorf("result max1Row iterator returned more than one row")
	}
	out, err := server.RowToSQL(ctx, schema, row, nil, buf)
	if err != nil {
		return nil, err
	}
	return &sqltypes.Result{Fields: fields, Rows: [][]sqltypes.Value{out}, RowsAffected: 1}, nil
}

// paramLiterals converts the execution's parameters the way GMS's handler does (bind
// variable -> parser value -> planbuilder literal), in order v1..vN.
func (p *preparedHandler) paramLiterals(ctx *sql.Context, sess *Session, prepare *mysql.PrepareData) (lits []*expression.Literal, ok bool) {
	n := int(prepare.ParamsCount)
	if len(prepare.BindVars) != n {
		return nil, false
	}
	exprs := make(map[string]ast.Expr, n)
	for i := 1; i <= n; i++ {
		bv := prepare.BindVars["v"+strconv.Itoa(i)]
		if bv == nil {
			return nil, false
		}
		val, err := sqltypes.BindVariableToValue(bv)
		if err != nil {
			return nil, false
		}
		e, err := ast.ExprFromValue(val)
		if err != nil {
			return nil, false
		}
		exprs["v"+strconv.Itoa(i)] = e
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
	lits = make([]*expression.Literal, n)
	for i := 1; i <= n; i++ {
		l, isLit := bound["v"+strconv.Itoa(i)].(*expression.Literal)
		if !isLit {
			return nil, false
		}
		lits[i-1] = l
	}
	return lits, true
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
func (p *preparedHandler) buildTemplate(ctx *sql.Context, sess *Session, query string, lits []*expression.Literal) (*planTemplate, error) {
	stmt, ok := p.eng.PreparedDataCache.GetCachedStmt(sess.ID(), query)
	if !ok {
		return nil, errors.New("sqlstore: statement not prepared")
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
	bound, qFlags, err := b.BindOnly(stmt, query, qFlags)
	if err != nil {
		return nil, err
	}
	if unused := b.BindCtx().UnusedBindings(); len(unused) > 0 {
		return nil, errors.New("sqlstore: unused bindings")
	}
	if qFlags.IsSet(sql.QFlagTrigger) || qFlags.IsSet(sql.QFlagDDL) || qFlags.IsSet(sql.QFlagAlterTable) ||
		qFlags.IsSet(sql.QFlagDBDDL) || qFlags.IsSet(sql.QFlagShowWarnings) || qFlags.SubqueryIsSet() || qFlags.JoinIsSet() {
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
	t.okResult = types.IsOkResultSchema(analyzed.Schema())
	t.max1Row = qFlags.IsSet(sql.QFlagMax1Row)
	if err := t.check(ctx, filters); err != nil {
		return nil, err
	}
	for i, tbl := range t.tables {
		st, err := p.eng.Analyzer.Catalog.GetTableStats(ctx, t.dbs[i], tbl)
		if err != nil || len(st) > 0 {
			return nil, errors.New("sqlstore: table has statistics")
		}
	}
	return t, nil
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
	inspectAll(t.plan, func(n sql.Node) {
		if err != nil {
			return
		}
		switch n := n.(type) {
		case *plan.Project, *plan.Filter, *plan.Sort, *plan.Distinct, *plan.GroupBy, *plan.Having,
			*plan.Limit, *plan.TopN, *plan.Update, *plan.UpdateSource, *plan.InsertInto, *plan.Values,
			*plan.TableAlias, *plan.InsertDestination:
		case *plan.DeleteFrom:
			if n.HasExplicitTargets() {
				fail("multi-table delete")
			}
		case *plan.ResolvedTable:
			tables++
			t.addTable(n)
		case *plan.IndexedTableAccess:
			tables++
			if !n.IsStatic() {
				fail("index lookup join")
				return
			}
			r, e := newRecipe(ctx, n, filters)
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
	if tables != 1 {
		return fmt.Errorf("sqlstore: plan not cached: %d tables", tables)
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
	db := ""
	if rt.SqlDatabase != nil {
		db = strings.ToLower(rt.SqlDatabase.Name())
	}
	t.dbs = append(t.dbs, db)
}

// inRecipes reports whether parameter i (or a literal derived from it) makes a lookup.
func (t *planTemplate) inRecipes(i int) bool {
	lits := []sql.Expression{t.params[i]}
	for d, dv := range t.derived {
		if dv.param == i {
			lits = append(lits, d)
		}
	}
	for _, r := range t.recipes {
		for _, lf := range r.leaves {
			for _, l := range lits {
				if lf.value != nil && containsExpr(lf.value, l) {
					return true
				}
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
		*expression.Tuple, *expression.InTuple:
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

// newRecipe finds the WHERE conjuncts that can make ita's lookup and checks that they make
// exactly it for the bound values.
func newRecipe(ctx *sql.Context, ita *plan.IndexedTableAccess, filters []sql.Expression) (*lookupRecipe, error) {
	lookup, err := ita.GetLookup(ctx, nil)
	if err != nil {
		return nil, err
	}
	ranges, isMySQL := lookup.Ranges.(sql.MySQLRangeCollection)
	if !isMySQL || lookup.Index == nil || lookup.IsEmptyRange || lookup.IsSpatialLookup || len(ranges) != 1 ||
		lookup.Index.IsSpatial() || lookup.Index.IsFullText() {
		return nil, fmt.Errorf("sqlstore: plan not cached: lookup kind %s %v %v", lookup.Ranges, lookup.IsEmptyRange, lookup.IsSpatialLookup)
	}
	cols := map[string]bool{}
	for _, cet := range lookup.Index.ColumnExpressionTypes() {
		cols[strings.ToLower(cet.Expression)] = true
	}
	table := strings.ToLower(ita.Name())
	r := &lookupRecipe{lookup: lookup}
	var leaves []sql.Expression
	for _, f := range filters {
		// BETWEEN is two conditions for the index builder
		if b, ok := f.(*expression.Between); ok {
			leaves = append(leaves, expression.NewGreaterThanOrEqual(b.Val, b.Lower), expression.NewLessThanOrEqual(b.Val, b.Upper))
			continue
		}
		leaves = append(leaves, f)
	}
	for _, f := range leaves {
		op, left, right, ok := analyzer.IndexLeafChildren(f)
		if !ok {
			continue
		}
		gf, isGF := left.(*expression.GetField)
		if !isGF {
			left, right = right, left
			op = op.Swap()
			gf, isGF = left.(*expression.GetField)
		}
		if !isGF || !strings.EqualFold(gf.Table(), ita.Name()) {
			continue
		}
		name := table + "." + strings.ToLower(gf.Name())
		if !cols[name] {
			continue
		}
		switch op {
		case analyzer.IndexScanOpIsNull, analyzer.IndexScanOpIsNotNull:
			r.leaves = append(r.leaves, recipeLeaf{name: name, op: op})
		case analyzer.IndexScanOpEq, analyzer.IndexScanOpNullSafeEq, analyzer.IndexScanOpGt,
			analyzer.IndexScanOpGte, analyzer.IndexScanOpLt, analyzer.IndexScanOpLte:
			if right == nil || !evaluable(right) {
				continue
			}
			r.leaves = append(r.leaves, recipeLeaf{name: name, op: op, value: right})
		default:
			return nil, fmt.Errorf("sqlstore: plan not cached: index condition %s", f)
		}
	}
	if len(r.leaves) == 0 {
		return nil, errors.New("sqlstore: plan not cached: no recipe")
	}
	got, ok := r.build(ctx, nil)
	if !ok || !sameRanges(got.Ranges.(sql.MySQLRangeCollection), ranges) {
		return nil, errors.New("sqlstore: plan not cached: lookup not reproduced")
	}
	return r, nil
}

// build makes the lookup for the values the leaves have after replacing the template's
// parameters (subst). It reports false when that lookup is not one non-empty range, or
// when building it fails: the analyser might then have planned differently.
func (r *lookupRecipe) build(ctx *sql.Context, subst map[sql.Expression]sql.Expression) (sql.IndexLookup, bool) {
	bb := sql.NewMySQLIndexBuilder(r.lookup.Index)
	for _, lf := range r.leaves {
		var v any
		if lf.value != nil {
			e := lf.value
			if subst != nil {
				e = substitute(e, subst)
			}
			var err error
			v, err = e.Eval(ctx, nil)
			if err != nil {
				return sql.IndexLookup{}, false
			}
		}
		switch lf.op {
		case analyzer.IndexScanOpEq:
			bb.Equals(ctx, lf.name, v)
		case analyzer.IndexScanOpNullSafeEq:
			if v == nil {
				bb.IsNull(ctx, lf.name)
			} else {
				bb.Equals(ctx, lf.name, v)
			}
		case analyzer.IndexScanOpGt:
			bb.GreaterThan(ctx, lf.name, v)
		case analyzer.IndexScanOpGte:
			bb.GreaterOrEqual(ctx, lf.name, v)
		case analyzer.IndexScanOpLt:
			bb.LessThan(ctx, lf.name, v)
		case analyzer.IndexScanOpLte:
			bb.LessOrEqual(ctx, lf.name, v)
		case analyzer.IndexScanOpIsNull:
			bb.IsNull(ctx, lf.name)
		case analyzer.IndexScanOpIsNotNull:
			bb.IsNotNull(ctx, lf.name)
		}
	}
	if _, err := bb.Build(ctx); err != nil {
		return sql.IndexLookup{}, false
	}
	ranges, err := sql.RemoveOverlappingRanges(bb.Ranges(ctx)...)
	if err != nil || len(ranges) != 1 {
		return sql.IndexLookup{}, false
	}
	if empty, err := ranges[0].IsEmpty(); err != nil || empty {
		return sql.IndexLookup{}, false
	}
	lk := r.lookup
	lk.Ranges = ranges
	return lk, true
}

func sameRanges(a, b sql.MySQLRangeCollection) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			eq, err := a[i][j].Equals(b[i][j])
			if err != nil || !eq {
				return false
			}
		}
	}
	return true
}

func substitute(e sql.Expression, subst map[sql.Expression]sql.Expression) sql.Expression {
	out, _, err := transform.Expr(e, func(e sql.Expression) (sql.Expression, transform.TreeIdentity, error) {
		if l, ok := e.(*expression.Literal); ok {
			if n, ok := subst[l]; ok {
				return n, transform.NewTree, nil
			}
		}
		return e, transform.SameTree, nil
	})
	if err != nil {
		return e
	}
	return out
}

// instantiate returns the template's plan for new parameter literals.
func (t *planTemplate) instantiate(ctx *sql.Context, lits []*expression.Literal) (sql.Node, bool) {
	subst := make(map[sql.Expression]sql.Expression, len(lits)+len(t.derived))
	for i, l := range lits {
		subst[t.params[i]] = l
	}
	for d, dv := range t.derived {
		v, _, err := dv.typ.Convert(ctx, lits[dv.param].Value())
		if err != nil && !expression.ErrNilOperand.Is(err) {
			return nil, false // the binder fails here: let GMS report it
		}
		subst[d] = expression.NewLiteral(v, dv.typ)
	}
	ok := true
	var inst func(n sql.Node) (sql.Node, error)
	inst = func(n sql.Node) (sql.Node, error) {
		out, _, err := transform.Node(n, func(n sql.Node) (sql.Node, transform.TreeIdentity, error) {
			if ita, isITA := n.(*plan.IndexedTableAccess); isITA {
				r := t.recipes[ita]
				if r == nil {
					return n, transform.SameTree, nil
				}
				lk, built := r.build(ctx, subst)
				if !built {
					ok = false
					return n, transform.SameTree, nil
				}
				nita, err := plan.NewStaticIndexedAccessForTableNode(ctx, ita.TableNode, lk)
				if err != nil {
					return nil, transform.SameTree, err
				}
				return nita.WithId(ita.Id()).WithColumns(ita.Columns()).(sql.Node), transform.NewTree, nil
			}
			changed := false
			if ii, isInsert := n.(*plan.InsertInto); isInsert && ii.Source != nil {
				src, err := inst(ii.Source)
				if err != nil {
					return nil, transform.SameTree, err
				}
				if src != ii.Source {
					n = ii.WithSource(src)
					changed = true
				}
			}
			ex, isEx := n.(sql.Expressioner)
			if !isEx {
				return n, transform.TreeIdentity(!changed), nil
			}
			exprs := ex.Expressions()
			var nexprs []sql.Expression
			for i, e := range exprs {
				ne := substitute(e, subst)
				if ne != e {
					if nexprs == nil {
						nexprs = append([]sql.Expression(nil), exprs...)
					}
					nexprs[i] = ne
				}
			}
			if nexprs == nil {
				return n, transform.TreeIdentity(!changed), nil
			}
			nn, err := ex.WithExpressions(nexprs...)
			if err != nil {
				return nil, transform.SameTree, err
			}
			return nn, transform.NewTree, nil
		})
		return out, err
	}
	out, err := inst(t.plan)
	if err != nil || !ok {
		return nil, false
	}
	return out, true
}

// pendingPlan is an instantiated template on its way to execution; the exec builder guard
// checks it once the statement's transaction has begun.
type pendingPlan struct {
	root     sql.Node
	t        *planTemplate
	passed   bool
	rejected bool
}

// planGuard is consulted by GMS's exec builder for every node it builds; it acts only on the
// root of a pending template plan.
type planGuard struct {
	s   *Store
	eng *sqle.Engine
}

var errStalePlan = errors.New("sqlstore: prepared plan is stale")

// Build implements sql.NodeExecBuilder: nil, nil lets GMS build the node as usual.
func (g *planGuard) Build(ctx *sql.Context, n sql.Node, _ sql.Row) (sql.RowIter, error) {
	sess, ok := ctx.Session.(*Session)
	if !ok {
		return nil, nil
	}
	chk := sess.pending.Load()
	if chk == nil || chk.root != n {
		return nil, nil
	}
	sess.pending.Store(nil)
	if !g.templateValid(ctx, sess, chk.t) {
		chk.rejected = true
		return nil, errStalePlan
	}
	chk.passed = true
	// What GMS's QueryWithBindings does around binding and analysis.
	sql.IncrementStatusVariable(ctx, "Questions", 1)
	ctx.ClearWarnings()
	if chk.t.isSelect {
		sql.IncrementStatusVariable(ctx, "Com_select", 1)
	}
	return nil, nil
}

// templateValid reports whether the statement's transaction sees the catalog the template
// was planned on, and the session is as it was then. It runs after the transaction has
// begun and pins its snapshot first.
//
// Catalog changes commit through commitCatalog: catalogBusy is raised before the commit and
// lowered after catalogLSN has moved to the commit's end. So once the snapshot is pinned,
// reading catalogBusy == 0 and then catalogLSN gives an LSN at or above every catalog commit
// the snapshot includes; the template was made the same way. Equal LSNs, included in both
// snapshots, mean both see exactly the catalog commits up to it.
func (g *planGuard) templateValid(ctx *sql.Context, sess *Session, t *planTemplate) bool {
	if t.sess != sess || t.sessGen != sess.planGen.Load() {
		return false
	}
	tx, ok := ctx.GetTransaction().(*Transaction)
	if !ok || tx == nil || tx.done || tx.kv.WroteTree(g.s.sys) {
		return false
	}
	snap := tx.kv.Snapshot()
	if g.s.catalogBusy.Load() != 0 {
		return false
	}
	l := page.LSN(g.s.catalogLSN.Load())
	if l != t.catLSN || l > snap {
		return false
	}
	g.eng.Analyzer.Catalog.MySQLDb.UserActivePrivilegeSet(ctx)
	if _, priv := sess.GetPrivilegeSet(); priv != t.priv {
		return false
	}
	for i, tbl := range t.tables {
		st, err := g.eng.Analyzer.Catalog.GetTableStats(ctx, t.dbs[i], tbl)
		if err != nil || len(st) > 0 {
			return false
		}
	}
	return true
}

// installPreparedPlans returns the handler wrapper that adds the plan cache, and installs
// its guard in eng's exec builder.
func (s *Store) installPreparedPlans(eng *sqle.Engine, sm func() *server.SessionManager) server.HandlerWrapper {
	eng.Analyzer.ExecBuilder = rowexec.NewOverrideBuilder(&planGuard{s: s, eng: eng})
	return func(h mysql.Handler) (mysql.Handler, error) {
		gh, ok := h.(*server.Handler)
		if !ok {
			return h, nil
		}
		return &preparedHandler{Handler: gh, s: s, eng: eng, sm: sm, conns: map[uint32]map[string]*stmtPlans{}}, nil
	}
}
