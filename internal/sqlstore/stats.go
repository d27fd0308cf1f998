package sqlstore

import (
	"context"
	"math/rand"
	randv2 "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/expression"
	"github.com/dolthub/go-mysql-server/sql/stats"
	"github.com/dolthub/go-mysql-server/sql/transform"

	"strata/internal/engine"
)

// Index statistics for the cost-based optimiser.
//
// GMS costs index scans and joins from per-index histograms when a sql.StatsProvider has them,
// and from a uniform guess of half the table otherwise: without statistics TPC-C's STOCK_LEVEL
// join hashes all of stock (100,000 rows) for the 200 order lines it needs, instead of looking
// each one up. statsProvider keeps, per table, a histogram of every index built from a
// sample of at most statsSampleRows rows: of a small table, a uniform one (Algorithm R over
// one scan of the data tree); of a large one, the rows of random leaves (see sampleRows),
// the way InnoDB's persistent statistics are sampled:
//   - the first time the optimiser asks for a table's statistics in a process, and whenever
//     its set of indexes changed, they are built at once;
//   - afterwards, when the table's row count has drifted by more than a tenth since the last
//     build (InnoDB's innodb_stats_auto_recalc rule), they are rebuilt: at once for tables of
//     up to statsSyncRows rows, in the background (one build per table at a time, stopped by
//     the database's Close) for larger ones, the previous statistics serving meanwhile;
//   - ANALYZE TABLE rebuilds them at once.
//
// GMS v0.20.0's histogram union (sql/stats/filter.go, Union: after advancing past one bucket
// it goes on comparing the next key column of the buckets it already passed, and can index
// past the end of either list) panics on disjunctions over a multi-column index. Disjunctive
// filters are therefore costed without statistics: Table.LookupForExpressions, which GMS
// calls just before it asks for the statistics of the same table in the same context, notes
// whether the filters hold an OR or an IN list, and GetTableStats then answers none.
//
// Each build has a new generation number; prepared plan templates record the generations of
// their tables and are dropped when one changes (planGuard.templateValid).

const (
	statsSampleRows = 8192  // rows sampled per build
	statsBuckets    = 128   // histogram buckets per index (fewer for small samples)
	statsSyncRows   = 20000 // row counts up to which a drifted table is rebuilt at once
)

// tableStats are one table's statistics.
type tableStats struct {
	gen      uint64 // build number, unique in the process
	rows     int64  // rows counted by the build
	sig      string // the indexes they describe (statsSignature)
	db, name string // lower-case, for GetStats, DropStats and DropDbStats
	list     []sql.Statistic
	building bool // a background rebuild is running
}

// statsProvider implements sql.StatsProvider over the store's tables (see above).
type statsProvider struct {
	s *Store

	mu     sync.Mutex
	tables map[uint64]*tableStats // by table ID
	gen    uint64
	// disjunctive holds, per context, the ID of the table whose filters GMS is about to
	// cost when they hold a disjunction (see above).
	disjunctive map[*sql.Context]uint64
	// exactRows is the estimated row count below which a table is read whole to count and
	// sample it (statsExactRows; tests lower it).
	exactRows int64
}

var _ sql.StatsProvider = (*statsProvider)(nil)

func newStatsProvider(s *Store) *statsProvider {
	return &statsProvider{s: s, tables: map[uint64]*tableStats{}, disjunctive: map[*sql.Context]uint64{}, exactRows: statsExactRows}
}

// costing notes the filters on t that GMS's index coster is about to cost in ctx.
func (p *statsProvider) costing(ctx *sql.Context, t *Table, filters []sql.Expression) {
	or := false
	for _, f := range filters {
		transform.InspectExpr(f, func(e sql.Expression) bool {
			switch e.(type) {
			case *expression.Or, *expression.InTuple, *expression.HashInTuple:
				or = true
			}
			return or
		})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !or {
		delete(p.disjunctive, ctx)
		return
	}
	if len(p.disjunctive) > 1024 { // contexts whose costing never came: forget them
		clear(p.disjunctive)
	}
	p.disjunctive[ctx] = t.rec.ID
}

// ourTable returns table as a non-temporary table of the store, or nil.
func ourTable(table sql.Table) *Table {
	if t := storeTable(table); t != nil && !t.rec.Temporary {
		return t
	}
	return nil
}

// statsSignature names t's indexes and their columns: statistics built for another set are
// rebuilt.
func statsSignature(t *Table) string {
	var b strings.Builder
	if !t.keyless() {
		b.WriteString("PRIMARY")
		for _, c := range t.sch.PkOrdinals {
			b.WriteString("," + strings.ToLower(t.sch.Schema[c].Name))
		}
		b.WriteByte(';')
	}
	for _, ix := range t.idx {
		b.WriteString(strings.ToLower(ix.rec.Name))
		for _, c := range ix.cols {
			b.WriteString("," + strings.ToLower(t.sch.Schema[c].Name))
		}
		b.WriteByte(';')
	}
	return b.String()
}

// GetTableStats implements sql.StatsProvider.
func (p *statsProvider) GetTableStats(ctx *sql.Context, db string, table sql.Table) ([]sql.Statistic, error) {
	t := ourTable(table)
	if t == nil {
		return nil, nil
	}
	n, _, err := t.RowCount(ctx)
	if err != nil {
		return nil, err
	}
	sig := statsSignature(t)
	p.mu.Lock()
	if id, ok := p.disjunctive[ctx]; ok {
		delete(p.disjunctive, ctx)
		if id == t.rec.ID {
			p.mu.Unlock()
			return nil, nil
		}
	}
	e := p.tables[t.rec.ID]
	switch {
	case e == nil || e.sig != sig:
		p.mu.Unlock()
		e, err = p.build(ctx, t, nil)
		if err != nil {
			return nil, err
		}
		return e.list, nil
	case !drifted(e.rows, int64(n)) || e.building:
		p.mu.Unlock()
		return e.list, nil
	case n <= statsSyncRows:
		p.mu.Unlock()
		if e, err = p.build(ctx, t, nil); err != nil {
			return nil, err
		}
		return e.list, nil
	}
	e.building = true
	list := e.list
	p.mu.Unlock()
	if !p.s.db.Go(func(stop <-chan struct{}) { p.rebuild(t, stop) }) {
		p.mu.Lock()
		e.building = false
		p.mu.Unlock()
	}
	return list, nil
}

// drifted reports whether a table of built rows at the last build, now of n rows, is due a
// rebuild: a change of more than a tenth (and of more than a handful of rows).
func drifted(built, n int64) bool {
	d := n - built
	if d < 0 {
		d = -d
	}
	return d > 16 && d*10 > built
}

// rebuild builds t's statistics in the background, in a read-only transaction of its own.
func (p *statsProvider) rebuild(t *Table, stop <-chan struct{}) {
	bg, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-bg.Done():
		}
	}()
	ctx := sql.NewContext(bg)
	kv, err := p.s.db.Begin(engine.TxnOptions{ReadOnly: true})
	if err == nil {
		defer kv.Rollback()
		_, err = p.build(ctx, t, &Transaction{kv: kv, ro: true, temp: true})
	}
	if err != nil {
		p.mu.Lock()
		if e := p.tables[t.rec.ID]; e != nil {
			e.building = false
		}
		p.mu.Unlock()
		if bg.Err() == nil {
			p.s.lg.Warn("sqlstore: building index statistics", "table", t.Name(), "err", err)
		}
	}
}

// build samples t's rows (in tx, or the session's transaction when tx is nil), makes a
// statistic per index, and stores them as t's newest.
func (p *statsProvider) build(ctx *sql.Context, t *Table, tx *Transaction) (*tableStats, error) {
	if tx == nil {
		var done func()
		var err error
		if tx, done, err = p.s.txnOf(ctx); err != nil {
			return nil, err
		}
		defer done()
	}
	sample, rows, err := sampleRows(ctx, t, tx, rand.New(rand.NewSource(int64(t.rec.ID))))
	if err != nil {
		return nil, err
	}
	e := &tableStats{rows: rows, sig: statsSignature(t), db: strings.ToLower(t.db.Name()), name: strings.ToLower(t.Name())}
	idxs, _ := t.GetIndexes(ctx)
	for _, si := range idxs {
		if rows == 0 {
			break // an empty table has none: GMS's defaults serve
		}
		st, err := indexStatistic(ctx, t, si.(*Index), sample, rows)
		if err != nil {
			return nil, err
		}
		e.list = append(e.list, st)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	e.gen = p.gen
	p.tables[t.rec.ID] = e
	return e, nil
}

// sampleRows returns a sample of at most statsSampleRows of t's rows as tx sees them and the
// number of rows t holds. A small table is read whole: the count is exact and the sample
// uniform (Algorithm R). A large one is not read whole, so that the first plan of a query in
// a process costs the same at any table size: its rows are sampled from random leaves, a few
// from each, and counted by the dives' estimate (as InnoDB samples random leaf pages).
func sampleRows(ctx *sql.Context, t *Table, tx *Transaction, r *rand.Rand) ([]sql.Row, int64, error) {
	rng := randv2.New(randv2.NewPCG(uint64(r.Int63()), t.rec.ID))
	sample, est, small, err := diveRows(ctx, t, tx, rng, statsDives, statsSampleRows)
	if err != nil {
		return nil, 0, err
	}
	if small {
		return scanSample(ctx, t, tx, r)
	}
	return sample, int64(est), nil
}

// A leaf holds rows of neighbouring keys, so the rows of one leaf say little more about the
// table than one of them does: a sample of whole leaves is lumpy. Sampled as 62 whole
// order_line leaves of 131 rows, TPC-C's districts got a handful of histogram buckets each
// or none, and in some runs GMS planned STOCK_LEVEL for one district by scanning a
// warehouse's stock and reading the district's order lines for each stock row. So a large
// table is sampled from an eighth of its leaves, at most statsDives, statsSampleRows/
// statsDives rows of each, chosen at random.
const (
	statsProbeDives = 16    // dives that decide whether a table is read whole
	statsDives      = 256   // dives in all to sample a large table
	statsCountDives = 64    // dives in all to count a large table
	statsExactRows  = 50000 // estimated row counts below which a table is read whole (default)
)

// diveRows makes up to dives random dives into t's data tree (see engine.Txn.Sample),
// decoding limit/dives rows chosen at random from each leaf met (none when limit is 0), and
// returns them with the row count the dives estimate. When it samples, it makes no more dives
// than an eighth of the leaves the first ones estimate, so that sampling reads a small part of
// a table that is only a few thousand pages. It reports small, having made only
// statsProbeDives dives, when those estimate fewer rows than the exact-count threshold: such
// a table is read whole instead.
func diveRows(ctx *sql.Context, t *Table, tx *Transaction, rng *randv2.Rand, dives, limit int) (sample []sql.Row, est float64, small bool, err error) {
	perLeaf := 0
	if limit > 0 {
		perLeaf = max(1, limit/dives)
	}
	var sum, leaves float64
	var leaf [][]byte
	made := 0
	for ; made < dives; made++ {
		if made == statsProbeDives {
			if sum/float64(made) < float64(t.s.stats.exactRows) {
				return nil, 0, true, nil
			}
			if perLeaf > 0 {
				dives = max(statsProbeDives, min(dives, int(leaves/float64(made)/8)))
			}
		}
		leaf = leaf[:0]
		e, err := tx.kv.Sample(ctx, t.data, rng, func(_, val []byte) error {
			if perLeaf > 0 {
				leaf = append(leaf, val)
			}
			return nil
		})
		if err != nil {
			return nil, 0, false, sqlError(err)
		}
		sum += e
		if len(leaf) > 0 {
			leaves += e / float64(len(leaf)) // the fanouts above the leaf
		}
		// A partial Fisher-Yates shuffle picks perLeaf of the leaf's rows.
		for i := 0; i < min(perLeaf, len(leaf)); i++ {
			j := i + rng.IntN(len(leaf)-i)
			leaf[i], leaf[j] = leaf[j], leaf[i]
			row, err := decodeRow(ctx, leaf[i], t.sch.Schema)
			if err != nil {
				return nil, 0, false, err
			}
			sample = append(sample, row)
		}
	}
	if made == 0 {
		return sample, 0, false, nil
	}
	est = sum / float64(made)
	return sample, est, made <= statsProbeDives && est < float64(t.s.stats.exactRows), nil
}

// scanSample reads all of t's rows in tx and returns a uniform sample of at most
// statsSampleRows of them and the number read.
func scanSample(ctx *sql.Context, t *Table, tx *Transaction, r *rand.Rand) ([]sql.Row, int64, error) {
	it := tx.kv.Scan(ctx, t.data, nil, nil, false)
	defer it.Close()
	var sample []sql.Row
	var n int64
	for it.Next() {
		n++
		slot := len(sample)
		if slot >= statsSampleRows {
			if slot = int(r.Int63n(n)); slot >= statsSampleRows {
				continue
			}
		}
		row, err := decodeRow(ctx, it.Value(), t.sch.Schema)
		if err != nil {
			return nil, 0, err
		}
		if slot == len(sample) {
			sample = append(sample, row)
		} else {
			sample[slot] = row
		}
	}
	if err := it.Err(); err != nil {
		return nil, 0, sqlError(err)
	}
	return sample, n, nil
}

// indexStatistic makes ix's statistic from a sample of rows out of rows: an equi-depth
// histogram over the index's columns, counts scaled from the sample to the table.
func indexStatistic(ctx *sql.Context, t *Table, ix *Index, sample []sql.Row, rows int64) (sql.Statistic, error) {
	sch := t.sch.Schema
	types := make([]sql.Type, len(ix.cols))
	cols := make([]string, len(ix.cols))
	for i, c := range ix.cols {
		types[i], cols[i] = sch[c].Type, strings.ToLower(sch[c].Name)
	}
	keys := make([]sql.Row, len(sample))
	for i, row := range sample {
		k := make(sql.Row, len(ix.cols))
		for j, c := range ix.cols {
			k[j] = row[c]
		}
		keys[i] = k
	}
	var sortErr error
	cmp := func(a, b sql.Row) int {
		for j := range a {
			c, err := compareNullsFirst(ctx, types[j], a[j], b[j])
			if err != nil && sortErr == nil {
				sortErr = err
			}
			if c != 0 {
				return c
			}
		}
		return 0
	}
	sort.SliceStable(keys, func(i, j int) bool { return cmp(keys[i], keys[j]) < 0 })
	if sortErr != nil {
		return nil, sortErr
	}

	scale := 1.0
	if len(keys) > 0 {
		scale = float64(rows) / float64(len(keys))
	}
	distinct, ones, nulls := 0, 0, 0
	for i := range keys {
		if keys[i][0] == nil {
			nulls++
		}
		if i == 0 || cmp(keys[i-1], keys[i]) != 0 {
			distinct++
			if i+1 == len(keys) || cmp(keys[i], keys[i+1]) != 0 {
				ones++
			}
		}
	}
	total := estimateDistinct(len(keys), distinct, ones, rows)
	if ix.IsUnique() {
		total = float64(rows)
	}
	perRow := 0.0
	if rows > 0 {
		perRow = total / float64(rows)
	}

	nb := min(statsBuckets, len(keys))
	buckets := make([]sql.HistogramBucket, 0, nb)
	for b := 0; b < nb; b++ {
		lo, hi := b*len(keys)/nb, (b+1)*len(keys)/nb
		if lo == hi {
			continue
		}
		bound, boundCnt, bucketNulls := keys[hi-1], 0, 0
		for i := lo; i < hi; i++ {
			if cmp(keys[i], bound) == 0 {
				boundCnt++
			}
			if keys[i][0] == nil {
				bucketNulls++
			}
		}
		cnt := float64(hi-lo) * scale
		buckets = append(buckets, stats.NewHistogramBucket(uint64(cnt+0.5), uint64(max(1, cnt*perRow+0.5)),
			uint64(float64(bucketNulls)*scale+0.5), uint64(float64(boundCnt)*scale+0.5), bound, nil, nil))
	}
	var lower sql.Row
	if len(keys) > 0 {
		lower = keys[0]
	}
	avg := uint64(0)
	if rows > 0 {
		if n, err := t.DataLength(ctx); err == nil {
			avg = n / uint64(rows)
		}
	}
	qual := sql.NewStatQualifier(statsDatabase(t), "", t.Name(), strings.ToLower(ix.ID()))
	st := stats.NewStatistic(uint64(rows), uint64(total+0.5), uint64(float64(nulls)*scale+0.5), avg, time.Now(),
		qual, cols, types, buckets, sql.IndexClassDefault, lower)
	fds, colSet, err := stats.IndexFds(strings.ToLower(t.Name()), sch, ix)
	if err != nil {
		return nil, err
	}
	return st.WithFuncDeps(fds).WithColSet(colSet), nil
}

// statsDatabase is the database name GMS's index coster puts in the qualifiers it looks
// statistics up by: the table's, when the table names its database (sql.Databaseable).
func statsDatabase(t *Table) string {
	var tb sql.Table = t
	if d, ok := tb.(sql.Databaseable); ok {
		return strings.ToLower(d.Database())
	}
	return ""
}

// estimateDistinct estimates the distinct values of a table of rows rows from a sample of n
// of them holding d distinct values, ones of them seen once: Haas and Stokes' Duj1 estimator
// (as PostgreSQL's ANALYZE uses).
func estimateDistinct(n, d, ones int, rows int64) float64 {
	if n == 0 || int64(n) >= rows {
		return float64(d)
	}
	if ones == n { // every sampled value unique: assume a key
		return float64(rows)
	}
	est := float64(n*d) / (float64(n-ones) + float64(ones)*float64(n)/float64(rows))
	return min(max(est, float64(d)), float64(rows))
}

// compareNullsFirst orders two values of typ with NULL first.
func compareNullsFirst(ctx *sql.Context, typ sql.Type, a, b any) (int, error) {
	switch {
	case a == nil && b == nil:
		return 0, nil
	case a == nil:
		return -1, nil
	case b == nil:
		return 1, nil
	}
	return typ.Compare(ctx, a, b)
}

// AnalyzeTable implements sql.StatsProvider: ANALYZE TABLE rebuilds the statistics at once.
func (p *statsProvider) AnalyzeTable(ctx *sql.Context, table sql.Table, db string) error {
	if t := ourTable(table); t != nil {
		_, err := p.build(ctx, t, nil)
		return err
	}
	return nil
}

// SetStats implements sql.StatsProvider: a statistic given for an index of a table that has
// statistics replaces that index's.
func (p *statsProvider) SetStats(ctx *sql.Context, st sql.Statistic) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	q := st.Qualifier()
	for _, e := range p.tables {
		if e.name != q.Table() || (q.Db() != "" && e.db != q.Db()) {
			continue
		}
		list := make([]sql.Statistic, 0, len(e.list)+1)
		for _, old := range e.list {
			if old.Qualifier().Index() != q.Index() {
				list = append(list, old)
			}
		}
		p.gen++
		e.list, e.gen = append(list, st), p.gen
		return nil
	}
	return nil
}

// GetStats implements sql.StatsProvider.
func (p *statsProvider) GetStats(ctx *sql.Context, q sql.StatQualifier, cols []string) (sql.Statistic, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.tables {
		if e.name != q.Table() || (q.Db() != "" && e.db != q.Db()) {
			continue
		}
		for _, st := range e.list {
			if st.Qualifier().Index() == q.Index() && strings.EqualFold(strings.Join(st.Columns(), ","), strings.Join(cols, ",")) {
				return st, true
			}
		}
	}
	return nil, false
}

// DropStats implements sql.StatsProvider: the table's statistics are forgotten (and built
// again when next needed).
func (p *statsProvider) DropStats(ctx *sql.Context, q sql.StatQualifier, cols []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, e := range p.tables {
		if e.name == q.Table() && (q.Db() == "" || e.db == q.Db()) {
			delete(p.tables, id)
		}
	}
	return nil
}

// DropDbStats implements sql.StatsProvider.
func (p *statsProvider) DropDbStats(ctx *sql.Context, db string, flush bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, e := range p.tables {
		if e.db == strings.ToLower(db) {
			delete(p.tables, id)
		}
	}
	return nil
}

// drop forgets the statistics of the table with ID id.
func (p *statsProvider) drop(id uint64) {
	p.mu.Lock()
	delete(p.tables, id)
	p.mu.Unlock()
}

// generation returns the build number of table's statistics, 0 when it has none.
func (p *statsProvider) generation(table sql.Table) statsGen {
	t := ourTable(table)
	if t == nil {
		return statsGen{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.tables[t.rec.ID]; e != nil {
		return statsGen{gen: e.gen, rows: e.rows}
	}
	return statsGen{}
}

// statsGen identifies a build of a table's statistics (gen 0: none), with the rows it
// counted.
type statsGen struct {
	gen  uint64
	rows int64
}

// costsLike reports whether a plan costed with the statistics old is still as good a
// choice under cur: the same build, or builds of row counts within a factor of two. A
// growing table gets new statistics every tenth or so; reanalysing every prepared plan on
// every connection each time costs more than it can win.
func (old statsGen) costsLike(cur statsGen) bool {
	if old.gen == cur.gen {
		return true
	}
	if old.gen == 0 || cur.gen == 0 {
		return false
	}
	return cur.rows <= 2*old.rows && old.rows <= 2*cur.rows
}

// RowCount implements sql.StatsProvider with the table's running estimate.
func (p *statsProvider) RowCount(ctx *sql.Context, db string, table sql.Table) (uint64, error) {
	if t := ourTable(table); t != nil {
		n, _, err := t.RowCount(ctx)
		return n, err
	}
	return 0, nil
}

// DataLength implements sql.StatsProvider.
func (p *statsProvider) DataLength(ctx *sql.Context, db string, table sql.Table) (uint64, error) {
	if t := ourTable(table); t != nil {
		return t.DataLength(ctx)
	}
	return 0, nil
}
