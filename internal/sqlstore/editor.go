package sqlstore

import (
	"bytes"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"

	"strata/internal/engine"
	"strata/internal/lock"
	"strata/internal/tuple"
)

// editor applies one statement's row changes to a table in the transaction's write set. Each
// statement starts at a write-set savepoint so that a failed statement leaves nothing behind.
type editor struct {
	t     *Table
	sp    engine.Savepoint
	tx    *Transaction
	kv    *engine.Txn // the engine transaction sp belongs to (a deadlock replaces it)
	begun bool
	rows  int // rows inserted or updated by the statement so far
}

// Inserter implements sql.InsertableTable.
func (t *Table) Inserter(*sql.Context) sql.RowInserter { return &editor{t: t} }

// Updater implements sql.UpdatableTable.
func (t *Table) Updater(*sql.Context) sql.RowUpdater { return &editor{t: t} }

// Deleter implements sql.DeletableTable.
func (t *Table) Deleter(*sql.Context) sql.RowDeleter { return &editor{t: t} }

// Replacer implements sql.ReplaceableTable.
func (t *Table) Replacer(*sql.Context) sql.RowReplacer { return &editor{t: t} }

// StatementBegin implements sql.EditOpenerCloser.
func (e *editor) StatementBegin(ctx *sql.Context) {
	tx, err := e.t.s.writeTxn(ctx)
	if err != nil {
		return
	}
	e.tx, e.kv, e.sp, e.begun = tx, tx.kv, tx.kv.Savepoint(), true
	tx.kv.MarkStatement()
}

// DiscardChanges implements sql.EditOpenerCloser: the statement's writes are undone.
func (e *editor) DiscardChanges(ctx *sql.Context, _ error) error {
	if !e.begun {
		return nil
	}
	e.begun = false
	if e.tx.kv != e.kv || e.tx.done {
		return nil // rolled back whole by a deadlock
	}
	e.tx.kv.EndStatement()
	return sqlError(e.tx.kv.RollbackTo(e.sp))
}

// StatementComplete implements sql.EditOpenerCloser.
func (e *editor) StatementComplete(*sql.Context) error {
	if e.begun {
		e.begun = false
		if e.tx.kv == e.kv {
			e.tx.kv.EndStatement()
		}
	}
	return nil
}

// Close implements sql.Closer.
func (e *editor) Close(*sql.Context) error { return nil }

func (e *editor) txn(ctx *sql.Context) (*Transaction, error) {
	if e.tx != nil && !e.tx.done {
		return e.tx, nil
	}
	return e.t.s.writeTxn(ctx)
}

// Insert implements sql.RowInserter.
func (e *editor) Insert(ctx *sql.Context, row sql.Row) error {
	tx, err := e.txn(ctx)
	if err != nil {
		return err
	}
	if err := checkWritable(tx, e.t); err != nil {
		return err
	}
	e.rows++
	if err := e.t.checkUnsigned(ctx, row, e.rows); err != nil {
		return err
	}
	return tx.sqlErr(e.t.insertRow(ctx, tx, row))
}

func (t *Table) insertRow(ctx *sql.Context, tx *Transaction, row sql.Row) error {
	var pk []byte
	var err error
	if t.keyless() {
		if pk, err = t.nextRowID(ctx); err != nil {
			return err
		}
	} else {
		if pk, err = t.pkKey(ctx, row); err != nil {
			return err
		}
		existing, found, err := tx.kv.GetForUpdate(ctx, t.data, pk, lock.Exclusive)
		if err != nil {
			return sqlError(err)
		}
		if found {
			old, err := decodeRow(ctx, existing, t.sch.Schema)
			if err != nil {
				return err
			}
			return sql.NewUniqueKeyErr(t.dupEntry(ctx, row, t.sch.PkOrdinals, "PRIMARY"), true, old)
		}
	}
	for _, ix := range t.idx {
		if err := t.checkUnique(ctx, tx, ix, row, pk); err != nil {
			return err
		}
	}
	val, err := encodeRow(ctx, nil, t.sch.Schema, row)
	if err != nil {
		return err
	}
	if err := tx.kv.Put(ctx, t.data, pk, val); err != nil {
		return sqlError(err)
	}
	for _, ix := range t.idx {
		if err := t.putIndexEntry(ctx, tx, ix, row, pk); err != nil {
			return err
		}
	}
	t.countRows(1)
	return nil
}

// checkUnique fails if a unique index already holds row's values for a row other than pk. It
// locks the value (whether or not a row has it) so that concurrent inserts of the same value
// wait, and reads the newest committed entries.
func (t *Table) checkUnique(ctx *sql.Context, tx *Transaction, ix *Index, row sql.Row, pk []byte) error {
	if !ix.rec.Unique {
		return nil
	}
	ck, hasNull, err := ix.columnsKey(ctx, row)
	if err != nil || hasNull {
		return err // NULLs never collide
	}
	if err := tx.kv.Lock(ctx, ix.tree, ck, lock.Exclusive); err != nil {
		return sqlError(err)
	}
	it := tx.kv.ScanCurrent(ctx, ix.tree, ck, tuple.PrefixEnd(ck), false)
	defer it.Close()
	for it.Next() {
		other := it.Value()
		if bytes.Equal(other, pk) {
			continue
		}
		v, found, err := tx.kv.GetForUpdate(ctx, t.data, other, lock.Shared)
		if err != nil {
			return sqlError(err)
		}
		var existing sql.Row
		if found {
			if existing, err = decodeRow(ctx, v, t.sch.Schema); err != nil {
				return err
			}
		}
		return sql.NewUniqueKeyErr(t.dupEntry(ctx, row, ix.cols, ix.rec.Name), false, existing)
	}
	return sqlError(it.Err())
}

func (t *Table) putIndexEntry(ctx *sql.Context, tx *Transaction, ix *Index, row sql.Row, pk []byte) error {
	ck, _, err := ix.columnsKey(ctx, row)
	if err != nil {
		return err
	}
	return sqlError(tx.kv.Put(ctx, ix.tree, append(ck, pk...), pk))
}

func (t *Table) deleteIndexEntry(ctx *sql.Context, tx *Transaction, ix *Index, row sql.Row, pk []byte) error {
	ck, _, err := ix.columnsKey(ctx, row)
	if err != nil {
		return err
	}
	return sqlError(tx.kv.Delete(ctx, ix.tree, append(ck, pk...)))
}

// insertIndexEntry checks uniqueness and adds row's entry to ix (index builds).
func (t *Table) insertIndexEntry(ctx *sql.Context, tx *Transaction, ix *Index, row sql.Row, pk []byte) error {
	if err := t.checkUnique(ctx, tx, ix, row, pk); err != nil {
		return err
	}
	return t.putIndexEntry(ctx, tx, ix, row, pk)
}

// rowKey finds the key of a row read by this statement: its primary key, or for a keyless
// table the hidden ID of a stored row with the same values.
func (t *Table) rowKey(ctx *sql.Context, tx *Transaction, row sql.Row) ([]byte, error) {
	if !t.keyless() {
		return t.pkKey(ctx, row)
	}
	want, err := encodeRow(ctx, nil, t.sch.Schema, row)
	if err != nil {
		return nil, err
	}
	it := tx.kv.Scan(ctx, t.data, nil, nil, false)
	defer it.Close()
	for it.Next() {
		if bytes.Equal(it.Value(), want) {
			return append([]byte(nil), it.Key()...), nil
		}
	}
	if err := it.Err(); err != nil {
		return nil, sqlError(err)
	}
	return nil, sql.ErrDeleteRowNotFound.New()
}

// lockForChange takes the row's exclusive lock and checks that the row GMS decided the change
// on is the newest committed version. UPDATE and DELETE read their rows that way (see
// lockingMode), so this only fails when a statement changed a row it read from its snapshot
// after another transaction had changed it: writing over it would lose that update (MySQL
// error 1020, as with innodb_snapshot_isolation).
func (t *Table) lockForChange(ctx *sql.Context, tx *Transaction, pk []byte, old sql.Row) error {
	if tx.kv.Written(t.data, pk) {
		return nil // locked since this transaction first wrote it
	}
	latest, found, err := tx.kv.GetForUpdate(ctx, t.data, pk, lock.Exclusive)
	if err != nil {
		return sqlError(err)
	}
	if found {
		same, err := t.sameRow(ctx, latest, old)
		if err != nil || same {
			return err
		}
	}
	return mysql.NewSQLError(erCheckRead, mysql.SSUnknownSQLState,
		"Record has changed since last read in table '%s'", t.Name())
}

// sameRow reports whether the stored row b holds the values of row.
func (t *Table) sameRow(ctx *sql.Context, b []byte, row sql.Row) (bool, error) {
	enc, err := encodeRow(ctx, nil, t.sch.Schema, row)
	if err == nil && bytes.Equal(enc, b) {
		return true, nil
	}
	stored, err := decodeRow(ctx, b, t.sch.Schema)
	if err != nil {
		return false, err
	}
	for i, col := range t.sch.Schema {
		if i >= len(row) {
			return false, nil
		}
		if (stored[i] == nil) != (row[i] == nil) {
			return false, nil
		}
		if stored[i] == nil {
			continue
		}
		c, err := col.Type.Compare(ctx, stored[i], row[i])
		if err != nil || c != 0 {
			return false, nil
		}
	}
	return true, nil
}

// Delete implements sql.RowDeleter.
func (e *editor) Delete(ctx *sql.Context, row sql.Row) error {
	tx, err := e.txn(ctx)
	if err != nil {
		return err
	}
	if err := checkWritable(tx, e.t); err != nil {
		return err
	}
	return tx.sqlErr(e.t.deleteRow(ctx, tx, row))
}

func (t *Table) deleteRow(ctx *sql.Context, tx *Transaction, row sql.Row) error {
	pk, err := t.rowKey(ctx, tx, row)
	if err != nil {
		return err
	}
	if err := t.lockForChange(ctx, tx, pk, row); err != nil {
		return err
	}
	if err := tx.kv.Delete(ctx, t.data, pk); err != nil {
		return sqlError(err)
	}
	for _, ix := range t.idx {
		if err := t.deleteIndexEntry(ctx, tx, ix, row, pk); err != nil {
			return err
		}
	}
	t.countRows(-1)
	return nil
}

// Update implements sql.RowUpdater.
func (e *editor) Update(ctx *sql.Context, old, new sql.Row) error {
	tx, err := e.txn(ctx)
	if err != nil {
		return err
	}
	if err := checkWritable(tx, e.t); err != nil {
		return err
	}
	e.rows++
	if err := e.t.checkUnsigned(ctx, new, e.rows); err != nil {
		return err
	}
	return tx.sqlErr(e.t.updateRow(ctx, tx, old, new))
}

func (t *Table) updateRow(ctx *sql.Context, tx *Transaction, old, new sql.Row) error {
	oldPk, err := t.rowKey(ctx, tx, old)
	if err != nil {
		return err
	}
	newPk := oldPk
	if !t.keyless() {
		if newPk, err = t.pkKey(ctx, new); err != nil {
			return err
		}
	}
	if !bytes.Equal(oldPk, newPk) {
		if err := t.deleteRow(ctx, tx, old); err != nil {
			return err
		}
		return t.insertRow(ctx, tx, new)
	}
	if err := t.lockForChange(ctx, tx, oldPk, old); err != nil {
		return err
	}
	type change struct {
		ix       *Index
		old, new []byte
	}
	var changes []change
	for _, ix := range t.idx {
		ok, _, err := ix.columnsKey(ctx, old)
		if err != nil {
			return err
		}
		nk, _, err := ix.columnsKey(ctx, new)
		if err != nil {
			return err
		}
		if !bytes.Equal(ok, nk) {
			if err := t.checkUnique(ctx, tx, ix, new, oldPk); err != nil {
				return err
			}
			changes = append(changes, change{ix, ok, nk})
		}
	}
	val, err := encodeRow(ctx, nil, t.sch.Schema, new)
	if err != nil {
		return err
	}
	if err := tx.kv.Put(ctx, t.data, oldPk, val); err != nil {
		return sqlError(err)
	}
	for _, c := range changes {
		if err := tx.kv.Delete(ctx, c.ix.tree, append(c.old, oldPk...)); err != nil {
			return sqlError(err)
		}
		if err := tx.kv.Put(ctx, c.ix.tree, append(c.new, oldPk...), oldPk); err != nil {
			return sqlError(err)
		}
	}
	return nil
}
