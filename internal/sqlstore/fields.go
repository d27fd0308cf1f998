package sqlstore

import (
	"bytes"

	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// Column definitions of result sets, as MySQL 8 sends them.
//
// GMS's handler (server/handler.go, schemaToFields) gives every column that is not a string
// the default character set (utf8mb4) where MySQL gives binary (63), which is how drivers
// tell a BIT value's bytes from text (go-sql-driver scanned BIT as a string); it leaves the
// decimals of FLOAT and DOUBLE at 0 where MySQL sends 31 ("not fixed"), YEAR without
// ZEROFILL, TIMESTAMP without BINARY (which the other temporal types have), and the lengths of DATETIME, TIMESTAMP and TIME at their longest (26, 17)
// whatever their fractional digits. guardHandler passes results through mysqlFields.

// binaryCharset is the binary character set (and collation) id.
const binaryCharset = 63

// floatNotFixed is the decimals MySQL sends for a FLOAT or DOUBLE of no fixed scale.
const floatNotFixed = 31

// mysqlFields returns fields as MySQL sends them, and whether they differ: when they do, a
// copy (fields may be shared with cached plans).
func mysqlFields(fields []*querypb.Field) ([]*querypb.Field, bool) {
	var out []*querypb.Field
	for i, f := range fields {
		charset, decimals, flags, length := f.Charset, f.Decimals, f.Flags, f.ColumnLength
		switch {
		case sqltypes.IsIntegral(f.Type), sqltypes.IsFloat(f.Type):
			charset = binaryCharset
		}
		switch f.Type {
		case sqltypes.Decimal, sqltypes.Bit, sqltypes.Year, sqltypes.Date, sqltypes.Datetime,
			sqltypes.Timestamp, sqltypes.Time:
			charset = binaryCharset
		}
		switch f.Type {
		case sqltypes.Float32, sqltypes.Float64:
			if decimals == 0 {
				decimals = floatNotFixed
			}
		case sqltypes.Year:
			flags |= uint32(querypb.MySqlFlag_UNSIGNED_FLAG | querypb.MySqlFlag_ZEROFILL_FLAG)
		case sqltypes.Datetime, sqltypes.Timestamp:
			length = timeLength(19, decimals) // YYYY-MM-DD hh:mm:ss[.fraction]
			flags |= uint32(querypb.MySqlFlag_BINARY_FLAG)
		case sqltypes.Time:
			length = timeLength(10, decimals) // -838:59:59[.fraction]
		}
		if charset == f.Charset && decimals == f.Decimals && flags == f.Flags && length == f.ColumnLength {
			continue
		}
		if out == nil {
			out = append([]*querypb.Field(nil), fields...)
		}
		out[i] = &querypb.Field{Name: f.Name, Type: f.Type, Table: f.Table, OrgTable: f.OrgTable,
			Database: f.Database, OrgName: f.OrgName, ColumnLength: length,
			Charset: charset, Decimals: decimals, Flags: flags}
	}
	if out == nil {
		return fields, false
	}
	return out, true
}

// timeLength is the display length of a temporal value of base characters and decimals
// fractional digits.
func timeLength(base, decimals uint32) uint32 {
	if decimals > 0 && decimals <= 6 {
		return base + 1 + decimals
	}
	return base
}

// withMySQLFields returns res with its column definitions as MySQL sends them (a shallow
// copy when they change), TINYINT(1) lengths from w (tinyint1.go), tables as the statement
// spells them from sp (tablenames.go).
func withMySQLFields(res *sqltypes.Result, w *tinyintWidths, sp *tableSpellings) *sqltypes.Result {
	if res == nil || len(res.Fields) == 0 {
		return res
	}
	fields, changed := mysqlFields(res.Fields)
	fields, widths := w.tinyintLengths(fields)
	fields, spelled := sp.fix(fields)
	padFractions(fields, res.Rows)
	if !changed && !widths && !spelled {
		return res
	}
	cp := *res
	cp.Fields = fields
	return &cp
}

// textRowsCallback returns callback with res's column definitions as MySQL sends them.
func textRowsCallback(callback mysql.ResultSpoolFn, w *tinyintWidths, sp *tableSpellings) mysql.ResultSpoolFn {
	return func(res *sqltypes.Result, more bool) error {
		if res != nil {
			formatFloats(res.Fields, res.Rows)
		}
		return callback(withMySQLFields(res, w, sp), more)
	}
}

// padFractions writes the DATETIME, TIMESTAMP and TIME values of rows with as many fractional
// digits as their column has (its decimals), as MySQL does: a DATETIME(3) of a whole second
// is '2025-06-07 08:09:10.000'. GMS trims trailing zeros (types/datetime.go, SQL:
// TimestampDatetimeLayout), so '08:09:10.500' came out as '08:09:10.5'. The rows are
// changed in place, as GMS made them for this result.
func padFractions(fields []*querypb.Field, rows [][]sqltypes.Value) {
	for col, f := range fields {
		if f.Decimals == 0 || f.Decimals > 6 {
			continue
		}
		switch f.Type {
		case sqltypes.Datetime, sqltypes.Timestamp, sqltypes.Time:
		default:
			continue
		}
		want := int(f.Decimals)
		for _, row := range rows {
			if col >= len(row) || row[col].IsNull() {
				continue
			}
			raw := row[col].Raw()
			if len(raw) == 0 {
				continue
			}
			digits := -1
			if dot := bytes.IndexByte(raw, '.'); dot >= 0 {
				digits = len(raw) - dot - 1
			}
			if digits >= want {
				continue
			}
			padded := make([]byte, 0, len(raw)+want+1)
			padded = append(padded, raw...)
			if digits < 0 {
				padded = append(padded, '.')
				digits = 0
			}
			for ; digits < want; digits++ {
				padded = append(padded, '0')
			}
			row[col] = sqltypes.MakeTrusted(row[col].Type(), padded)
		}
	}
}
