package sqlstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/types"
	"github.com/shopspring/decimal"

	"strata/internal/tuple"
)

// appendKey appends the order-preserving key encoding of v, a value of column type typ, so
// that encoded keys compare as typ.Compare does, NULL first. Strings in a collation are
// encoded as their per-rune collation weights (so 'a' and 'A' are one key under a
// case-insensitive collation, as a unique index requires); the key is then lossy, and the row
// keeps the original value.
func appendKey(ctx *sql.Context, b []byte, typ sql.Type, v any) ([]byte, error) {
	if v == nil {
		return tuple.AppendNull(b), nil
	}
	switch x := v.(type) {
	case int8:
		return tuple.AppendInt(b, int64(x)), nil
	case int16:
		return tuple.AppendInt(b, int64(x)), nil
	case int32:
		return tuple.AppendInt(b, int64(x)), nil
	case int64:
		return tuple.AppendInt(b, x), nil
	case int:
		return tuple.AppendInt(b, int64(x)), nil
	case uint8:
		return tuple.AppendUint(b, uint64(x)), nil
	case uint16:
		return tuple.AppendUint(b, uint64(x)), nil
	case uint32:
		return tuple.AppendUint(b, uint64(x)), nil
	case uint64:
		return tuple.AppendUint(b, x), nil
	case float32:
		return tuple.AppendFloat(b, float64(x)), nil
	case float64:
		return tuple.AppendFloat(b, x), nil
	case decimal.Decimal:
		return tuple.AppendDecimal(b, x.String())
	case time.Time:
		// Seconds and nanoseconds as one ordered pair.
		return tuple.AppendInt(tuple.AppendInt(b, x.Unix()), int64(x.Nanosecond())), nil
	case types.Timespan:
		return tuple.AppendInt(b, int64(x)), nil
	case []byte:
		return tuple.AppendBytes(b, x), nil
	case string:
		return appendStringKey(b, typ, x), nil
	}
	// Other types (JSON, geometry...) are not ordered by MySQL in indexes; key them by text.
	if typ != nil {
		sv, err := typ.SQL(ctx, nil, v)
		if err != nil {
			return nil, err
		}
		return tuple.AppendBytes(b, sv.Raw()), nil
	}
	return nil, fmt.Errorf("sqlstore: cannot index a value of type %T", v)
}

// appendStringKey encodes s under typ's collation: binary collations keep the bytes, others
// become big-endian 4-byte rune weights.
func appendStringKey(b []byte, typ sql.Type, s string) []byte {
	st, ok := typ.(sql.StringType)
	if !ok {
		return tuple.AppendString(b, s)
	}
	coll := st.Collation()
	// Binary collations, and utf8mb4 _bin ones (their weights are code points, and UTF-8 bytes
	// sort in code point order), keep the bytes.
	if coll == sql.Collation_binary || coll.CharacterSet() == sql.CharacterSet_utf8mb4 && strings.HasSuffix(coll.Name(), "_bin") {
		return tuple.AppendString(b, s)
	}
	sorter := coll.Sorter()
	enc := coll.CharacterSet().Encoder()
	w := make([]byte, 0, 4*len(s))
	for len(s) > 0 {
		r, n := enc.NextRune(s)
		if n <= 0 {
			break
		}
		wt := uint32(sorter(r))
		w = append(w, byte(wt>>24), byte(wt>>16), byte(wt>>8), byte(wt))
		s = s[n:]
	}
	return tuple.AppendBytes(b, w)
}

// convertKey converts a lookup key to the column type's canonical value (lookup joins may pass
// raw values).
func convertKey(ctx *sql.Context, typ sql.Type, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	out, _, err := typ.Convert(ctx, v)
	if err != nil {
		// A lookup value can be longer than the column (WHERE v = 'toolong' on varchar(3)):
		// it matches nothing, and its key still orders correctly.
		switch v.(type) {
		case string, []byte:
			return v, nil
		}
	}
	return out, err
}
