package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// Limits on the shape of statements.
//
// GMS's plan builder and analyser walk a statement recursively, and a Go stack overflow
// cannot be recovered: a deep enough expression (a million `AND`s) kills the process. Some
// of their walks are also quadratic in the depth of an expression (Arithmetic.Type) or
// exponential in the nesting of scalar subqueries in select lists (Subquery.Type through
// Project.Schema), and they do not look at the context, so no KILL can stop them. The parser
// wrapper below refuses such statements right after parsing, before anything walks them,
// as MySQL refuses them (1436 thread stack overrun, 1473 too high level of nesting).
const (
	// maxASTDepth bounds the nesting of a parsed statement, counted in pointers between
	// its root and its deepest node (an operator level is about one): about a thousand
	// nested operators, which GMS plans in under a second.
	maxASTDepth = 1000
	// maxSelectListNesting bounds scalar subqueries nested in select lists, where GMS's
	// planning time doubles with each level (10 levels: about a quarter of a second).
	maxSelectListNesting = 10
	// maxSelectListCost bounds the sum, over the scalar subqueries in select lists, of 2 to
	// the power of their nesting level (GMS's planning time): four chains nested 10 deep.
	maxSelectListCost = 1 << 13
	// shortQuery is the length under which a statement cannot be deeper than maxASTDepth
	// (each level takes at least one byte), so only longer ones are walked.
	shortQuery = 1000
)

// installLimits bounds what the engine accepts (see above and limitParser).
func installLimits(eng *sqle.Engine) {
	installINListRule(eng)
	installDo(eng)
	eng.ProcessList = newLimitProcessList(eng.ProcessList)
	eng.Analyzer.Catalog.RegisterFunction(nil, sql.FunctionN{Name: refusedFunc, Fn: newRefused})
	eng.Parser = limitParser{eng.Parser}
	eng.Analyzer.Parser = eng.Parser
	// GMS parses stored triggers and routines for information_schema and the foreign key
	// and trigger rules with sql.GlobalParser: wrap it too, once per process.
	globalParserOnce.Do(func() { sql.GlobalParser = limitParser{sql.GlobalParser} })
}

var globalParserOnce sync.Once

// limitParser is a sql.Parser that checks every statement it parses against the limits. A
// statement over a limit is replaced by one that fails with the MySQL error when it is bound
// (see refusal), so that the client sees MySQL's code (GMS turns parse errors into 1105), and
// nothing walks the deep tree.
type limitParser struct{ sql.Parser }

var _ sql.Parser = limitParser{}

// ParseSimple implements sql.Parser.
func (p limitParser) ParseSimple(query string) (ast.Statement, error) {
	stmt, err := p.Parser.ParseSimple(query)
	if err != nil {
		if do := reparse(query, p.Parser.ParseSimple); do != nil {
			stmt, err = do, nil
		}
	}
	return checkStatement(context.Background(), query, stmt), err
}

// Parse implements sql.Parser.
func (p limitParser) Parse(ctx *sql.Context, query string, multi bool) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.Parser.Parse(ctx, query, multi)
	if err != nil {
		var doParsed, doRest string
		if do := reparse(query, func(q string) (ast.Statement, error) {
			var st ast.Statement
			var e error
			st, doParsed, doRest, e = p.Parser.Parse(ctx, q, multi)
			return st, e
		}); do != nil {
			stmt, parsed, rest, err = do, doParsed, doRest, nil
		}
	}
	return checkStatement(ctx, parsed, stmt), parsed, rest, err
}

// ParseWithOptions implements sql.Parser.
func (p limitParser) ParseWithOptions(ctx context.Context, query string, delimiter rune, multi bool, o ast.ParserOptions) (ast.Statement, string, string, error) {
	stmt, parsed, rest, err := p.Parser.ParseWithOptions(ctx, query, delimiter, multi, o)
	if err != nil {
		var doParsed, doRest string
		if do := reparse(query, func(q string) (ast.Statement, error) {
			var st ast.Statement
			var e error
			st, doParsed, doRest, e = p.Parser.ParseWithOptions(ctx, q, delimiter, multi, o)
			return st, e
		}); do != nil {
			stmt, parsed, rest, err = do, doParsed, doRest, nil
		}
	}
	return checkStatement(ctx, parsed, stmt), parsed, rest, err
}

// ParseOneWithOptions implements sql.Parser.
func (p limitParser) ParseOneWithOptions(ctx context.Context, query string, o ast.ParserOptions) (ast.Statement, int, error) {
	stmt, n, err := p.Parser.ParseOneWithOptions(ctx, query, o)
	if err != nil {
		doN := 0
		if do := reparse(query, func(q string) (ast.Statement, error) {
			st, m, e := p.Parser.ParseOneWithOptions(ctx, q, o)
			doN = m - len(q) + len(query) // the rewrite made the text 4 bytes longer
			return st, e
		}); do != nil {
			stmt, n, err = do, doN, nil
		}
	}
	if n > 0 && n <= len(query) {
		return checkStatement(ctx, query[:n], stmt), n, err
	}
	return checkStatement(ctx, query, stmt), n, err
}

// checkStatement returns stmt, or a refusal: the shape limits (checkShape), then the names
// (checkIdentifiers, parser.go); a cross-database DELETE without WHERE is kept a DELETE
// (keepDelete, parser.go).
func checkStatement(ctx context.Context, query string, stmt ast.Statement) ast.Statement {
	if stmt == nil {
		return stmt
	}
	if r := checkShape(query, stmt); r != nil {
		return r
	}
	if err := checkIdentifiers(query); err != nil {
		return refusal(erInvalidCharacterString, err.Message)
	}
	if msg := checkAsOfPlaceholder(query, stmt); msg != "" { // asof.go
		return refusal(erWrongArguments, msg)
	}
	keepDelete(ctx, stmt)
	rewriteBitNot(query, stmt)      // bitops.go
	logTableRefs(ctx, query, stmt)  // logtables.go
	noteOneShot(ctx, stmt)          // readonly.go
	return declareColumnTypes(stmt) // declared.go
}

// checkShape returns a refusal of the limit stmt exceeds, or nil. Short statements with few
// parentheses cannot exceed a limit and are not walked: this is all the normal path pays.
func checkShape(query string, stmt ast.Statement) ast.Statement {
	if fkSetDefault(stmt) {
		return refusal(errnoFKSetDefault, "")
	}
	if len(query) < shortQuery && strings.Count(query, "(") < maxSelectListNesting {
		return nil
	}
	w := shapeWalker{}
	w.walk(reflect.ValueOf(stmt), 0, 0, false)
	if w.errno == 0 {
		return nil
	}
	return refusal(w.errno, w.msg)
}

// errnoFKSetDefault makes refusal fail with GMS's sql.ErrForeignKeySetDefault.
const errnoFKSetDefault = -1

var fkDefType = reflect.TypeOf(ast.ForeignKeyDefinition{})

// fkSetDefault reports whether stmt declares a foreign key with ON DELETE or ON UPDATE SET
// DEFAULT, which MySQL parses but refuses. GMS's plan builder refuses it only when its
// parser is a *sql.MysqlParser (validateOnUpdateOnDeleteRefActions), which limitParser
// is not, so limitParser refuses it instead.
func fkSetDefault(stmt ast.Statement) bool {
	switch stmt.(type) {
	case *ast.DDL, *ast.AlterTable:
	default:
		return false
	}
	var find func(v reflect.Value, depth int) bool
	find = func(v reflect.Value, depth int) bool {
		if depth > maxASTDepth {
			return false
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			return !v.IsNil() && find(v.Elem(), depth+1)
		case reflect.Struct:
			if v.Type() == fkDefType { // (read by field: v may come through unexported fields)
				return v.FieldByName("OnDelete").Int() == int64(ast.SetDefault) || v.FieldByName("OnUpdate").Int() == int64(ast.SetDefault)
			}
			for _, i := range structFields(v.Type()) {
				if find(v.Field(i), depth) {
					return true
				}
			}
		case reflect.Slice, reflect.Array:
			if mayHoldPointers(v.Type().Elem()) {
				for i := 0; i < v.Len(); i++ {
					if find(v.Index(i), depth) {
						return true
					}
				}
			}
		}
		return false
	}
	return find(reflect.ValueOf(stmt), 0)
}

// refusedFunc is the function through which a statement over a limit fails: binding a call
// to it returns the MySQL error its two literal arguments give (errno, message).
const refusedFunc = "strata_refused"

// refusal returns SELECT strata_refused(errno, msg): the plan builder fails on it with that
// error, both when the statement is prepared and when it runs.
func refusal(errno int, msg string) ast.Statement {
	call := &ast.FuncExpr{Name: ast.NewColIdent(refusedFunc), Exprs: ast.SelectExprs{
		&ast.AliasedExpr{Expr: ast.NewIntVal([]byte(fmt.Sprint(errno)))},
		&ast.AliasedExpr{Expr: ast.NewStrVal([]byte(msg))},
	}}
	return &ast.Select{SelectExprs: ast.SelectExprs{&ast.AliasedExpr{Expr: call}}}
}

// newRefused is refusedFunc's constructor.
func newRefused(args ...sql.Expression) (sql.Expression, error) {
	if len(args) == 2 {
		errno, _ := args[0].Eval(nil, nil)
		msg, _ := args[1].Eval(nil, nil)
		if n, ok := types.CoalesceInt(errno); ok {
			if n == errnoFKSetDefault {
				return nil, sql.ErrForeignKeySetDefault.New()
			}
			if m, ok := msg.(string); ok {
				return nil, mysql.NewSQLError(n, mysql.SSUnknownSQLState, "%s", m)
			}
		}
	}
	return nil, sql.ErrInvalidArgument.New(refusedFunc)
}

// MySQL error numbers for statements over the limits.
const (
	erStackOverrun     = 1436 // ER_STACK_OVERRUN_NEED_MORE
	erTooHighNestLevel = 1473 // ER_TOO_HIGH_LEVEL_OF_NESTING_FOR_SELECT
)

var (
	selectType       = reflect.TypeOf(ast.Select{})
	subqueryType     = reflect.TypeOf(ast.Subquery{})
	selectExprsField = func() int {
		f, _ := selectType.FieldByName("SelectExprs")
		return f.Index[0]
	}()
)

// shapeWalker measures a parsed statement through reflection, so that every node type is
// covered (vitess's Walk skips procedure bodies and more). Its own recursion stops at the
// depth limit.
type shapeWalker struct {
	errno int
	msg   string
	cost  int // see maxSelectListCost
}

func (w *shapeWalker) walk(v reflect.Value, depth, nesting int, inSelectList bool) {
	if w.errno != 0 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if depth++; depth > maxASTDepth {
			w.errno, w.msg = erStackOverrun, fmt.Sprintf("Thread stack overrun: the statement is nested more than %d levels deep", maxASTDepth)
			return
		}
		w.walk(v.Elem(), depth, nesting, inSelectList)
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), depth, nesting, inSelectList)
		}
	case reflect.Struct:
		t := v.Type()
		if t == subqueryType && inSelectList {
			nesting++
			if w.cost += 1 << nesting; nesting > maxSelectListNesting || w.cost > maxSelectListCost {
				w.errno, w.msg = erTooHighNestLevel, "Too high level of nesting for select"
				return
			}
		}
		for _, i := range structFields(t) {
			in := inSelectList
			if t == selectType {
				in = i == selectExprsField
			}
			w.walk(v.Field(i), depth, nesting, in)
		}
	case reflect.Slice, reflect.Array:
		if !mayHoldPointers(v.Type().Elem()) {
			return
		}
		for i := 0; i < v.Len() && w.errno == 0; i++ {
			w.walk(v.Index(i), depth, nesting, inSelectList)
		}
	case reflect.Map:
		if !mayHoldPointers(v.Type().Elem()) {
			return
		}
		it := v.MapRange()
		for it.Next() && w.errno == 0 {
			w.walk(it.Value(), depth, nesting, inSelectList)
		}
	}
}

var fieldCache sync.Map // reflect.Type -> []int

// structFields returns the indexes of t's fields that may hold pointers.
func structFields(t reflect.Type) []int {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]int)
	}
	var out []int
	for i := 0; i < t.NumField(); i++ {
		if mayHoldPointers(t.Field(i).Type) {
			out = append(out, i)
		}
	}
	fieldCache.Store(t, out)
	return out
}

var pointerCache sync.Map // reflect.Type -> bool

// mayHoldPointers reports whether values of t can lead to other nodes.
func mayHoldPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map:
		return true
	case reflect.Slice, reflect.Array:
		return mayHoldPointers(t.Elem())
	case reflect.Struct:
		if v, ok := pointerCache.Load(t); ok {
			return v.(bool)
		}
		pointerCache.Store(t, true) // a type that contains itself (through slices) holds pointers
		holds := false
		for i := 0; i < t.NumField() && !holds; i++ {
			holds = mayHoldPointers(t.Field(i).Type)
		}
		pointerCache.Store(t, holds)
		return holds
	}
	return false
}
