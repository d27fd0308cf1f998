package sqlstore

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"
)

// Temporary tables belong to one session: their records live in the session, not in the
// catalog, so no other session sees them, and their trees are dropped when the session ends
// (or, after a crash, at the next start, since no catalog record references them).

var _ sql.TemporaryTableCreator = (*Database)(nil)

var tempSeq atomic.Uint64

type tempKey struct{ db, table string }

func sessionOf(ctx *sql.Context) *Session {
	if ctx == nil {
		return nil
	}
	s, _ := ctx.Session.(*Session)
	return s
}

// CreateTemporaryTable implements sql.TemporaryTableCreator.
func (d *Database) CreateTemporaryTable(ctx *sql.Context, name string, schema sql.PrimaryKeySchema, collation sql.CollationID) error {
	sess := sessionOf(ctx)
	if sess == nil {
		return errNotSupported("temporary tables outside a Strata session")
	}
	key := tempKey{strings.ToLower(d.rec.Name), strings.ToLower(name)}
	if _, ok := sess.temp[key]; ok {
		return sql.ErrTableAlreadyExists.New(name)
	}
	id := tempSeq.Add(1)
	rec := &tableRecord{Name: name, ID: 1<<62 | id, PK: schema.PkOrdinals, Collation: uint16(collation),
		Tree: fmt.Sprintf("%stmp%d", tablePrefix, id), Temporary: true}
	for _, col := range schema.Schema {
		rec.Columns = append(rec.Columns, columnRecord(col))
	}
	if _, err := d.s.tree(ctx, rec.Tree); err != nil {
		return err
	}
	if sess.temp == nil {
		sess.temp = map[tempKey]*tableRecord{}
	}
	sess.temp[key] = rec
	sess.planGen.Add(1) // prepared plan templates may name a table it hides
	return nil
}

// tempTable returns the session's temporary table name in d, if any.
func (d *Database) tempTable(ctx *sql.Context, name string) (*tableRecord, bool) {
	sess := sessionOf(ctx)
	if sess == nil || sess.temp == nil {
		return nil, false
	}
	rec, ok := sess.temp[tempKey{strings.ToLower(d.rec.Name), strings.ToLower(name)}]
	return rec, ok
}

// dropTemp drops a temporary table of the session.
func (d *Database) dropTemp(ctx *sql.Context, name string) bool {
	sess := sessionOf(ctx)
	rec, ok := d.tempTable(ctx, name)
	if !ok {
		return false
	}
	delete(sess.temp, tempKey{strings.ToLower(d.rec.Name), strings.ToLower(name)})
	sess.planGen.Add(1)
	d.s.dropTrees(ctx, rec)
	return true
}

// dropTrees drops a table's trees now.
func (s *Store) dropTrees(ctx *sql.Context, rec *tableRecord) {
	s.dropCounter(rec.ID)
	for _, tr := range append([]string{rec.Tree}, indexTreeNames(rec.Indexes)...) {
		if err := s.db.DropTree(ctx, tr); err != nil {
			s.lg.Warn("sqlstore: drop tree of a temporary table", "tree", tr, "err", err)
		}
	}
}

// dropTempTables drops every temporary table of a session (at its end).
func (s *Session) dropTempTables() {
	for k, rec := range s.temp {
		delete(s.temp, k)
		s.store.dropTrees(sql.NewEmptyContext(), rec)
	}
}
