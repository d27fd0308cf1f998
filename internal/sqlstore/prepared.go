package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/analyzer"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/plan"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"

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
//   - every node is of a type listed in planTemplate.check (projections, filters, sorts, grouping,
//     one table read directly or through a static index lookup, UPDATE/DELETE of that
//     table, INSERT ... VALUES; or BEGIN, START TRANSACTION, COMMIT or ROLLBACK alone): no
//     subqueries, triggers, foreign key handlers, procedures or DDL;
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
	Points    uint64 // index lookups of reused plans made as points, without the index builder
}

type preparedCounters struct {
	hits, builds, fallbacks, points atomic.Uint64
}

// PreparedStats returns the prepared-statement plan cache's counters.
func (s *Store) PreparedStats() PreparedStats {
	return PreparedStats{Hits: s.prep.hits.Load(), Builds: s.prep.builds.Load(), Fallbacks: s.prep.fallbacks.Load(), Points: s.prep.points.Load()}
}

const (
	maxStmtsPerConn = 256 // templates are kept for this many statement texts per connection
	maxVariants     = 4   // parameter type signatures kept per statement
	maxFailures     = 8   // a statement whose template cannot be built this often is left alone
)

// preparedHandler wraps GMS's handler.
type preparedHandler struct {
	*server.Handler
	s   *Store
	eng *sqle.Engine
	sm  func() *server.SessionManager

	mu    sync.Mutex
	conns map[uint32]map[string]*stmtPlans // connection ID -> statement text -> plans
	tick  atomic.Uint64                    // orders statement executions, for eviction
}

// stmtPlans are the templates of one statement text on one connection; the text, not the
// statement ID, determines the plan, so a client that prepares, executes and closes the
// same statement again and again still reuses it.
type stmtPlans struct {
	used     uint64 // the handler's tick at the statement's last execution
	variants []*planTemplate
	failed   []*planTemplate // parameter types (and session state) a template failed for
	never    bool
}

// planTemplate is an analysed plan for one statement, session state and parameter types.
type planTemplate struct {
	sess      *Session
	sessGen   uint64
	priv      uint64
	catLSN    page.LSN
	params    []*expression.Literal // the bound literal of each parameter, in order
	derived   map[*expression.Literal]derivation
	plan      sql.Node
	recipes   map[*plan.IndexedTableAccess]*lookupRecipe
	own       map[sql.Node]bool // nodes whose expressions hold parameters (markParams)
	touched   map[sql.Node]bool // those and the nodes above them
	tables    []sql.Table       // for the statistics check
	statsGens []statsGen        // each table's statistics when the plan was made
	isSelect  bool
	direct    bool             // it returns an OK result (DML) or nothing (BEGIN, COMMIT): execDirect needs no fields
	max1Row   bool             // the analyser found that it returns at most one row
	coms      []comCount       // the statement counters its binding adds to
	fields    []*querypb.Field // its result columns, from its first execution
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
	// alts, when set, are the rows of one IN list or the disjuncts of one OR: the lookup is
	// the union of the ranges of leaves plus each alternative in turn.
	alts [][]recipeLeaf
	// keyTypes are the types of the index's columns, by name.
	keyTypes map[string]sql.Type
	// pointPlan, when set, makes the ranges without the index builder (prepared_points.go).
	pointPlan *pointPlan
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

// ComQuery implements mysql.Handler: see txnControlText.
func (p *preparedHandler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	if txnControlText(query) {
		if err := p.tryText(ctx, c, query, callback); err != errNoTemplate {
			return err
		}
	}
	return p.Handler.ComQuery(ctx, c, query, callback)
}

// ComMultiQuery implements mysql.Handler: see txnControlText.
func (p *preparedHandler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	if txnControlText(query) {
		if err := p.tryText(ctx, c, query, callback); err != errNoTemplate {
			return "", err
		}
	}
	return p.Handler.ComMultiQuery(ctx, c, query, callback)
}

// txnControlText reports whether a text query is BEGIN, START TRANSACTION, COMMIT or
// ROLLBACK alone. Drivers send them as text (go-sql-driver's Begin and Commit, go-tpc, most
// ORMs), two of every transaction's statements: their plans are reused as prepared ones are,
// keyed by the text.
func txnControlText(query string) bool {
	if len(query) > 32 {
		return false
	}
	q := sql.RemoveSpaceAndDelimiter(query, ';')
	switch strings.ToLower(strings.Join(strings.Fields(q), " ")) {
	case "begin", "start transaction", "commit", "rollback":
		return true
	}
	return false
}

// tryText runs a text transaction-control statement from its template, or returns
// errNoTemplate having sent nothing.
func (p *preparedHandler) tryText(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	m, sqlCtx, sess, ok := p.statement(ctx, c, query)
	if !ok {
		return errNoTemplate
	}
	parse := func() (ast.Statement, error) {
		stmt, _, rest, err := p.eng.Parser.Parse(sqlCtx, query, false)
		if err == nil && rest != "" {
			err = errors.New("sqlstore: more than one statement")
		}
		return stmt, err
	}
	return p.runCached(ctx, c, sqlCtx, sess, m, query, nil, parse, func(res *sqltypes.Result) error { return callback(res, false) })
}

// tryCached runs the execution from a template, or returns errNoTemplate having sent nothing.
func (p *preparedHandler) tryCached(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	query := prepare.PrepareStmt
	m, sqlCtx, sess, ok := p.statement(ctx, c, query)
	if !ok {
		return errNoTemplate
	}
	lits, ok := p.paramLiterals(sqlCtx, sess, prepare)
	if !ok {
		return errNoTemplate
	}
	return p.runCached(ctx, c, sqlCtx, sess, m, query, lits, nil, callback)
}

// statement marks the connection's statement as executed and returns the connection's
// templates and the statement's context and session; false if it is not to be cached.
func (p *preparedHandler) statement(ctx context.Context, c *mysql.Conn, query string) (map[string]*stmtPlans, *sql.Context, *Session, bool) {
	m := p.conn(c.ConnectionID)
	if sp := m[query]; sp != nil {
		sp.used = p.tick.Add(1)
		if sp.never {
			return nil, nil, nil, false
		}
	}
	sqlCtx, err := p.sm().NewContextWithQuery(ctx, c, query)
	if err != nil {
		return nil, nil, nil, false
	}
	sess, ok := sqlCtx.Session.(*Session)
	return m, sqlCtx, sess, ok
}

// runCached runs the statement from its template for lits, building one if needed (parse,
// if set, gives the statement to build from; else it is the prepared one), or returns
// errNoTemplate having sent nothing.
func (p *preparedHandler) runCached(ctx context.Context, c *mysql.Conn, sqlCtx *sql.Context, sess *Session, m map[string]*stmtPlans, query string, lits []*expression.Literal, parse func() (ast.Statement, error), callback func(*sqltypes.Result) error) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		t := p.template(sqlCtx, m, query, sess, lits, parse)
		if t == nil {
			return errNoTemplate
		}
		node, points, ok := t.instantiate(sqlCtx, lits)
		if !ok {
			return errNoTemplate
		}
		p.s.prep.points.Add(uint64(points))
		chk := &pendingPlan{root: node, t: t}
		sess.pending.Store(chk)
		if t.direct || t.fields != nil {
			err = p.execDirect(ctx, c, query, node, t, callback)
		} else {
			err = p.Handler.ComExecuteBound(ctx, c, query, node, func(res *sqltypes.Result, more bool) error {
				if t.fields == nil && res != nil && len(res.Fields) > 0 {
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
func (p *preparedHandler) template(ctx *sql.Context, m map[string]*stmtPlans, query string, sess *Session, lits []*expression.Literal, parse func() (ast.Statement, error)) *planTemplate {
	sp := m[query]
	if sp != nil {
		if sp.never {
			return nil
		}
		for _, v := range sp.variants {
			if v.matches(sess, lits) {
				if v.catLSN == page.LSN(p.s.catalogLSN.Load()) && v.statsLike(p.s) {
					return v
				}
				// The catalog or the tables' statistics changed since: the guard would reject
				// it once the statement runs, leaving an error in the log for nothing.
				sp.drop(v)
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
			// Forget the statement executed least recently.
			var oldest string
			var at uint64
			for q, v := range m {
				if oldest == "" || v.used < at {
					oldest, at = q, v.used
				}
			}
			delete(m, oldest)
		}
		sp = &stmtPlans{used: p.tick.Add(1)}
		m[query] = sp
	}
	gen, catLSN := sess.planGen.Load(), page.LSN(p.s.catalogLSN.Load())
	t, err := p.buildTemplate(ctx, sess, query, lits, parse)
	if err != nil {
		p.s.lg.Debug("sqlstore: prepared statement planned per execution", "query", query, "reason", err)
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

// installPreparedPlans returns the handler wrapper that adds the plan cache, and installs
// its guard in eng's exec builder.
func (s *Store) installPreparedPlans(eng *sqle.Engine, sm func() *server.SessionManager) server.HandlerWrapper {
	installExecGuards(eng, s.files.Load(), copyDeclaredGuard{s: s}, &planGuard{s: s, eng: eng}, s.dataErrorGuard(eng))
	return func(h mysql.Handler) (mysql.Handler, error) {
		gh, ok := h.(*server.Handler)
		if !ok {
			return h, nil
		}
		return &preparedHandler{Handler: gh, s: s, eng: eng, sm: sm, conns: map[uint32]map[string]*stmtPlans{}}, nil
	}
}
