package sqlstore

import (
	"context"
	"fmt"
	"io"
	randv2 "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"

	"strata/internal/engine"
	"strata/internal/lock"
	"strata/internal/page"
	"strata/internal/tuple"
)

// Table is a SQL table: rows in one engine tree keyed by the primary key (or a hidden row ID),
// one more tree per secondary index.
type Table struct {
	s    *Store
	db   *Database
	rec  *tableRecord
	sch  sql.PrimaryKeySchema
	data page.ID
	idx  []*Index
	// declared are the columns whose declared type says more than GMS's (declared.go).
	declared []declaredCol
	// proj, when set, is the columns a query reads (projection.go).
	proj *projection
}

var (
	_ sql.Table                    = (*Table)(nil)
	_ sql.PrimaryKeyTable          = (*Table)(nil)
	_ sql.InsertableTable          = (*Table)(nil)
	_ sql.UpdatableTable           = (*Table)(nil)
	_ sql.DeletableTable           = (*Table)(nil)
	_ sql.ReplaceableTable         = (*Table)(nil)
	_ sql.TruncateableTable        = (*Table)(nil)
	_ sql.AutoIncrementTable       = (*Table)(nil)
	_ sql.IndexAddressableTable    = (*Table)(nil)
	_ sql.IndexAlterableTable      = (*Table)(nil)
	_ sql.TemporaryTable           = (*Table)(nil)
	_ sql.CommentedTable           = (*Table)(nil)
	_ sql.StatisticsTable          = (*Table)(nil)
	_ sql.CheckTable               = (*Table)(nil)
	_ sql.CheckAlterableTable      = (*Table)(nil)
	_ sql.PrimaryKeyAlterableTable = (*Table)(nil)
)

// tableFromRecord opens a table from its catalog record's bytes. Parsing a schema (column
// types go through the SQL parser) costs more than a query, so parsed schemas are cached by
// the record's exact bytes: a changed table has a new record, and so a new entry.
func (s *Store) tableFromRecord(ctx context.Context, d *Database, raw []byte) (*Table, error) {
	if v, ok := s.schemas.Load(string(raw)); ok {
		c := v.(*cachedSchema)
		rec := c.rec.clone()
		return s.openTableWith(ctx, d, &rec, c.sch, c.declared)
	}
	var rec tableRecord
	if err := jsonUnmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("sqlstore: table record: %w", err)
	}
	sch, err := schemaOf(&rec)
	if err != nil {
		return nil, err
	}
	if s.schemaCount.Add(1) > maxCachedSchemas {
		s.schemas.Clear()
		s.schemaCount.Store(0)
	}
	declared := declaredCols(&rec)
	s.schemas.Store(string(raw), &cachedSchema{rec: rec.clone(), sch: sch, declared: declared})
	return s.openTableWith(ctx, d, &rec, sch, declared)
}

const maxCachedSchemas = 10000

type cachedSchema struct {
	rec      tableRecord
	sch      sql.PrimaryKeySchema
	declared []declaredCol // declared.go
}

func (r tableRecord) clone() tableRecord {
	r.Columns = append([]colRecord(nil), r.Columns...)
	r.PK = append([]int(nil), r.PK...)
	r.Checks = append([]sql.CheckDefinition(nil), r.Checks...)
	r.FKs = append([]sql.ForeignKeyConstraint(nil), r.FKs...)
	idx := make([]indexRecord, len(r.Indexes))
	for i, ix := range r.Indexes {
		ix.Columns = append([]string(nil), ix.Columns...)
		ix.Lengths = append([]uint16(nil), ix.Lengths...)
		idx[i] = ix
	}
	r.Indexes = idx
	return r
}

func (s *Store) openTable(ctx context.Context, d *Database, rec *tableRecord) (*Table, error) {
	sch, err := schemaOf(rec)
	if err != nil {
		return nil, err
	}
	return s.openTableWith(ctx, d, rec, sch, declaredCols(rec))
}

func (s *Store) openTableWith(ctx context.Context, d *Database, rec *tableRecord, sch sql.PrimaryKeySchema, declared []declaredCol) (*Table, error) {
	data, err := s.db.Tree(rec.Tree)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: table %s: %w", rec.Name, err)
	}
	t := &Table{s: s, db: d, rec: rec, sch: sch, data: data, declared: declared}
	for i := range rec.Indexes {
		ix := &rec.Indexes[i]
		root, err := s.db.Tree(ix.Tree)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: index %s of %s: %w", ix.Name, rec.Name, err)
		}
		t.idx = append(t.idx, newIndex(t, ix, root))
	}
	return t, nil
}

// Name implements sql.Nameable.
func (t *Table) Name() string { return t.rec.Name }

func (t *Table) String() string { return t.rec.Name }

// Schema implements sql.Table.
func (t *Table) Schema() sql.Schema {
	if t.proj != nil {
		return t.proj.sch
	}
	return t.sch.Schema
}

// PrimaryKeySchema implements sql.PrimaryKeyTable.
func (t *Table) PrimaryKeySchema() sql.PrimaryKeySchema { return t.sch }

// Collation implements sql.Table.
func (t *Table) Collation() sql.CollationID {
	if t.rec.Collation == 0 {
		return sql.Collation_Default
	}
	return sql.CollationID(t.rec.Collation)
}

// Comment implements sql.CommentedTable.
func (t *Table) Comment() string { return t.rec.Comment }

// IsTemporary implements sql.TemporaryTable.
func (t *Table) IsTemporary() bool { return t.rec.Temporary }

// save writes the table record back to the catalog in ctx's transaction (a temporary
// table's record lives in its session).
func (t *Table) save(ctx *sql.Context) error {
	if t.rec.Temporary {
		if rec, ok := t.db.tempTable(ctx, t.rec.Name); ok {
			*rec = t.rec.clone()
			rec.Temporary = true
			sessionOf(ctx).planGen.Add(1)
		}
		return nil
	}
	tx, err := t.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	return sqlError(t.s.cat(tx).put(ctx, sysKey("T", t.db.rec.Name, t.rec.Name), t.rec))
}

// reload re-reads the table record (DDL steps use one handle across several changes).
func (t *Table) reload(ctx *sql.Context) error {
	if t.rec.Temporary {
		rec, ok := t.db.tempTable(ctx, t.rec.Name)
		if !ok {
			return sql.ErrTableNotFound.New(t.rec.Name)
		}
		r := rec.clone()
		r.Temporary = true
		nt, err := t.s.openTable(ctx, t.db, &r)
		if err != nil {
			return err
		}
		*t = *nt
		return nil
	}
	tx, done, err := t.s.txnOf(ctx)
	if err != nil {
		return err
	}
	defer done()
	var rec tableRecord
	ok, err := t.s.cat(tx).get(ctx, sysKey("T", t.db.rec.Name, t.rec.Name), &rec)
	if err != nil {
		return err
	}
	if !ok {
		return sql.ErrTableNotFound.New(t.rec.Name)
	}
	nt, err := t.s.openTable(ctx, t.db, &rec)
	if err != nil {
		return err
	}
	*t = *nt
	return nil
}

// pkKey encodes the primary key of row; keyless tables use a hidden row ID, given by rowID.
func (t *Table) pkKey(ctx *sql.Context, row sql.Row) ([]byte, error) {
	var k []byte
	for _, o := range t.sch.PkOrdinals {
		var err error
		if k, err = appendKey(ctx, k, t.sch.Schema[o].Type, row[o]); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func (t *Table) keyless() bool { return len(t.sch.PkOrdinals) == 0 }

// singlePartition is the one partition of a table.
type singlePartition struct {
	lookup  *sql.IndexLookup
	current bool // see IndexedTable.current
}

func (singlePartition) Key() []byte { return []byte("all") }

type partitionIter struct {
	p    sql.Partition
	done bool
}

func (it *partitionIter) Next(*sql.Context) (sql.Partition, error) {
	if it.done {
		return nil, io.EOF
	}
	it.done = true
	return it.p, nil
}

func (it *partitionIter) Close(*sql.Context) error { return nil }

// Partitions implements sql.Table.
func (t *Table) Partitions(*sql.Context) (sql.PartitionIter, error) {
	return &partitionIter{p: singlePartition{}}, nil
}

// PartitionRows implements sql.Table.
func (t *Table) PartitionRows(ctx *sql.Context, p sql.Partition) (sql.RowIter, error) {
	tx, done, err := t.s.txnOf(ctx)
	if err != nil {
		return nil, err
	}
	if sp, ok := p.(singlePartition); ok && sp.lookup != nil {
		return t.lookupRows(ctx, tx, done, sp.lookup, sp.current)
	}
	it := tx.kv.ScanAtStatementStart(ctx, t.data, nil, nil, false)
	r := &rowIter{t: t, it: it, done: done, tx: tx}
	r.mode, r.locking = lockingMode(ctx)
	return r, nil
}

// rowIter decodes the rows of a data tree scan.
type rowIter struct {
	t       *Table
	it      *engine.Iter
	done    func()
	tx      *Transaction
	locking bool
	mode    lock.Mode
}

func (r *rowIter) Next(ctx *sql.Context) (sql.Row, error) {
	for {
		if !r.it.Next() {
			if err := r.it.Err(); err != nil {
				return nil, sqlError(err)
			}
			return nil, io.EOF
		}
		val := r.it.Value()
		if r.locking {
			v, ok, err := r.t.lockedRow(ctx, r.tx, r.it.Key(), r.mode)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue // deleted since the snapshot
			}
			val = v
		}
		return r.t.rowOut(ctx, val)
	}
}

func (r *rowIter) Close(*sql.Context) error {
	r.it.Close()
	r.done()
	return nil
}

// storeTable returns the Store table that table is or wraps (a GMS table wrapper, an
// index access), or nil.
func storeTable(table sql.Table) *Table {
	for range 8 {
		switch t := table.(type) {
		case *Table:
			return t
		case *IndexedTable:
			return t.Table
		case sql.TableWrapper:
			table = t.Underlying()
		default:
			return nil
		}
	}
	return nil
}

// DataLength implements sql.StatisticsTable (an estimate).
func (t *Table) DataLength(ctx *sql.Context) (uint64, error) {
	n, _, err := t.RowCount(ctx)
	return n * 128, err
}

// RowCount implements sql.StatisticsTable with an estimate: the analyzer asks for it on every
// query to cost index scans, so it must not scan. The count is taken once per process, then
// follows inserts and deletes (rolled back ones included, hence "estimate"): by a scan for a
// small table, by random leaf dives for a large one, so that the first query on a table
// costs the same at any size (InnoDB's TABLE_ROWS is sampled the same way).
func (t *Table) RowCount(ctx *sql.Context) (uint64, bool, error) {
	c := t.s.counterFor(t.rec.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.rowsLoaded {
		tx, done, err := t.s.txnOf(ctx)
		if err != nil {
			return 0, false, err
		}
		defer done()
		n, err := initialRowCount(ctx, t, tx)
		if err != nil {
			return 0, false, err
		}
		c.rows.Store(n)
		c.rowsLoaded = true
	}
	return uint64(max(c.rows.Load(), 0)), false, nil
}

// initialRowCount counts t's rows as tx sees them: exactly for a table the first dives find small,
// else by the estimate of statsCountDives dives.
func initialRowCount(ctx *sql.Context, t *Table, tx *Transaction) (int64, error) {
	rng := randv2.New(randv2.NewPCG(t.rec.ID, 1))
	_, est, small, err := diveRows(ctx, t, tx, rng, statsCountDives, 0)
	if err != nil {
		return 0, err
	}
	if !small {
		return int64(est), nil
	}
	it := tx.kv.Scan(ctx, t.data, nil, nil, false)
	defer it.Close()
	var n int64
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		return 0, sqlError(err)
	}
	return n, nil
}

// countRows adjusts the row count estimate.
func (t *Table) countRows(delta int64) {
	t.s.counterFor(t.rec.ID).rows.Add(delta)
}

// Truncate implements sql.TruncateableTable: every row and index entry is deleted in the
// transaction.
func (t *Table) Truncate(ctx *sql.Context) (int, error) {
	tx, err := t.s.writeTxn(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, tree := range append([]page.ID{t.data}, t.indexTrees()...) {
		var keys [][]byte
		it := tx.kv.Scan(ctx, tree, nil, nil, false)
		for it.Next() {
			keys = append(keys, append([]byte(nil), it.Key()...))
		}
		if err := it.Err(); err != nil {
			it.Close()
			return 0, sqlError(err)
		}
		it.Close()
		for _, k := range keys {
			if err := tx.kv.Delete(ctx, tree, k); err != nil {
				return 0, sqlError(err)
			}
		}
		if tree == t.data {
			n = len(keys)
		}
	}
	t.countRows(-int64(n))
	return n, nil
}

func (t *Table) indexTrees() []page.ID {
	var out []page.ID
	for _, ix := range t.idx {
		out = append(out, ix.tree)
	}
	return out
}

// GetChecks implements sql.CheckTable.
func (t *Table) GetChecks(*sql.Context) ([]sql.CheckDefinition, error) { return t.rec.Checks, nil }

// CreateCheck implements sql.CheckAlterableTable.
func (t *Table) CreateCheck(ctx *sql.Context, check *sql.CheckDefinition) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	for _, c := range t.rec.Checks {
		if check.Name != "" && strings.EqualFold(c.Name, check.Name) {
			return fmt.Errorf("duplicate check constraint name %q", check.Name)
		}
	}
	t.rec.Checks = append(t.rec.Checks, *check)
	return t.save(ctx)
}

// DropCheck implements sql.CheckAlterableTable.
func (t *Table) DropCheck(ctx *sql.Context, name string) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	for i, c := range t.rec.Checks {
		if strings.EqualFold(c.Name, name) {
			t.rec.Checks = append(t.rec.Checks[:i], t.rec.Checks[i+1:]...)
			return t.save(ctx)
		}
	}
	return sql.ErrUnknownConstraint.New(name)
}

// CreatePrimaryKey implements sql.PrimaryKeyAlterableTable.
func (t *Table) CreatePrimaryKey(*sql.Context, []sql.IndexColumn) error {
	return errNotSupported("changing the primary key of a table")
}

// DropPrimaryKey implements sql.PrimaryKeyAlterableTable.
func (t *Table) DropPrimaryKey(*sql.Context) error {
	return errNotSupported("changing the primary key of a table")
}

// counter holds a table's auto-increment and hidden row ID sequences; they are shared by
// every transaction (as InnoDB's are) and rebuilt from the data after a restart.
type counter struct {
	mu      sync.Mutex
	loaded  bool
	autoInc uint64 // next auto-increment value
	rowID   uint64 // next hidden row ID

	rowsLoaded bool
	rows       atomic.Int64 // estimated row count
}

func (s *Store) counterFor(id uint64) *counter {
	s.countersMu.Lock()
	defer s.countersMu.Unlock()
	c := s.counters[id]
	if c == nil {
		c = &counter{}
		s.counters[id] = c
	}
	return c
}

func (s *Store) dropCounter(id uint64) {
	s.countersMu.Lock()
	delete(s.counters, id)
	s.countersMu.Unlock()
	s.stats.drop(id)
}

func (t *Table) autoIncCol() int {
	for i, c := range t.sch.Schema {
		if c.AutoIncrement {
			return i
		}
	}
	return -1
}

// loadCounter fills c from the newest committed data: the largest auto-increment value and
// row ID in use, and the table's persisted AUTO_INCREMENT. c.mu is held.
func (t *Table) loadCounter(ctx *sql.Context, c *counter) error {
	if c.loaded {
		return nil
	}
	tx, done, err := t.s.txnOf(ctx)
	if err != nil {
		return err
	}
	defer done()
	c.autoInc, c.rowID = max(t.rec.AutoInc, 1), 1
	ai := t.autoIncCol()
	if ai < 0 && !t.keyless() {
		c.loaded = true
		return nil
	}
	it := tx.kv.ScanCurrent(ctx, t.data, nil, nil, true)
	defer it.Close()
	first := true
	for it.Next() {
		if t.keyless() && first {
			e, _, err := tuple.Next(it.Key())
			if err == nil && e.Kind == tuple.KindUint {
				c.rowID = e.Uint + 1
			}
		}
		first = false
		if ai < 0 {
			break
		}
		row, err := decodeRow(ctx, it.Value(), t.sch.Schema)
		if err != nil {
			return err
		}
		if v, ok := toUint(row[ai]); ok && v+1 > c.autoInc {
			c.autoInc = v + 1
		}
		if len(t.sch.PkOrdinals) > 0 && t.sch.PkOrdinals[0] == ai {
			break // ordered by it: the last row has the largest
		}
	}
	if err := it.Err(); err != nil {
		return sqlError(err)
	}
	c.loaded = true
	return nil
}

func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	case int:
		return uint64(x), x >= 0
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case float32:
		return uint64(x), x >= 0
	case float64:
		return uint64(x), x >= 0
	}
	return 0, false
}

// PeekNextAutoIncrementValue implements sql.AutoIncrementGetter.
func (t *Table) PeekNextAutoIncrementValue(ctx *sql.Context) (uint64, error) {
	c := t.s.counterFor(t.rec.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := t.loadCounter(ctx, c); err != nil {
		return 0, err
	}
	return c.autoInc, nil
}

// GetNextAutoIncrementValue implements sql.AutoIncrementTable: nil asks for the next value,
// a given value moves the counter past it.
func (t *Table) GetNextAutoIncrementValue(ctx *sql.Context, insertVal any) (uint64, error) {
	c := t.s.counterFor(t.rec.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := t.loadCounter(ctx, c); err != nil {
		return 0, err
	}
	if insertVal != nil {
		if v, ok := toUint(insertVal); ok && v > 0 {
			if v >= c.autoInc {
				c.autoInc = v + 1
			}
			return v, nil
		}
	}
	v := c.autoInc
	c.autoInc++
	return v, nil
}

// AutoIncrementSetter implements sql.AutoIncrementTable.
func (t *Table) AutoIncrementSetter(*sql.Context) sql.AutoIncrementSetter { return autoIncSetter{t} }

type autoIncSetter struct{ t *Table }

func (a autoIncSetter) SetAutoIncrementValue(ctx *sql.Context, v uint64) error {
	c := a.t.s.counterFor(a.t.rec.ID)
	c.mu.Lock()
	c.loaded = false // reload: the new value is a floor, rows may be above it
	c.mu.Unlock()
	if err := a.t.reload(ctx); err != nil {
		return err
	}
	a.t.rec.AutoInc = v
	return a.t.save(ctx)
}

func (a autoIncSetter) AcquireAutoIncrementLock(*sql.Context) (func(), error) {
	c := a.t.s.counterFor(a.t.rec.ID)
	c.mu.Lock()
	return c.mu.Unlock, nil
}

func (a autoIncSetter) Close(*sql.Context) error { return nil }

// nextRowID returns a hidden row ID for a keyless table.
func (t *Table) nextRowID(ctx *sql.Context) ([]byte, error) {
	c := t.s.counterFor(t.rec.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := t.loadCounter(ctx, c); err != nil {
		return nil, err
	}
	id := c.rowID
	c.rowID++
	return tuple.AppendUint(nil, id), nil
}
