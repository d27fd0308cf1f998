package sqlstore

import (
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/information_schema"
	"github.com/dolthub/go-mysql-server/sql/plan"
)

// information_schema, as MySQL 8 fills it where GMS's differs.
//
//   - COLUMNS: GMS gives a TEXT column of a multi-byte character set its length in
//     characters, the type's byte limit divided by the character set's longest character
//     (TEXT utf8mb4: 16383 and 65535, columns_table.go, getCharAndCollNamesAndCharMaxAndOctetLens);
//     MySQL gives both CHARACTER_MAXIMUM_LENGTH and CHARACTER_OCTET_LENGTH the byte limit
//     (255, 65535, 16777215, 4294967295). It also gives the FLOAT, DOUBLE and DECIMAL
//     columns whose declared type GMS's does not hold (declared.go) their declared
//     COLUMN_TYPE, and FLOAT(M,D) its NUMERIC_PRECISION and NUMERIC_SCALE.
//   - SCHEMATA: GMS lists the databases of its catalog, without mysql, which SHOW DATABASES
//     lists (rowexec/show.go, buildShowDatabases); the schemata table lists it too, on the same
//     condition.
//
// The engine's catalog gets an information_schema database that serves GMS's tables, these
// two with their rows so corrected.

// installInfoSchema puts the corrected information_schema in eng's catalog.
func (s *Store) installInfoSchema(eng *sqle.Engine) {
	cat := eng.Analyzer.Catalog
	if _, ok := cat.InfoSchema.(*infoSchema); ok {
		return
	}
	cat.InfoSchema = &infoSchema{Database: cat.InfoSchema, s: s}
}

// infoSchema is GMS's information_schema with COLUMNS and SCHEMATA corrected.
type infoSchema struct {
	sql.Database
	s *Store
}

// GetTableInsensitive implements sql.Database.
func (db *infoSchema) GetTableInsensitive(ctx *sql.Context, name string) (sql.Table, bool, error) {
	t, ok, err := db.Database.GetTableInsensitive(ctx, name)
	if err != nil || !ok {
		return t, ok, err
	}
	switch tt := t.(type) {
	case *information_schema.ColumnsTable:
		if tt.RowIter != nil {
			gms := tt.RowIter
			tt.RowIter = func(ctx *sql.Context, cat sql.Catalog, sch sql.Schema) (sql.RowIter, error) {
				it, err := gms(ctx, cat, sch)
				if err != nil {
					return nil, err
				}
				return &columnsIter{RowIter: it, s: db.s, tables: map[string]*Table{}}, nil
			}
		}
	case *information_schema.InformationSchemaTable:
		if strings.EqualFold(tt.TableName, information_schema.SchemataTableName) && tt.Reader != nil {
			cp := *tt
			gms := tt.Reader
			cp.Reader = func(ctx *sql.Context, cat sql.Catalog) (sql.RowIter, error) {
				return schemataRows(ctx, cat, gms)
			}
			return &cp, true, nil
		}
	}
	return t, ok, err
}

// Positions in information_schema.COLUMNS rows.
const (
	colsSchema       = 1
	colsTable        = 2
	colsName         = 3
	colsDataType     = 7
	colsCharMaxLen   = 8
	colsOctetLen     = 9
	colsNumPrecision = 10
	colsNumScale     = 11
	colsColumnType   = 15
)

// textBytes are the byte limits of the TEXT and BLOB types.
var textBytes = map[string]int64{
	"tinytext": 255, "text": 65535, "mediumtext": 16777215, "longtext": 4294967295,
	"tinyblob": 255, "blob": 65535, "mediumblob": 16777215, "longblob": 4294967295,
}

// columnsIter corrects the rows of GMS's information_schema.COLUMNS.
type columnsIter struct {
	sql.RowIter
	s      *Store
	tables map[string]*Table // "db\x00table" -> the table, nil if not Strata's
}

// Next implements sql.RowIter.
func (it *columnsIter) Next(ctx *sql.Context) (sql.Row, error) {
	row, err := it.RowIter.Next(ctx)
	if err != nil || len(row) <= colsColumnType {
		return row, err
	}
	dataType, _ := row[colsDataType].(string)
	switch dataType {
	case "tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob", "longblob":
		n := textBytes[dataType]
		row = row.Copy()
		row[colsCharMaxLen], row[colsOctetLen] = n, n
	case "float", "double", "decimal":
		db, _ := row[colsSchema].(string)
		tbl, _ := row[colsTable].(string)
		name, _ := row[colsName].(string)
		if c, ok := it.declared(ctx, db, tbl, name); ok {
			row = row.Copy()
			row[colsColumnType] = c.text
			if c.decl.m > 0 {
				row[colsNumPrecision], row[colsNumScale] = c.decl.m, c.decl.d
			}
		}
	}
	return row, nil
}

// declared returns the declared type of column name of Strata's table db.tbl, if it says
// more than GMS's.
func (it *columnsIter) declared(ctx *sql.Context, db, tbl, name string) (declaredCol, bool) {
	key := strings.ToLower(db) + "\x00" + strings.ToLower(tbl)
	t, seen := it.tables[key]
	if !seen {
		if d, err := it.s.Database(ctx, db); err == nil {
			if st, ok, err := d.GetTableInsensitive(ctx, tbl); err == nil && ok {
				t, _ = st.(*Table)
			}
		}
		it.tables[key] = t
	}
	if t == nil {
		return declaredCol{}, false
	}
	for _, c := range t.declared {
		if strings.EqualFold(c.name, name) {
			return c, true
		}
	}
	return declaredCol{}, false
}

// schemataRows are GMS's SCHEMATA rows, with mysql when the catalog gives it (as SHOW
// DATABASES does) and GMS's rows do not have it.
func schemataRows(ctx *sql.Context, cat sql.Catalog, gms func(*sql.Context, sql.Catalog) (sql.RowIter, error)) (sql.RowIter, error) {
	it, err := gms(ctx, cat)
	if err != nil {
		return nil, err
	}
	rows, err := sql.RowIterToRows(ctx, it)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if name, _ := r[1].(string); strings.EqualFold(name, "mysql") {
			return sql.RowsToRowIter(rows...), nil
		}
	}
	mdb, err := cat.Database(ctx, "mysql")
	if err != nil {
		return sql.RowsToRowIter(rows...), nil // not visible to this user
	}
	coll := plan.GetDatabaseCollation(ctx, mdb)
	row := sql.Row{"def", "mysql", coll.CharacterSet().String(), coll.String(), nil, "NO"}
	// information_schema comes first in GMS's rows: mysql after it, before the user databases.
	at := 0
	if len(rows) > 0 {
		if name, _ := rows[0][1].(string); strings.EqualFold(name, sql.InformationSchemaDatabaseName) {
			at = 1
		}
	}
	rows = append(rows[:at], append([]sql.Row{row}, rows[at:]...)...)
	return sql.RowsToRowIter(rows...), nil
}
