package sqlstore

import (
	"sort"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
)

// Foreign keys: the child table's record keeps its declared constraints; GMS checks and
// cascades them through the editors and index lookups below.

var _ sql.ForeignKeyTable = (*Table)(nil)

// CreateIndexForForeignKey implements sql.ForeignKeyTable.
func (t *Table) CreateIndexForForeignKey(ctx *sql.Context, def sql.IndexDef) error {
	return t.CreateIndex(ctx, def)
}

// GetDeclaredForeignKeys implements sql.ForeignKeyTable.
func (t *Table) GetDeclaredForeignKeys(*sql.Context) ([]sql.ForeignKeyConstraint, error) {
	out := append([]sql.ForeignKeyConstraint(nil), t.rec.FKs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name }) // as MySQL shows them
	return out, nil
}

// allForeignKeys returns every foreign key declared in every database. GMS asks on every
// UPDATE and DELETE, and the answer changes only with DDL, so it is cached until the catalog
// changes again (a catalog write, or the commit of a transaction that wrote the catalog). A
// transaction with its own uncommitted catalog changes neither uses nor fills the cache.
func (t *Table) allForeignKeys(ctx *sql.Context) ([]sql.ForeignKeyConstraint, error) {
	s := t.s
	own := false
	if tx, ok := ctx.GetTransaction().(*Transaction); ok && tx != nil && !tx.done {
		own = tx.kv.WroteTree(s.sys)
	}
	gen := s.catalogWrites.Load()
	if !own {
		s.fkMu.Lock()
		if s.fkValid && s.fkGen == gen {
			out := s.fkCache
			s.fkMu.Unlock()
			return out, nil
		}
		s.fkMu.Unlock()
	}
	out, err := t.scanForeignKeys(ctx)
	if err == nil && !own {
		s.fkMu.Lock()
		s.fkCache, s.fkGen, s.fkValid = out, gen, true
		s.fkMu.Unlock()
	}
	return out, err
}

func (t *Table) scanForeignKeys(ctx *sql.Context) ([]sql.ForeignKeyConstraint, error) {
	tx, done, err := t.s.txnOf(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	var out []sql.ForeignKeyConstraint
	err = t.s.cat(tx).list(ctx, sysKey("T"), func(b []byte) error {
		var rec tableRecord
		if err := jsonUnmarshal(b, &rec); err != nil {
			return err
		}
		out = append(out, rec.FKs...)
		return nil
	})
	return out, err
}

// GetReferencedForeignKeys implements sql.ForeignKeyTable.
func (t *Table) GetReferencedForeignKeys(ctx *sql.Context) ([]sql.ForeignKeyConstraint, error) {
	all, err := t.allForeignKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []sql.ForeignKeyConstraint
	for _, fk := range all {
		if strings.EqualFold(fk.ParentDatabase, t.db.Name()) && strings.EqualFold(fk.ParentTable, t.Name()) {
			out = append(out, fk)
		}
	}
	return out, nil
}

// AddForeignKey implements sql.ForeignKeyTable; names are unique in a database.
func (t *Table) AddForeignKey(ctx *sql.Context, fk sql.ForeignKeyConstraint) error {
	all, err := t.allForeignKeys(ctx)
	if err != nil {
		return err
	}
	for _, other := range all {
		if strings.EqualFold(other.Name, fk.Name) && strings.EqualFold(other.Database, fk.Database) {
			return sql.ErrForeignKeyDuplicateName.New(fk.Name)
		}
	}
	if err := t.reload(ctx); err != nil {
		return err
	}
	t.rec.FKs = append(t.rec.FKs, fk)
	return t.save(ctx)
}

// DropForeignKey implements sql.ForeignKeyTable.
func (t *Table) DropForeignKey(ctx *sql.Context, name string) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	for i, fk := range t.rec.FKs {
		if strings.EqualFold(fk.Name, name) {
			t.rec.FKs = append(t.rec.FKs[:i], t.rec.FKs[i+1:]...)
			return t.save(ctx)
		}
	}
	return sql.ErrForeignKeyNotFound.New(name, t.Name())
}

// UpdateForeignKey implements sql.ForeignKeyTable.
func (t *Table) UpdateForeignKey(ctx *sql.Context, name string, fk sql.ForeignKeyConstraint) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	for i := range t.rec.FKs {
		if strings.EqualFold(t.rec.FKs[i].Name, name) {
			t.rec.FKs[i] = fk
			return t.save(ctx)
		}
	}
	// GMS also updates the constraints of a parent table that is being renamed; those live in
	// the child's record.
	return t.updateChildForeignKey(ctx, name, fk)
}

func (t *Table) updateChildForeignKey(ctx *sql.Context, name string, fk sql.ForeignKeyConstraint) error {
	d, err := t.s.Database(ctx, fk.Database)
	if err != nil {
		return err
	}
	child, ok, err := d.GetTableInsensitive(ctx, fk.Table)
	if err != nil {
		return err
	}
	if !ok {
		return sql.ErrForeignKeyNotFound.New(name, fk.Table)
	}
	ct := child.(*Table)
	if ct == t || strings.EqualFold(ct.Name(), t.Name()) && strings.EqualFold(ct.db.Name(), t.db.Name()) {
		return sql.ErrForeignKeyNotFound.New(name, t.Name())
	}
	return ct.UpdateForeignKey(ctx, name, fk)
}

// GetForeignKeyEditor implements sql.ForeignKeyTable.
func (t *Table) GetForeignKeyEditor(*sql.Context) sql.ForeignKeyEditor {
	return &fkEditor{editor: editor{t: t}}
}

// fkEditor is an editor that can also look rows up by index, for constraint checks.
type fkEditor struct {
	editor
}

func (e *fkEditor) IndexedAccess(_ *sql.Context, lookup sql.IndexLookup) sql.IndexedTable {
	return &IndexedTable{Table: e.t, lookup: lookup, current: true}
}

func (e *fkEditor) GetIndexes(ctx *sql.Context) ([]sql.Index, error) { return e.t.GetIndexes(ctx) }

func (e *fkEditor) PreciseMatch() bool { return true }
