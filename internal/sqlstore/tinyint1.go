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
// The same goes for the FLOAT, DOUBLE and DECIMAL columns whose declared type GMS's does not
// hold (declared.go): MySQL flags an UNSIGNED one UNSIGNED, and gives FLOAT(M,D) and
// DOUBLE(M,D) length M and D decimals (go-sql-driver's DecimalSize reads the scale from
// them); GMS's types have neither, so they come from the table's definition here too.
//
// The same goes for the fractional digits of a TIMESTAMP(n) column: GMS sends decimals only
// for DATETIME (types.IsDatetimeType is false for TIMESTAMP), so a TIMESTAMP(2) came with 0,
// and drivers that format binary values by the decimals (go-sql-driver) dropped the
// fraction. tinyintWidths remembers those too.

// tinyintWidths knows which columns of the Store's tables are TINYINT(1), and which have a
// declared type that says more than GMS's.
type tinyintWidths struct {
	s      *Store
	mu     sync.Mutex
	gen    uint64                         // s.catalogWrites when tables was filled
	tables map[string]map[string]colShape // "db\x00table" -> lower-case column names
}

// colShape is what a column's definition adds to GMS's result-set metadata.
type colShape struct {
	tinyint1 bool
	real     realDecl // declared.go
	fsp      uint8    // fractional digits of a TIMESTAMP(n)
}

func newTinyintWidths(s *Store) *tinyintWidths {
	return &tinyintWidths{s: s, tables: map[string]map[string]colShape{}}
}

// shape returns what column col of table db.table adds to GMS's metadata.
func (w *tinyintWidths) shape(db, table, col string) colShape {
	if w == nil || w.s == nil || db == "" || table == "" || col == "" {
		return colShape{}
	}
	key := strings.ToLower(db) + "\x00" + strings.ToLower(table)
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen := w.s.catalogWrites.Load(); gen != w.gen {
		w.gen, w.tables = gen, map[string]map[string]colShape{}
	}
	cols, ok := w.tables[key]
	if !ok {
		cols = w.load(db, table)
		w.tables[key] = cols
	}
	return cols[strings.ToLower(col)]
}

// load reads the TINYINT(1) and declared columns of db.table from the catalog (none when
// it cannot).
func (w *tinyintWidths) load(db, table string) map[string]colShape {
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
	var cols map[string]colShape
	for _, c := range rec.Columns {
		var sh colShape
		typ := strings.ToLower(c.Type)
		if strings.HasPrefix(typ, "tinyint(1)") {
			sh.tinyint1 = true
		} else if d, ok := parseRealDecl(c.Type); ok {
			sh.real = d
		} else if len(typ) >= len("timestamp(n)") && strings.HasPrefix(typ, "timestamp(") && typ[11] == ')' &&
			typ[10] >= '1' && typ[10] <= '6' {
			sh.fsp = typ[10] - '0'
		} else {
			continue
		}
		if cols == nil {
			cols = map[string]colShape{}
		}
		cols[strings.ToLower(c.Name)] = sh
	}
	return cols
}

// tinyintLengths gives the TINYINT(1) columns of fields length 1, and the declared FLOAT,
// DOUBLE and DECIMAL columns their UNSIGNED flag and (M,D), copying fields when one changes.
func (w *tinyintWidths) tinyintLengths(fields []*querypb.Field) ([]*querypb.Field, bool) {
	if w == nil {
		return fields, false
	}
	var out []*querypb.Field
	for i, f := range fields {
		length, decimals, flags := f.ColumnLength, f.Decimals, f.Flags
		switch f.Type {
		case sqltypes.Int8:
			if f.ColumnLength == 1 || !w.shape(f.Database, f.OrgTable, f.OrgName).tinyint1 {
				continue
			}
			length = 1
		case sqltypes.Float32, sqltypes.Float64, sqltypes.Decimal:
			if f.OrgTable == "" {
				continue
			}
			d := w.shape(f.Database, f.OrgTable, f.OrgName).real
			if d.unsigned {
				flags |= uint32(querypb.MySqlFlag_UNSIGNED_FLAG)
				if f.Type == sqltypes.Decimal && length > 1 {
					length-- // no room for a sign
				}
			}
			if d.m > 0 {
				length, decimals = uint32(d.m), uint32(d.d)
			}
			if length == f.ColumnLength && decimals == f.Decimals && flags == f.Flags {
				continue
			}
		case sqltypes.Timestamp:
			if f.Decimals != 0 {
				continue
			}
			fsp := w.shape(f.Database, f.OrgTable, f.OrgName).fsp
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
			Charset: f.Charset, Decimals: decimals, Flags: flags}
	}
	if out == nil {
		return fields, false
	}
	return out, true
}
