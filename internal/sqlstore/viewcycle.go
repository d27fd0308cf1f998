package sqlstore

import (
	"strings"
	"sync"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	ast "github.com/dolthub/vitess/go/vt/sqlparser"
)

// Views that read each other.
//
// GMS expands a view by binding its definition, which expands the views it reads, and so on:
// a cycle (v1 reads v2, which reads v1) recurses until the Go stack overflows, which kills
// the process. CreateView refuses a definition that would close a cycle, as MySQL does, and
// GetViewDefinition refuses to hand out a view on a cycle (one stored by an older build, or
// by two concurrent CREATE VIEWs), so that using it is an error instead of a crash.

// maxViewGraph bounds the views one check visits.
const maxViewGraph = 4096

// viewRef names a table or view that a view definition reads.
type viewRef struct{ db, name string }

func (r viewRef) key() viewRef { return viewRef{strings.ToLower(r.db), strings.ToLower(r.name)} }

// errViewRecursive is MySQL's ER_VIEW_RECURSIVE.
func errViewRecursive(db, name string) error {
	return mysql.NewSQLError(1462, mysql.SSUnknownSQLState, "`%s`.`%s` contains view recursion", db, name)
}

// checkViewCycle returns ER_VIEW_RECURSIVE if the view db.name, defined by def, reads itself
// through the views it reads.
func (s *Store) checkViewCycle(ctx *sql.Context, db, name string, def sql.ViewDefinition) error {
	target := viewRef{db, name}.key()
	type pending struct {
		db  string
		def sql.ViewDefinition
	}
	seen := map[viewRef]bool{}
	stack := []pending{{db, def}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, r := range viewRefsOf(ctx, p.db, p.def) {
			k := r.key()
			if k == target {
				return errViewRecursive(db, name)
			}
			if seen[k] {
				continue
			}
			if seen[k] = true; len(seen) > maxViewGraph {
				return errViewRecursive(db, name)
			}
			v, ok, err := s.viewDefinition(ctx, r.db, r.name)
			if err != nil {
				return err
			}
			if ok {
				stack = append(stack, pending{r.db, v})
			}
		}
	}
	return nil
}

// viewDefinition reads the stored definition of view db.name, if there is one.
func (s *Store) viewDefinition(ctx *sql.Context, db, name string) (sql.ViewDefinition, bool, error) {
	var v sql.ViewDefinition
	d, err := s.Database(ctx, db)
	if sql.ErrDatabaseNotFound.Is(err) {
		return v, false, nil
	} else if err != nil {
		return v, false, err
	}
	sd, ok := d.(*Database)
	if !ok {
		return v, false, nil
	}
	ok, err = getDef(sd, ctx, "V", name, &v)
	return v, ok, err
}

// viewRefs memoises viewRefsOf's parsing by definition text (a pure function of its key).
var viewRefs = struct {
	sync.Mutex
	m map[string][]viewRef
}{m: map[string][]viewRef{}}

// viewRefsOf returns the tables and views that def, a view of database db, reads. A
// definition that does not parse reads nothing here (GMS reports it when it is used).
func viewRefsOf(ctx *sql.Context, db string, def sql.ViewDefinition) []viewRef {
	key := db + "\x00" + def.SqlMode + "\x00" + def.CreateViewStatement
	viewRefs.Lock()
	refs, ok := viewRefs.m[key]
	viewRefs.Unlock()
	if ok {
		return refs
	}
	stmt, err := ast.ParseWithOptions(ctx, def.CreateViewStatement, sql.NewSqlModeFromString(def.SqlMode).ParserOptions())
	if err != nil {
		return nil
	}
	ddl, ok := stmt.(*ast.DDL)
	if !ok || ddl.ViewSpec == nil {
		return nil
	}
	ctes := map[string]bool{}
	var names []ast.TableName
	_ = ast.Walk(func(n ast.SQLNode) (bool, error) {
		switch n := n.(type) {
		case *ast.CommonTableExpr:
			if n.AliasedTableExpr != nil {
				ctes[strings.ToLower(n.As.String())] = true
			}
		case *ast.AliasedTableExpr:
			if tn, ok := n.Expr.(ast.TableName); ok {
				names = append(names, tn)
			}
		}
		return true, nil
	}, ddl.ViewSpec.ViewExpr)
	for _, tn := range names {
		r := viewRef{db, tn.Name.String()}
		if !tn.DbQualifier.IsEmpty() {
			r.db = tn.DbQualifier.String()
		} else if ctes[strings.ToLower(tn.Name.String())] {
			continue
		}
		refs = append(refs, r)
	}
	viewRefs.Lock()
	if len(viewRefs.m) >= 4096 {
		clear(viewRefs.m)
	}
	viewRefs.m[key] = refs
	viewRefs.Unlock()
	return refs
}
