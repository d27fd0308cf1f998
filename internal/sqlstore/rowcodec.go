package sqlstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"
)

// Rows are stored as a sequence of tagged values, one per column in schema order. The tag
// records the exact Go type GMS gave us (the column type's canonical type), so a row decodes
// to the same values without conversions; types without a fast path are stored as their SQL
// text and converted back through the column type.
const (
	vNull     = 0
	vInt8     = 1
	vInt16    = 2
	vInt32    = 3
	vInt64    = 4
	vUint8    = 5
	vUint16   = 6
	vUint32   = 7
	vUint64   = 8
	vFloat32  = 9
	vFloat64  = 10
	vString   = 11
	vBytes    = 12
	vDecimal  = 13
	vTime     = 14
	vTimespan = 15
	vJSON     = 16
	vText     = 17 // SQL text of any other type, converted on decode
	vInt      = 18
)

func appendLen(b []byte, n int) []byte { return binary.AppendUvarint(b, uint64(n)) }

// encodeRow appends the encoding of row to b.
func encodeRow(ctx *sql.Context, b []byte, sch sql.Schema, row sql.Row) ([]byte, error) {
	if len(row) != len(sch) {
		return nil, fmt.Errorf("sqlstore: row of %d values for %d columns", len(row), len(sch))
	}
	b = appendLen(b, len(row))
	for i, v := range row {
		var err error
		if b, err = encodeValue(ctx, b, sch[i].Type, v); err != nil {
			return nil, fmt.Errorf("sqlstore: column %s: %w", sch[i].Name, err)
		}
	}
	return b, nil
}

func encodeValue(ctx *sql.Context, b []byte, typ sql.Type, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, vNull), nil
	case int8:
		return binary.AppendVarint(append(b, vInt8), int64(x)), nil
	case int16:
		return binary.AppendVarint(append(b, vInt16), int64(x)), nil
	case int32:
		return binary.AppendVarint(append(b, vInt32), int64(x)), nil
	case int64:
		return binary.AppendVarint(append(b, vInt64), x), nil
	case int:
		return binary.AppendVarint(append(b, vInt), int64(x)), nil
	case uint8:
		return binary.AppendUvarint(append(b, vUint8), uint64(x)), nil
	case uint16:
		return binary.AppendUvarint(append(b, vUint16), uint64(x)), nil
	case uint32:
		return binary.AppendUvarint(append(b, vUint32), uint64(x)), nil
	case uint64:
		return binary.AppendUvarint(append(b, vUint64), x), nil
	case float32:
		return binary.LittleEndian.AppendUint32(append(b, vFloat32), math.Float32bits(x)), nil
	case float64:
		return binary.LittleEndian.AppendUint64(append(b, vFloat64), math.Float64bits(x)), nil
	case string:
		return append(appendLen(append(b, vString), len(x)), x...), nil
	case []byte:
		return append(appendLen(append(b, vBytes), len(x)), x...), nil
	case decimal.Decimal:
		s := x.String() // trims trailing zeros: keep the scale the value carries
		if e := x.Exponent(); e < 0 {
			s = x.StringFixed(-e)
		}
		return append(appendLen(append(b, vDecimal), len(s)), s...), nil
	case time.Time:
		b = append(b, vTime)
		b = binary.AppendVarint(b, x.Unix())
		return binary.AppendUvarint(b, uint64(x.Nanosecond())), nil
	case types.Timespan:
		return binary.AppendVarint(append(b, vTimespan), int64(x)), nil
	}
	if typ == nil {
		return nil, fmt.Errorf("value of type %T", v)
	}
	tag := byte(vText)
	if types.IsJSON(typ) {
		tag = vJSON
	}
	sv, err := typ.SQL(ctx, nil, v)
	if err != nil {
		return nil, err
	}
	raw := sv.Raw()
	return append(appendLen(append(b, tag), len(raw)), raw...), nil
}

// decodeRow decodes a row stored for schema sch.
func decodeRow(ctx *sql.Context, b []byte, sch sql.Schema) (sql.Row, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return nil, errCorruptRow
	}
	b = b[w:]
	row := make(sql.Row, len(sch))
	for i := 0; i < int(n); i++ {
		var typ sql.Type
		if i < len(sch) {
			typ = sch[i].Type
		}
		v, rest, err := decodeValue(ctx, b, typ)
		if err != nil {
			return nil, err
		}
		if i < len(row) {
			row[i] = v
		}
		b = rest
	}
	return row, nil
}

var errCorruptRow = fmt.Errorf("sqlstore: corrupt row")

func decodeValue(ctx *sql.Context, b []byte, typ sql.Type) (any, []byte, error) {
	if len(b) == 0 {
		return nil, nil, errCorruptRow
	}
	tag, b := b[0], b[1:]
	varint := func() (int64, []byte, error) {
		v, w := binary.Varint(b)
		if w <= 0 {
			return 0, nil, errCorruptRow
		}
		return v, b[w:], nil
	}
	uvarint := func() (uint64, []byte, error) {
		v, w := binary.Uvarint(b)
		if w <= 0 {
			return 0, nil, errCorruptRow
		}
		return v, b[w:], nil
	}
	bytesVal := func() ([]byte, []byte, error) {
		n, rest, err := uvarint()
		if err != nil || uint64(len(rest)) < n {
			return nil, nil, errCorruptRow
		}
		return rest[:n], rest[n:], nil
	}
	switch tag {
	case vNull:
		return nil, b, nil
	case vInt8, vInt16, vInt32, vInt64, vInt, vTimespan:
		v, rest, err := varint()
		if err != nil {
			return nil, nil, err
		}
		switch tag {
		case vInt8:
			return int8(v), rest, nil
		case vInt16:
			return int16(v), rest, nil
		case vInt32:
			return int32(v), rest, nil
		case vInt:
			return int(v), rest, nil
		case vTimespan:
			return types.Timespan(v), rest, nil
		}
		return v, rest, nil
	case vUint8, vUint16, vUint32, vUint64:
		v, rest, err := uvarint()
		if err != nil {
			return nil, nil, err
		}
		switch tag {
		case vUint8:
			return uint8(v), rest, nil
		case vUint16:
			return uint16(v), rest, nil
		case vUint32:
			return uint32(v), rest, nil
		}
		return v, rest, nil
	case vFloat32:
		if len(b) < 4 {
			return nil, nil, errCorruptRow
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), b[4:], nil
	case vFloat64:
		if len(b) < 8 {
			return nil, nil, errCorruptRow
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:], nil
	case vString, vBytes, vDecimal, vJSON, vText:
		v, rest, err := bytesVal()
		if err != nil {
			return nil, nil, err
		}
		switch tag {
		case vString:
			return string(v), rest, nil
		case vBytes:
			return append([]byte{}, v...), rest, nil
		case vDecimal:
			d, err := decimal.NewFromString(string(v))
			if err != nil {
				return nil, nil, errCorruptRow
			}
			return d, rest, nil
		}
		if typ == nil {
			return string(v), rest, nil
		}
		out, _, err := typ.Convert(ctx, string(v))
		if err != nil {
			return nil, nil, fmt.Errorf("sqlstore: stored value %q as %s: %w", v, typ, err)
		}
		return out, rest, nil
	case vTime:
		sec, rest, err := varint()
		if err != nil {
			return nil, nil, err
		}
		nsec, w := binary.Uvarint(rest)
		if w <= 0 {
			return nil, nil, errCorruptRow
		}
		return time.Unix(sec, int64(nsec)).UTC(), rest[w:], nil
	}
	return nil, nil, fmt.Errorf("%w: tag %d", errCorruptRow, tag)
}
