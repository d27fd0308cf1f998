package sqlstore

import (
	"encoding/binary"
	"fmt"

	"github.com/dolthub/go-mysql-server/sql"
)

// Reading only the columns a query uses.
//
// Table implements sql.ProjectedTable: GMS's pruneTables rule gives a SELECT's table the
// names of the columns its plan reads, and the table then returns rows of those columns
// only, in that order. A stored row is decoded value by value; the values of the other
// columns are skipped without being converted, so `SELECT c FROM sbtest1 WHERE id = ?`
// no longer builds the 60-character pad string of every row it reads. Writes never see a
// projection: GMS prunes only under SELECT's nodes, and an UPDATE or DELETE reads and
// writes whole rows.

var _ sql.ProjectedTable = (*Table)(nil)

// projection is the set of columns a Table returns.
type projection struct {
	names []string
	sch   sql.Schema
	// out gives, for each column of the table, its position in a returned row, or -1.
	out []int
	// last is the last column returned: the stored values after it are not read.
	last int
}

// WithProjections implements sql.ProjectedTable.
func (t *Table) WithProjections(colNames []string) sql.Table {
	p := &projection{names: colNames, out: make([]int, len(t.sch.Schema))}
	for i := range p.out {
		p.out[i] = -1
	}
	for i, name := range colNames {
		c := t.sch.Schema.IndexOfColName(name)
		if c < 0 {
			// Not a column of this table: GMS asked for something unexpected, so the
			// table returns whole rows rather than guess.
			return t
		}
		p.out[c] = i
		p.sch = append(p.sch, t.sch.Schema[c])
	}
	p.last = lastWanted(p.out)
	c := *t
	c.proj = p
	return &c
}

// Projections implements sql.ProjectedTable.
func (t *Table) Projections() []string {
	if t.proj == nil {
		return nil
	}
	return t.proj.names
}

// rowOut decodes b, a stored row, into the row the table returns.
func (t *Table) rowOut(ctx *sql.Context, b []byte) (sql.Row, error) {
	if t.proj == nil {
		return decodeRow(ctx, b, t.sch.Schema)
	}
	row := make(sql.Row, len(t.proj.sch))
	if len(row) == 0 {
		return row, nil
	}
	return row, decodeInto(ctx, b, t.sch.Schema, t.proj.out, t.proj.last, row)
}

// project returns the values of full, a whole row, that the table returns.
func (t *Table) project(full sql.Row) sql.Row {
	if t.proj == nil {
		return full
	}
	row := make(sql.Row, len(t.proj.sch))
	for c, i := range t.proj.out {
		if i >= 0 && c < len(full) {
			row[i] = full[c]
		}
	}
	return row
}

// lastWanted returns the last column c with pos[c] >= 0, or -1.
func lastWanted(pos []int) int {
	last := -1
	for c, p := range pos {
		if p >= 0 {
			last = c
		}
	}
	return last
}

// decodeInto decodes b, a row stored for schema sch: the value of column c goes to
// out[pos[c]], or is skipped when pos[c] < 0; columns after last (lastWanted(pos)) are not
// read.
func decodeInto(ctx *sql.Context, b []byte, sch sql.Schema, pos []int, last int, out sql.Row) error {
	n, w := binary.Uvarint(b)
	if w <= 0 {
		return errCorruptRow
	}
	b = b[w:]
	for c := 0; c < int(n) && c <= last; c++ {
		if c >= len(pos) || pos[c] < 0 {
			rest, err := skipValue(b)
			if err != nil {
				return err
			}
			b = rest
			continue
		}
		v, rest, err := decodeValue(ctx, b, sch[c].Type)
		if err != nil {
			return err
		}
		out[pos[c]] = v
		b = rest
	}
	return nil
}

// skipValue returns what follows the encoded value at the start of b (rowcodec.go).
func skipValue(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errCorruptRow
	}
	tag, b := b[0], b[1:]
	switch tag {
	case vNull:
		return b, nil
	case vInt8, vInt16, vInt32, vInt64, vInt, vTimespan:
		_, w := binary.Varint(b)
		if w <= 0 {
			return nil, errCorruptRow
		}
		return b[w:], nil
	case vUint8, vUint16, vUint32, vUint64:
		_, w := binary.Uvarint(b)
		if w <= 0 {
			return nil, errCorruptRow
		}
		return b[w:], nil
	case vFloat32, vFloat64:
		size := 4
		if tag == vFloat64 {
			size = 8
		}
		if len(b) < size {
			return nil, errCorruptRow
		}
		return b[size:], nil
	case vString, vBytes, vDecimal, vJSON, vText:
		l, w := binary.Uvarint(b)
		if w <= 0 || uint64(len(b)-w) < l {
			return nil, errCorruptRow
		}
		return b[w+int(l):], nil
	case vTime:
		_, w := binary.Varint(b)
		if w <= 0 {
			return nil, errCorruptRow
		}
		_, w2 := binary.Uvarint(b[w:])
		if w2 <= 0 {
			return nil, errCorruptRow
		}
		return b[w+w2:], nil
	}
	return nil, fmt.Errorf("%w: tag %d", errCorruptRow, tag)
}
