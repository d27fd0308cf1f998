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

// tinyintWidths knows which columns of the Store's tables are TINYINT(1).
type tinyintWidths struct {
	s      *Store
	mu     sync.Mutex
	gen    uint64                     // s.catalogWrites when tables was filled
	tables map[string]map[string]bool // "db\x00table" -> lower-case TINYINT(1) column names
}

func newTinyintWidths(s *Store) *tinyintWidths {
	return &tinyintWidths{s: s, tables: map[string]map[string]bool{}}
}

// isTinyint1 reports whether column col of table db.table is a TINYINT(1).
func (w *tinyintWidths) isTinyint1(db, table, col string) bool {
	if w == nil || w.s == nil || db == "" || table == "" || col == "" {
		return false
	}
	key := strings.ToLower(db) + "\x00" + strings.ToLower(table)
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen := w.s.catalogWrites.Load(); gen != w.gen {
		w.gen, w.tables = gen, map[string]map[string]bool{}
	}
	cols, ok := w.tables[key]
	if !ok {
		cols = w.load(db, table)
		w.tables[key] = cols
	}
	return cols[strings.ToLower(col)]
}

// load reads the TINYINT(1) columns of db.table from the catalog (none when it cannot).
func (w *tinyintWidths) load(db, table string) map[string]bool {
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
	var cols map[string]bool
	for _, c := range rec.Columns {
		if strings.HasPrefix(strings.ToLower(c.Type), "tinyint(1)") {
			if cols == nil {
				cols = map[string]bool{}
			}
			cols[strings.ToLower(c.Name)] = true
		}
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
		if f.Type != sqltypes.Int8 || f.ColumnLength == 1 || !w.isTinyint1(f.Database, f.OrgTable, f.OrgName) {
			continue
		}
		if out == nil {
			out = append([]*querypb.Field(nil), fields...)
		}
		out[i] = &querypb.Field{Name: f.Name, Type: f.Type, Table: f.Table, OrgTable: f.OrgTable,
			Database: f.Database, OrgName: f.OrgName, ColumnLength: 1,
			Charset: f.Charset, Decimals: f.Decimals, Flags: f.Flags}
	}
	if out == nil {
		return fields, false
	}
	return out, true
}
