package sqlstore

import (
	"context"
	"strings"
	"sync"

	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"

	"strata/internal/engine"
)

// TINYINT(1) in result-set metadata.
//
// MySQL sends a TINYINT(1) column with length 1, which is how drivers and ORMs (Connector/J's
// tinyInt1isBit, Django, Rails, SQLAlchemy) tell a boolean. GMS's handler takes the length
// from the type's longest text (4) and has no display width at hand (server/handler.go,
// schemaToFields), so a TINYINT column of a table gets its length from the table's
// definition here: tinyintWidths remembers, per table, which columns are TINYINT(1), read
// from the catalog once per catalog change.

//
// The same goes for the fractional digits of a TIMESTAMP(n) column: GMS sends decimals only
// for DATETIME (types.IsDatetimeType is false for TIMESTAMP), so a TIMESTAMP(2) came with 0,
// and drivers that format binary values by the decimals (go-sql-driver) dropped the
// fraction. tinyintWidths remembers those too.

// columnMeta is what a column's definition adds to its result-set metadata.
type columnMeta struct {
	tinyint1 bool  // TINYINT(1)
	fsp      uint8 // fractional digits of a TIMESTAMP(n)
}

// tinyintWidths knows which columns of the Store's tables are TINYINT(1) or TIMESTAMP(n).
type tinyintWidths struct {
	s      *Store
	mu     sync.Mutex
	gen    uint64                           // s.catalogWrites when tables was filled
	tables map[string]map[string]columnMeta // "db\x00table" -> lower-case column names
}

func newTinyintWidths(s *Store) *tinyintWidths {
	return &tinyintWidths{s: s, tables: map[string]map[string]columnMeta{}}
}

// isTinyint1 reports whether column col of table db.table is a TINYINT(1).
func (w *tinyintWidths) isTinyint1(db, table, col string) bool {
	return w.meta(db, table, col).tinyint1
}

// meta returns what the definition of column col of table db.table adds to metadata.
func (w *tinyintWidths) meta(db, table, col string) columnMeta {
	if w == nil || w.s == nil || db == "" || table == "" || col == "" {
		return columnMeta{}
	}
	key := strings.ToLower(db) + "\x00" + strings.ToLower(table)
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen := w.s.catalogWrites.Load(); gen != w.gen {
		w.gen, w.tables = gen, map[string]map[string]columnMeta{}
	}
	cols, ok := w.tables[key]
	if !ok {
		cols = w.load(db, table)
		w.tables[key] = cols
	}
	return cols[strings.ToLower(col)]
}

// load reads the TINYINT(1) and TIMESTAMP(n) columns of db.table from the catalog (none when
// it cannot).
func (w *tinyintWidths) load(db, table string) map[string]columnMeta {
	txn, err := w.s.db.Begin(engine.TxnOptions{ReadOnly: true})
	if err != nil {
		return nil
	}
	defer txn.Rollback()
	var rec tableRecord
	ok, err := (catalog{store: w.s, txn: txn}).get(context.Background(), sysKey("T", db, table), &rec)
	if err != nil || !ok {
		return nil
	}
	var cols map[string]columnMeta
	for _, c := range rec.Columns {
		var m columnMeta
		typ := strings.ToLower(c.Type)
		switch {
		case strings.HasPrefix(typ, "tinyint(1)"):
			m.tinyint1 = true
		case len(typ) >= len("timestamp(n)") && strings.HasPrefix(typ, "timestamp(") && typ[11] == ')' &&
			typ[10] >= '1' && typ[10] <= '6':
			m.fsp = typ[10] - '0'
		default:
			continue
		}
		if cols == nil {
			cols = map[string]columnMeta{}
		}
		cols[strings.ToLower(c.Name)] = m
	}
	return cols
}

// tinyintLengths gives the TINYINT(1) columns of fields length 1, copying fields when one
// changes.
func (w *tinyintWidths) tinyintLengths(fields []*querypb.Field) ([]*querypb.Field, bool) {
	if w == nil {
		return fields, false
	}
	var out []*querypb.Field
	for i, f := range fields {
		length, decimals := f.ColumnLength, f.Decimals
		switch {
		case f.Type == sqltypes.Int8 && f.ColumnLength != 1:
			if !w.isTinyint1(f.Database, f.OrgTable, f.OrgName) {
				continue
			}
			length = 1
		case f.Type == sqltypes.Timestamp && f.Decimals == 0:
			fsp := w.meta(f.Database, f.OrgTable, f.OrgName).fsp
			if fsp == 0 {
				continue
			}
			decimals = uint32(fsp)
			length = timeLength(19, decimals)
		default:
			continue
		}
		if out == nil {
			out = append([]*querypb.Field(nil), fields...)
		}
		out[i] = &querypb.Field{Name: f.Name, Type: f.Type, Table: f.Table, OrgTable: f.OrgTable,
			Database: f.Database, OrgName: f.OrgName, ColumnLength: length,
			Charset: f.Charset, Decimals: decimals, Flags: f.Flags}
	}
	if out == nil {
		return fields, false
	}
	return out, true
}
