package sqlstore

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/types"

	"strata/internal/engine"
	"strata/internal/lock"
	"strata/internal/page"
	"strata/internal/tuple"
)

// Index is the primary key or a secondary index. A secondary index is a tree whose keys are
// the index columns' encoding followed by the primary key's, and whose values are the primary
// key; the primary "index" is the data tree itself.
type Index struct {
	t       *Table
	rec     *indexRecord // nil for PRIMARY
	tree    page.ID
	cols    []int // column ordinals
	lengths []uint16
	// names caches Expressions and ColumnExpressionTypes, which GMS's index builder asks
	// for at every lookup a prepared plan rebuilds. Callers get the shared slices, clipped, and
	// only read them.
	names atomic.Pointer[indexNames]
}

// indexNames are an index's column expressions, made for a table name.
type indexNames struct {
	table string
	exprs []string
	types []sql.ColumnExpressionType
}

// cachedNames returns the index's column expressions for the table's current name.
func (ix *Index) cachedNames() *indexNames {
	name := ix.t.Name()
	if n := ix.names.Load(); n != nil && n.table == name {
		return n
	}
	n := &indexNames{table: name, exprs: make([]string, len(ix.cols)), types: make([]sql.ColumnExpressionType, len(ix.cols))}
	for i, c := range ix.cols {
		n.exprs[i] = name + "." + ix.t.sch.Schema[c].Name
		n.types[i] = sql.ColumnExpressionType{Expression: n.exprs[i], Type: ix.t.sch.Schema[c].Type}
	}
	ix.names.Store(n)
	return n
}

var (
	_ sql.Index         = (*Index)(nil)
	_ sql.OrderedIndex  = (*Index)(nil)
	_ sql.ExtendedIndex = (*Index)(nil)
)

func newIndex(t *Table, rec *indexRecord, tree page.ID) *Index {
	ix := &Index{t: t, rec: rec, tree: tree}
	for _, name := range rec.Columns {
		ix.cols = append(ix.cols, t.sch.Schema.IndexOfColName(name))
	}
	ix.lengths = rec.Lengths
	return ix
}

// extendedCols are the index columns followed by the primary key columns not among them: an
// index entry identifies its row, so lookups may constrain those too (sql.ExtendedIndex).
func (ix *Index) extendedCols() []int {
	out := append([]int(nil), ix.cols...)
	for _, p := range ix.t.sch.PkOrdinals {
		found := false
		for _, c := range ix.cols {
			found = found || c == p
		}
		if !found {
			out = append(out, p)
		}
	}
	return out
}

// ExtendedExpressions implements sql.ExtendedIndex.
func (ix *Index) ExtendedExpressions() []string {
	var out []string
	for _, c := range ix.extendedCols() {
		out = append(out, ix.t.Name()+"."+ix.t.sch.Schema[c].Name)
	}
	return out
}

// ExtendedColumnExpressionTypes implements sql.ExtendedIndex.
func (ix *Index) ExtendedColumnExpressionTypes() []sql.ColumnExpressionType {
	var out []sql.ColumnExpressionType
	for _, c := range ix.extendedCols() {
		out = append(out, sql.ColumnExpressionType{Expression: ix.t.Name() + "." + ix.t.sch.Schema[c].Name, Type: ix.t.sch.Schema[c].Type})
	}
	return out
}

func (t *Table) primaryIndex() *Index {
	return &Index{t: t, tree: t.data, cols: t.sch.PkOrdinals}
}

func (ix *Index) primary() bool { return ix.rec == nil }

// ID implements sql.Index.
func (ix *Index) ID() string {
	if ix.primary() {
		return "PRIMARY"
	}
	return ix.rec.Name
}

// Database implements sql.Index.
func (ix *Index) Database() string { return ix.t.db.Name() }

// Table implements sql.Index.
func (ix *Index) Table() string { return ix.t.Name() }

// Expressions implements sql.Index.
func (ix *Index) Expressions() []string {
	return slices.Clip(ix.cachedNames().exprs)
}

// IsUnique implements sql.Index.
func (ix *Index) IsUnique() bool { return ix.primary() || ix.rec.Unique }

// IsSpatial implements sql.Index.
func (ix *Index) IsSpatial() bool { return false }

// IsFullText implements sql.Index.
func (ix *Index) IsFullText() bool { return false }

// IsVector implements sql.Index.
func (ix *Index) IsVector() bool { return false }

// Comment implements sql.Index.
func (ix *Index) Comment() string {
	if ix.primary() {
		return ""
	}
	return ix.rec.Comment
}

// IndexType implements sql.Index.
func (ix *Index) IndexType() string { return "BTREE" }

// IsGenerated implements sql.Index.
func (ix *Index) IsGenerated() bool { return false }

// ColumnExpressionTypes implements sql.Index.
func (ix *Index) ColumnExpressionTypes() []sql.ColumnExpressionType {
	return slices.Clip(ix.cachedNames().types)
}

// CanSupport implements sql.Index.
func (ix *Index) CanSupport(*sql.Context, ...sql.Range) bool { return true }

// CanSupportOrderBy implements sql.Index.
func (ix *Index) CanSupportOrderBy(sql.Expression) bool { return false }

// PrefixLengths implements sql.Index.
func (ix *Index) PrefixLengths() []uint16 {
	for _, l := range ix.lengths {
		if l > 0 {
			return ix.lengths
		}
	}
	return nil
}

// Order implements sql.OrderedIndex.
func (ix *Index) Order() sql.IndexOrder { return sql.IndexOrderAsc }

// Reversible implements sql.OrderedIndex.
func (ix *Index) Reversible() bool { return true }

// prefixLen returns the prefix length (in characters) of index column i, 0 for whole values.
func (ix *Index) prefixLen(i int) int {
	if i < len(ix.lengths) {
		return int(ix.lengths[i])
	}
	return 0
}

// valueKey encodes index column i's value v.
func (ix *Index) valueKey(ctx *sql.Context, b []byte, i int, v any) ([]byte, error) {
	typ := ix.t.sch.Schema[ix.cols[i]].Type
	if n := ix.prefixLen(i); n > 0 {
		switch x := v.(type) {
		case string:
			if r := []rune(x); len(r) > n {
				v = string(r[:n])
			}
		case []byte:
			if len(x) > n {
				v = x[:n]
			}
		}
	}
	return appendKey(ctx, b, typ, v)
}

// columnsKey encodes the index columns of row; hasNull says whether any is NULL.
func (ix *Index) columnsKey(ctx *sql.Context, row sql.Row) (key []byte, hasNull bool, err error) {
	for i, c := range ix.cols {
		if row[c] == nil {
			hasNull = true
		}
		if key, err = ix.valueKey(ctx, key, i, row[c]); err != nil {
			return nil, false, err
		}
	}
	return key, hasNull, nil
}

// GetIndexes implements sql.IndexAddressable.
func (t *Table) GetIndexes(*sql.Context) ([]sql.Index, error) {
	var out []sql.Index
	if !t.keyless() {
		out = append(out, t.primaryIndex())
	}
	sec := make([]*Index, len(t.idx))
	copy(sec, t.idx)
	sort.Slice(sec, func(i, j int) bool { return sec[i].rec.Name < sec[j].rec.Name })
	for _, ix := range sec {
		out = append(out, ix)
	}
	return out, nil
}

// PreciseMatch implements sql.IndexAddressable: lookups return exactly the matching rows.
func (t *Table) PreciseMatch() bool { return true }

// IndexedAccess implements sql.IndexAddressable.
func (t *Table) IndexedAccess(_ *sql.Context, lookup sql.IndexLookup) sql.IndexedTable {
	return &IndexedTable{Table: t, lookup: lookup}
}

// IndexedTable is a table read through an index lookup; it embeds the table so that GMS can
// still update and delete through it.
type IndexedTable struct {
	*Table
	lookup sql.IndexLookup
	// current makes lookups see the transaction's writes as they are now, the current
	// statement's included: constraint checks need them, while a statement's own reads
	// must not see its changes.
	current bool
}

// LookupPartitions implements sql.IndexedTable.
func (it *IndexedTable) LookupPartitions(_ *sql.Context, lookup sql.IndexLookup) (sql.PartitionIter, error) {
	l := lookup
	return &partitionIter{p: singlePartition{lookup: &l, current: it.current}}, nil
}

func (t *Table) indexByID(id string) *Index {
	if strings.EqualFold(id, "PRIMARY") && !t.keyless() {
		return t.primaryIndex()
	}
	for _, ix := range t.idx {
		if strings.EqualFold(ix.rec.Name, id) {
			return ix
		}
	}
	return nil
}

// interval computes the key interval [lo, hi) that holds every entry matching r: the longest
// prefix of point columns, then the bounds of the next column. Later columns are checked by
// the filter.
func (ix *Index) interval(ctx *sql.Context, r sql.MySQLRange) (lo, hi []byte, empty bool, err error) {
	var prefix []byte
	for i, ce := range r {
		if i >= len(ix.cols) {
			break
		}
		typ := ix.t.sch.Schema[ix.cols[i]].Type
		if v, ok := pointKey(ctx, typ, ce); ok {
			k, err := convertKey(ctx, typ, v)
			if err != nil {
				return nil, nil, false, err
			}
			if prefix, err = ix.valueKey(ctx, prefix, i, k); err != nil {
				return nil, nil, false, err
			}
			continue
		}
		_, lowNull := ce.LowerBound.(sql.BelowNull)
		_, upNull := ce.UpperBound.(sql.AboveNull)
		if lowNull && upNull {
			prefix = tuple.AppendNull(prefix)
			continue
		}
		truncated := ix.prefixLen(i) > 0
		key := func(c sql.MySQLRangeCut) ([]byte, error) {
			k, err := convertKey(ctx, typ, sql.GetMySQLRangeCutKey(c))
			if err != nil {
				return nil, err
			}
			return ix.valueKey(ctx, append([]byte(nil), prefix...), i, k)
		}
		switch c := ce.LowerBound.(type) {
		case sql.BelowNull:
			lo = prefix
		case sql.AboveNull:
			lo = tuple.PrefixEnd(tuple.AppendNull(append([]byte(nil), prefix...)))
		case sql.Below:
			if lo, err = key(c); err != nil {
				return nil, nil, false, err
			}
		case sql.Above:
			if lo, err = key(c); err != nil {
				return nil, nil, false, err
			}
			if !truncated {
				lo = tuple.PrefixEnd(lo)
			}
		default:
			return nil, nil, true, nil
		}
		switch c := ce.UpperBound.(type) {
		case sql.AboveAll:
			if len(prefix) > 0 {
				hi = tuple.PrefixEnd(prefix)
			}
		case sql.AboveNull:
			hi = tuple.PrefixEnd(tuple.AppendNull(append([]byte(nil), prefix...)))
		case sql.Below:
			if hi, err = key(c); err != nil {
				return nil, nil, false, err
			}
			if truncated {
				hi = tuple.PrefixEnd(hi)
			}
		case sql.Above:
			if hi, err = key(c); err != nil {
				return nil, nil, false, err
			}
			hi = tuple.PrefixEnd(hi)
		default:
			return nil, nil, true, nil
		}
		if hi != nil && bytes.Compare(lo, hi) >= 0 {
			return nil, nil, true, nil
		}
		return lo, hi, false, nil
	}
	if len(prefix) == 0 {
		return nil, nil, false, nil
	}
	return prefix, tuple.PrefixEnd(prefix), false, nil
}

// exact reports whether every entry in r's key interval (see interval) matches r, so that a
// row read through it at the scan's own snapshot needs no check against r: points, then at
// most one bounded column, then columns without bounds, over whole (not prefix) columns of
// integer types with integer bounds the column holds exactly. Anything else is checked row
// by row.
func (ix *Index) exact(ctx *sql.Context, r sql.MySQLRange) bool {
	bounded := false // a column with bounds was passed: the rest must have none
	for i, ce := range r {
		_, lowNull := ce.LowerBound.(sql.BelowNull)
		_, upAll := ce.UpperBound.(sql.AboveAll)
		if bounded || i >= len(ix.cols) { // interval does not look at these
			if !lowNull || !upAll {
				return false
			}
			continue
		}
		if ix.prefixLen(i) > 0 {
			return false
		}
		typ := ix.t.sch.Schema[ix.cols[i]].Type
		if !types.IsInteger(typ) {
			return false
		}
		if _, upNull := ce.UpperBound.(sql.AboveNull); lowNull && upNull {
			continue // IS NULL: a point
		}
		for _, c := range []sql.MySQLRangeCut{ce.LowerBound, ce.UpperBound} {
			switch c.(type) {
			case sql.Below, sql.Above:
				if !exactInteger(ctx, typ, sql.GetMySQLRangeCutKey(c)) {
					return false
				}
			}
		}
		if _, ok := pointKey(ctx, typ, ce); !ok {
			bounded = true
		}
	}
	return true
}

// pointKey returns the value of a column range that is one value (a closed range from v to
// v), and whether it is one.
func pointKey(ctx *sql.Context, typ sql.Type, ce sql.MySQLRangeColumnExpr) (any, bool) {
	b, ok := ce.LowerBound.(sql.Below)
	if !ok {
		return nil, false
	}
	a, ok := ce.UpperBound.(sql.Above)
	if !ok {
		return nil, false
	}
	c, err := typ.Compare(ctx, b.Key, a.Key)
	return b.Key, err == nil && c == 0
}

// exactInteger reports whether v is an integer that the integer type typ holds as it is.
func exactInteger(ctx *sql.Context, typ sql.Type, v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
	default:
		return false
	}
	_, inRange, err := typ.Convert(ctx, v)
	return err == nil && inRange == sql.InRange
}

// lookupRows returns the rows matching an index lookup, in index order.
func (t *Table) lookupRows(ctx *sql.Context, tx *Transaction, done func(), lookup *sql.IndexLookup, current bool) (sql.RowIter, error) {
	ix := t.indexByID(lookup.Index.ID())
	if ix == nil {
		done()
		return nil, fmt.Errorf("sqlstore: index %s not found on %s", lookup.Index.ID(), t.Name())
	}
	ranges, ok := lookup.Ranges.(sql.MySQLRangeCollection)
	if !ok {
		done()
		return nil, fmt.Errorf("sqlstore: unsupported range collection %T", lookup.Ranges)
	}
	cols := ix.extendedCols()
	var filters []sql.Expression
	trimmed := make([]sql.MySQLRange, len(ranges))
	for i, r := range ranges {
		if len(r) > len(cols) {
			r = r[:len(cols)]
		}
		trimmed[i] = r
		exprs := make([]sql.Expression, len(r))
		for j := range r {
			col := t.sch.Schema[cols[j]]
			exprs[j] = expression.NewGetField(cols[j], col.Type, col.Name, col.Nullable)
		}
		// One filter per range: GMS's ranges are disjoint, but their key intervals (bounded
		// on a prefix of the columns) may overlap, so a row is checked against its own range
		// only and never returned twice.
		f, err := expression.NewRangeFilterExpr(exprs, []sql.MySQLRange{r})
		if err != nil {
			done()
			return nil, err
		}
		filters = append(filters, f)
	}
	l := &lookupIter{t: t, ix: ix, tx: tx, done: done, ranges: trimmed, reverse: lookup.IsReverse, filters: filters, current: current}
	l.mode, l.locking = lockingMode(ctx)
	if !ix.primary() && !l.locking && !current && t.s.db.Prefetches() {
		l.ahead = &rowsAhead{size: prefetchFirst}
	}
	return l, nil
}

type lookupIter struct {
	t       *Table
	ix      *Index
	tx      *Transaction
	done    func()
	ranges  []sql.MySQLRange
	next    int
	reverse bool
	filters []sql.Expression
	filter  sql.Expression // the current range's
	current bool
	it      *engine.Iter
	locking bool
	mode    lock.Mode
	ahead   *rowsAhead // set for a plain read of a secondary index on remote pages
}

func (l *lookupIter) Next(ctx *sql.Context) (sql.Row, error) {
	for {
		if l.it == nil {
			if l.next >= len(l.ranges) {
				return nil, io.EOF
			}
			r := l.ranges[l.next]
			l.filter = l.filters[l.next]
			l.next++
			// A row of the primary index is the scan's own entry, and a row found through
			// another index is read at the scan's snapshot, so an exact interval needs no
			// check. A secondary index's row read now (locking, or seeing this statement's
			// writes) may have changed since its entry was read: it is checked.
			if (l.ix.primary() || !l.locking && !l.current) && l.ix.exact(ctx, r) {
				l.filter = nil
			}
			lo, hi, empty, err := l.ix.interval(ctx, r)
			if err != nil {
				return nil, err
			}
			if empty {
				continue
			}
			if l.current {
				l.it = l.tx.kv.Scan(ctx, l.ix.tree, lo, hi, l.reverse)
			} else {
				l.it = l.tx.kv.ScanAtStatementStart(ctx, l.ix.tree, lo, hi, l.reverse)
			}
			if l.ahead != nil {
				l.ahead.reset()
			}
		}
		key, value, ok := l.nextEntry(ctx)
		if !ok {
			err := l.it.Err()
			l.it.Close()
			l.it = nil
			if err != nil {
				return nil, sqlError(err)
			}
			continue
		}
		var val []byte
		if l.locking {
			pk := key
			if !l.ix.primary() {
				pk = value
			}
			v, ok, err := l.t.lockedRow(ctx, l.tx, pk, l.mode)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			val = v
		} else if l.ix.primary() {
			val = value
		} else {
			get := l.tx.kv.GetAtStatementStart
			if l.current {
				get = l.tx.kv.Get
			}
			v, ok, err := get(ctx, l.t.data, value)
			if err != nil {
				return nil, sqlError(err)
			}
			if !ok {
				continue // written by this statement after the scan began
			}
			val = v
		}
		if l.filter == nil {
			return l.t.rowOut(ctx, val)
		}
		row, err := decodeRow(ctx, val, l.t.sch.Schema)
		if err != nil {
			return nil, err
		}
		pass, err := sql.EvaluateCondition(ctx, l.filter, row)
		if err != nil {
			return nil, err
		}
		if sql.IsTrue(pass) {
			return l.t.project(row), nil
		}
	}
}

// nextEntry returns the current range's next index entry, from the read-ahead batch when
// there is one (whose entries are secondary-index values: the key is not kept).
func (l *lookupIter) nextEntry(ctx *sql.Context) (key, value []byte, ok bool) {
	if l.ahead != nil {
		pk, ok := l.ahead.next(ctx, l)
		return nil, pk, ok
	}
	if !l.it.Next() {
		return nil, nil, false
	}
	return l.it.Key(), l.it.Value(), true
}

// rowsAhead reads a secondary index's entries ahead of a lookupIter, a batch at a time (as
// prefetchRows reads a join's outer rows: prefetch.go), and has the engine read the data
// leaves of the batch's rows into the pool in parallel before the rows are read one by one.
type rowsAhead struct {
	pks  [][]byte // the batch's primary keys (the index entries' values)
	pos  int
	done bool // the range's iterator is at its end
	size int
	sw   aheadSwitch
}

func (a *rowsAhead) reset() { a.pks, a.pos, a.done = a.pks[:0], 0, false }

// next returns the primary key of the range's next entry, reading a batch when none is left.
func (a *rowsAhead) next(ctx *sql.Context, l *lookupIter) ([]byte, bool) {
	if a.pos == len(a.pks) {
		if a.done {
			return nil, false
		}
		a.pks, a.pos = a.pks[:0], 0
		for len(a.pks) < a.size {
			if !l.it.Next() {
				a.done = true
				break
			}
			a.pks = append(a.pks, bytes.Clone(l.it.Value()))
		}
		a.size = min(2*a.size, prefetchMax)
		if len(a.pks) == 0 {
			return nil, false
		}
		if len(a.pks) > 1 {
			a.sw.run(l.t.s.db.Pool(), func() int {
				read, _ := l.tx.kv.Prefetch(ctx, l.t.data, a.pks)
				return read
			})
		}
	}
	pk := a.pks[a.pos]
	a.pos++
	return pk, true
}

func (l *lookupIter) Close(*sql.Context) error {
	if l.it != nil {
		l.it.Close()
	}
	l.done()
	return nil
}

// CreateIndex implements sql.IndexAlterableTable: the index is built from the table's rows in
// the transaction, and a unique index fails on existing duplicates.
func (t *Table) CreateIndex(ctx *sql.Context, def sql.IndexDef) error {
	if def.IsFullText() || def.IsSpatial() || def.IsVector() {
		return errNotSupported("FULLTEXT, SPATIAL and VECTOR indexes")
	}
	if def.IsPrimary() {
		return errNotSupported("changing the primary key of a table")
	}
	if err := t.reload(ctx); err != nil {
		return err
	}
	tx, err := t.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	for _, ix := range t.idx {
		if strings.EqualFold(ix.rec.Name, def.Name) {
			return sql.ErrDuplicateKey.New(def.Name)
		}
	}
	rec := indexRecord{Name: def.Name, Unique: def.IsUnique(), Comment: def.Comment}
	for _, c := range def.Columns {
		if t.sch.Schema.IndexOfColName(c.Name) < 0 {
			return sql.ErrKeyColumnDoesNotExist.New(c.Name)
		}
		rec.Columns = append(rec.Columns, t.sch.Schema[t.sch.Schema.IndexOfColName(c.Name)].Name)
		rec.Lengths = append(rec.Lengths, uint16(c.Length))
	}
	id, err := t.s.cat(tx).nextID(ctx)
	if err != nil {
		return sqlError(err)
	}
	rec.Tree = fmt.Sprintf("%s%d/%d", tablePrefix, t.rec.ID, id)
	root, err := t.s.tree(ctx, rec.Tree)
	if err != nil {
		return err
	}
	ix := newIndex(t, &rec, root)
	// Build from the rows this transaction sees.
	it := tx.kv.Scan(ctx, t.data, nil, nil, false)
	defer it.Close()
	for it.Next() {
		row, err := decodeRow(ctx, it.Value(), t.sch.Schema)
		if err != nil {
			return err
		}
		if err := t.insertIndexEntry(ctx, tx, ix, row, append([]byte(nil), it.Key()...)); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return sqlError(err)
	}
	t.rec.Indexes = append(t.rec.Indexes, rec)
	if err := t.save(ctx); err != nil {
		return err
	}
	return t.reload(ctx)
}

// DropIndex implements sql.IndexAlterableTable.
func (t *Table) DropIndex(ctx *sql.Context, name string) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	tx, err := t.s.writeTxn(ctx)
	if err != nil {
		return err
	}
	for i, ix := range t.rec.Indexes {
		if strings.EqualFold(ix.Name, name) {
			tree := ix.Tree
			t.rec.Indexes = append(t.rec.Indexes[:i], t.rec.Indexes[i+1:]...)
			tx.root().onCommit = append(tx.root().onCommit, func() {
				if err := t.s.db.DropTree(ctx, tree); err != nil {
					t.s.lg.Warn("sqlstore: drop index tree", "tree", tree, "err", err)
				}
			})
			if err := t.save(ctx); err != nil {
				return err
			}
			return t.reload(ctx)
		}
	}
	return sql.ErrIndexNotFound.New(name)
}

// RenameIndex implements sql.IndexAlterableTable.
func (t *Table) RenameIndex(ctx *sql.Context, from, to string) error {
	if err := t.reload(ctx); err != nil {
		return err
	}
	for i := range t.rec.Indexes {
		if strings.EqualFold(t.rec.Indexes[i].Name, to) && !strings.EqualFold(from, to) {
			return sql.ErrDuplicateKey.New(to)
		}
	}
	for i := range t.rec.Indexes {
		if strings.EqualFold(t.rec.Indexes[i].Name, from) {
			t.rec.Indexes[i].Name = to
			if err := t.save(ctx); err != nil {
				return err
			}
			return t.reload(ctx)
		}
	}
	return sql.ErrIndexNotFound.New(from)
}
