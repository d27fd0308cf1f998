package sqlstore

import (
	"fmt"
	"strings"

	"github.com/dolthub/go-mysql-server/sql"
)

// ALTER TABLE rewrites the table: GMS streams every row, converted to the new schema, into
// RewriteInserter's inserter, which writes them to new trees; closing it switches the table's
// catalog record to the new schema and trees inside the transaction, and the old trees are
// dropped once it commits. Rows are stored positionally, so every column change rewrites.

var (
	_ sql.RewritableTable = (*Table)(nil)
	_ sql.AlterableTable  = (*Table)(nil)
)

// ShouldRewriteTable implements sql.RewritableTable.
func (t *Table) ShouldRewriteTable(*sql.Context, sql.PrimaryKeySchema, sql.PrimaryKeySchema, *sql.Column, *sql.Column) bool {
	return true
}

// newVersion returns a table record for newSchema, with new trees, keeping the indexes whose
// columns survive (renamed columns renamed in them).
func (t *Table) newVersion(ctx *sql.Context, tx *Transaction, newSchema sql.PrimaryKeySchema, oldColumn, newColumn *sql.Column) (*tableRecord, error) {
	rec := t.rec.clone()
	rec.Columns = nil
	for _, col := range newSchema.Schema {
		rec.Columns = append(rec.Columns, columnRecord(col))
	}
	keepDeclared(&rec, t, newColumn) // declared.go
	rec.PK = append([]int(nil), newSchema.PkOrdinals...)
	for i := range rec.Columns {
		rec.Columns[i].PrimaryKey = false
	}
	for _, o := range rec.PK {
		// A primary key column is never NULL, whatever the new definition said.
		rec.Columns[o].PrimaryKey, rec.Columns[o].Nullable = true, false
	}
	c := t.s.cat(tx)
	id, err := c.nextID(ctx)
	if err != nil {
		return nil, sqlError(err)
	}
	rec.Tree = fmt.Sprintf("%s%d/v%d", tablePrefix, rec.ID, id)
	var kept []indexRecord
	for _, ix := range rec.Indexes {
		var cols []string
		var lengths []uint16
		for i, name := range ix.Columns {
			if oldColumn != nil && newColumn != nil && strings.EqualFold(name, oldColumn.Name) {
				name = newColumn.Name
			}
			if newSchema.Schema.IndexOfColName(name) < 0 {
				continue // the column was dropped
			}
			cols = append(cols, name)
			if i < len(ix.Lengths) {
				lengths = append(lengths, ix.Lengths[i])
			}
		}
		if len(cols) == 0 {
			continue
		}
		ix.Columns, ix.Lengths = cols, lengths
		iid, err := c.nextID(ctx)
		if err != nil {
			return nil, sqlError(err)
		}
		ix.Tree = fmt.Sprintf("%s%d/%d", tablePrefix, rec.ID, iid)
		kept = append(kept, ix)
	}
	rec.Indexes = kept
	for _, tree := range append([]string{rec.Tree}, indexTreeNames(kept)...) {
		if _, err := t.s.tree(ctx, tree); err != nil {
			return nil, err
		}
	}
	return &rec, nil
}

func indexTreeNames(ixs []indexRecord) []string {
	var out []string
	for _, ix := range ixs {
		out = append(out, ix.Tree)
	}
	return out
}

// RewriteInserter implements sql.RewritableTable.
func (t *Table) RewriteInserter(ctx *sql.Context, oldSchema, newSchema sql.PrimaryKeySchema, oldColumn, newColumn *sql.Column, idxCols []sql.IndexColumn) (sql.RowInserter, error) {
	if err := checkColumns(newSchema.Schema); err != nil {
		return nil, err
	}
	if err := t.reload(ctx); err != nil {
		return nil, err
	}
	tx, err := t.s.writeTxn(ctx)
	if err != nil {
		return nil, err
	}
	if len(newSchema.PkOrdinals) == 0 && len(oldSchema.PkOrdinals) > 0 {
		if err := sql.ValidatePrimaryKeyDrop(ctx, t, oldSchema); err != nil {
			return nil, err
		}
	}
	rec, err := t.newVersion(ctx, tx, newSchema, oldColumn, newColumn)
	if err != nil {
		return nil, err
	}
	nt, err := t.s.openTable(ctx, t.db, rec)
	if err != nil {
		return nil, err
	}
	return &rewriter{old: t, new: nt, tx: tx}, nil
}

// rewriter fills a table's new version.
type rewriter struct {
	old, new *Table
	tx       *Transaction
	failed   bool
}

func (r *rewriter) StatementBegin(*sql.Context) {}

func (r *rewriter) DiscardChanges(*sql.Context, error) error {
	r.failed = true
	return nil
}

func (r *rewriter) StatementComplete(*sql.Context) error { return nil }

func (r *rewriter) Insert(ctx *sql.Context, row sql.Row) error {
	return r.tx.sqlErr(r.new.insertRow(ctx, r.tx, row))
}

// Close switches the table to its new version (unless the rewrite failed).
func (r *rewriter) Close(ctx *sql.Context) error {
	if r.failed {
		return nil
	}
	return r.old.switchTo(ctx, r.tx, r.new.rec)
}

// switchTo makes rec the table's record and drops the old trees when the transaction commits.
func (t *Table) switchTo(ctx *sql.Context, tx *Transaction, rec *tableRecord) error {
	oldTrees := append([]string{t.rec.Tree}, indexTreeNames(t.rec.Indexes)...)
	id := t.rec.ID
	if t.rec.Temporary {
		sessRec, ok := t.db.tempTable(ctx, t.rec.Name)
		if !ok {
			return sql.ErrTableNotFound.New(t.rec.Name)
		}
		*sessRec = rec.clone()
		sessRec.Temporary = true
		sessionOf(ctx).planGen.Add(1)
	} else if err := sqlError(t.s.cat(tx).put(ctx, sysKey("T", t.db.rec.Name, rec.Name), rec)); err != nil {
		return err
	}
	tx.root().onCommit = append(tx.root().onCommit, func() {
		c := t.s.counterFor(id)
		c.mu.Lock()
		c.loaded, c.rowsLoaded = false, false
		c.mu.Unlock()
		for _, tr := range oldTrees {
			if err := t.s.db.DropTree(ctx, tr); err != nil {
				t.s.lg.Warn("sqlstore: drop tree after ALTER TABLE", "tree", tr, "err", err)
			}
		}
	})
	return t.reload(ctx)
}

// rewriteWith rewrites every row through fn into a version with newSchema: the
// AlterableTable methods use it when GMS does not drive the rewrite itself.
func (t *Table) rewriteWith(ctx *sql.Context, newSchema sql.PrimaryKeySchema, oldColumn, newColumn *sql.Column, fn func(sql.Row) (sql.Row, error)) error {
	ins, err := t.RewriteInserter(ctx, t.sch, newSchema, oldColumn, newColumn, nil)
	if err != nil {
		return err
	}
	r := ins.(*rewriter)
	it := r.tx.kv.Scan(ctx, t.data, nil, nil, false)
	defer it.Close()
	for it.Next() {
		row, err := decodeRow(ctx, it.Value(), t.sch.Schema)
		if err != nil {
			return err
		}
		nrow, err := fn(row)
		if err != nil {
			return err
		}
		if err := r.Insert(ctx, nrow); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return sqlError(err)
	}
	return r.Close(ctx)
}

func insertAt(s sql.Schema, col *sql.Column, order *sql.ColumnOrder) (sql.Schema, int) {
	pos := len(s)
	if order != nil {
		if order.First {
			pos = 0
		} else if order.AfterColumn != "" {
			if i := s.IndexOfColName(order.AfterColumn); i >= 0 {
				pos = i + 1
			}
		}
	}
	out := append(append(append(sql.Schema{}, s[:pos]...), col), s[pos:]...)
	return out, pos
}

func withPK(s sql.Schema, pkNames []string) sql.PrimaryKeySchema {
	var ords []int
	for _, n := range pkNames {
		if i := s.IndexOfColName(n); i >= 0 {
			ords = append(ords, i)
		}
	}
	return sql.NewPrimaryKeySchema(s, ords...)
}

func (t *Table) pkNames() []string {
	var out []string
	for _, o := range t.sch.PkOrdinals {
		out = append(out, t.sch.Schema[o].Name)
	}
	return out
}

// AddColumn implements sql.AlterableTable: the new column holds NULL until GMS fills defaults.
func (t *Table) AddColumn(ctx *sql.Context, column *sql.Column, order *sql.ColumnOrder) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	col := column.Copy()
	col.Source = t.Name()
	ns, pos := insertAt(t.sch.Schema.Copy(), col, order)
	return t.rewriteWith(ctx, withPK(ns, t.pkNames()), nil, col, func(r sql.Row) (sql.Row, error) {
		return append(append(append(sql.Row{}, r[:pos]...), nil), r[pos:]...), nil
	})
}

// DropColumn implements sql.AlterableTable.
func (t *Table) DropColumn(ctx *sql.Context, name string) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	i := t.sch.Schema.IndexOfColName(name)
	if i < 0 {
		return sql.ErrTableColumnNotFound.New(t.Name(), name)
	}
	old := t.sch.Schema[i]
	ns := append(append(sql.Schema{}, t.sch.Schema[:i]...), t.sch.Schema[i+1:]...)
	return t.rewriteWith(ctx, withPK(ns, t.pkNames()), old, nil, func(r sql.Row) (sql.Row, error) {
		return append(append(sql.Row{}, r[:i]...), r[i+1:]...), nil
	})
}

// ModifyColumn implements sql.AlterableTable: values are converted to the new type.
func (t *Table) ModifyColumn(ctx *sql.Context, name string, column *sql.Column, order *sql.ColumnOrder) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	i := t.sch.Schema.IndexOfColName(name)
	if i < 0 {
		return sql.ErrTableColumnNotFound.New(t.Name(), name)
	}
	old := t.sch.Schema[i]
	col := column.Copy()
	col.Source = t.Name()
	t.withDeclared(name, col) // declared.go
	rest := append(append(sql.Schema{}, t.sch.Schema[:i]...), t.sch.Schema[i+1:]...)
	if order == nil {
		order = &sql.ColumnOrder{}
		if i == 0 {
			order.First = true
		} else {
			order.AfterColumn = t.sch.Schema[i-1].Name
		}
	}
	ns, pos := insertAt(rest, col, order)
	pks := t.pkNames()
	for j, n := range pks {
		if strings.EqualFold(n, name) {
			pks[j] = col.Name
		}
	}
	return t.rewriteWith(ctx, withPK(ns, pks), old, col, func(r sql.Row) (sql.Row, error) {
		v, _, err := col.Type.Convert(ctx, r[i])
		if err != nil {
			return nil, err
		}
		others := append(append(sql.Row{}, r[:i]...), r[i+1:]...)
		return append(append(append(sql.Row{}, others[:pos]...), v), others[pos:]...), nil
	})
}

var _ sql.CollationAlterableTable = (*Table)(nil)

// ModifyDefaultCollation implements sql.CollationAlterableTable (ALTER TABLE ... COLLATE): only
// the default for new columns changes.
func (t *Table) ModifyDefaultCollation(ctx *sql.Context, collation sql.CollationID) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	t.rec.Collation = uint16(collation)
	return t.save(ctx)
}

// ModifyStoredCollation implements sql.CollationAlterableTable (ALTER TABLE ... CONVERT TO
// CHARACTER SET): every string column takes the collation, and the table is rewritten, since
// keys are encoded by collation.
func (t *Table) ModifyStoredCollation(ctx *sql.Context, collation sql.CollationID) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	ns := t.sch.Schema.Copy()
	for _, col := range ns {
		if st, ok := col.Type.(sql.TypeWithCollation); ok && st.Collation() != sql.Collation_binary {
			nt, err := st.WithNewCollation(collation)
			if err != nil {
				return err
			}
			col.Type = nt
		}
	}
	newSchema := withPK(ns, t.pkNames())
	if err := t.rewriteWith(ctx, newSchema, nil, nil, func(r sql.Row) (sql.Row, error) { return r, nil }); err != nil {
		return err
	}
	t.rec.Collation = uint16(collation)
	return t.save(ctx)
}
