package sqlstore

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// columnDef is the part of a column definition packet the test compares.
type columnDef struct {
	name     string
	charset  uint16
	length   uint32
	typ      byte
	flags    uint16
	decimals byte
}

// lenenc reads a length-encoded integer at d[*pos].
func lenenc(d []byte, pos *int) uint64 {
	b := d[*pos]
	*pos++
	switch b {
	case 0xfc:
		v := uint64(binary.LittleEndian.Uint16(d[*pos:]))
		*pos += 2
		return v
	case 0xfd:
		v := uint64(d[*pos]) | uint64(d[*pos+1])<<8 | uint64(d[*pos+2])<<16
		*pos += 3
		return v
	case 0xfe:
		v := binary.LittleEndian.Uint64(d[*pos:])
		*pos += 8
		return v
	}
	return uint64(b)
}

// queryColumns runs q over a raw connection and returns its column definitions.
func queryColumns(t *testing.T, addr, q string) []columnDef {
	t.Helper()
	r := dialRaw(t, addr)
	r.mustLogin("root", "")
	first, err := r.command(append([]byte{0x03}, q...))
	if err != nil {
		t.Fatal(err)
	}
	if first.payload[0] == 0xff {
		t.Fatalf("%s: %s", q, first.errText())
	}
	pos := 0
	n := int(lenenc(first.payload, &pos))
	var cols []columnDef
	for i := 0; i < n; i++ {
		d := r.mustRead().payload
		pos := 0
		var strs [6]string
		for j := range strs {
			l := int(lenenc(d, &pos))
			strs[j] = string(d[pos : pos+l])
			pos += l
		}
		lenenc(d, &pos) // length of the fixed fields
		cols = append(cols, columnDef{name: strs[4], charset: binary.LittleEndian.Uint16(d[pos:]),
			length: binary.LittleEndian.Uint32(d[pos+2:]), typ: d[pos+6],
			flags: binary.LittleEndian.Uint16(d[pos+7:]), decimals: d[pos+9]})
	}
	return cols
}

// TestColumnMetadata: result-set column definitions carry what MySQL 8 sends for numeric
// and temporal columns: the binary character set (63), decimals 31 for FLOAT and DOUBLE,
// UNSIGNED ZEROFILL for YEAR, BINARY for TIMESTAMP (as for the other temporal types), and the display lengths of DATETIME, TIMESTAMP and TIME.
// go-sql-driver thus scans a BIT as bytes and reports a FLOAT's scale as not fixed. A
// TINYINT(1) has length 1.
func TestColumnMetadata(t *testing.T) {
	n := startNode(t, t.TempDir())
	db := n.connect(t, "")
	mustExec(t, db, "CREATE DATABASE md")
	mustExec(t, db, "CREATE TABLE md.t (a FLOAT, b DOUBLE, d BIT(3), e YEAR, h DECIMAL(5,2), j INT UNSIGNED, "+
		"dt DATETIME, ts TIMESTAMP NULL, d3 DATETIME(3), tm TIME, v VARCHAR(3))")
	mustExec(t, db, "INSERT INTO md.t VALUES (1.5, 2.5, b'101', 2024, 1.25, 7, NOW(), NOW(), NOW(), '01:02:03', 'x')")
	const (
		unsigned     = 32
		zerofill     = 64
		binaryFlag   = 128
		typeFloat    = 4
		typeDouble   = 5
		typeTime     = 11
		typeDatetime = 12
		typeYear     = 13
		typeTS       = 7
		typeBit      = 16
		typeNewDec   = 246
		typeLong     = 3
	)
	got := queryColumns(t, n.addr, "SELECT a, b, d, e, h, j, dt, ts, d3, tm FROM md.t")
	want := []columnDef{
		{"a", 63, 12, typeFloat, 0, 31},
		{"b", 63, 22, typeDouble, 0, 31},
		{"d", 63, 3, typeBit, unsigned, 0},
		{"e", 63, 4, typeYear, unsigned | zerofill, 0},
		{"h", 63, 7, typeNewDec, 0, 2},
		{"j", 63, 10, typeLong, unsigned, 0},
		{"dt", 63, 19, typeDatetime, binaryFlag, 0},
		{"ts", 63, 19, typeTS, binaryFlag, 0},
		{"d3", 63, 23, typeDatetime, binaryFlag, 3},
		{"tm", 63, 10, typeTime, binaryFlag, 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("column definitions:\n got %+v\nwant %+v", got, want)
	}

	// TINYINT(1) and BOOL have length 1, as drivers expect of a boolean; TINYINT keeps 4, and
	// so does a TINYINT(1) column changed to TINYINT.
	mustExec(t, db, "CREATE TABLE md.b (id INT PRIMARY KEY, f TINYINT(1), g BOOL, h TINYINT, i TINYINT(1))")
	mustExec(t, db, "INSERT INTO md.b VALUES (1, 1, true, 5, 0)")
	mustExec(t, db, "ALTER TABLE md.b MODIFY i TINYINT")
	const typeTiny = 1
	// (Not through a table alias: GMS gives the alias as the column's original table.)
	for _, q := range []string{"SELECT f, g, h, i FROM md.b", "SELECT f, g, h, i FROM md.b WHERE id = 1"} {
		got = queryColumns(t, n.addr, q)
		var lengths []uint32
		for _, c := range got {
			if c.typ != typeTiny {
				t.Fatalf("%s: %+v", q, c)
			}
			lengths = append(lengths, c.length)
		}
		if fmt.Sprint(lengths) != "[1 1 4 4]" {
			t.Errorf("%s: lengths %v, want [1 1 4 4]", q, lengths)
		}
	}

	for _, q := range []string{"SELECT d, a FROM md.t", "SELECT d, a FROM md.t WHERE 1 = ?"} {
		var args []any
		if q != "SELECT d, a FROM md.t" {
			args = []any{1}
		}
		rows, err := db.Query(q, args...)
		if err != nil {
			t.Fatal(err)
		}
		cts, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		if st := cts[0].ScanType(); st != reflect.TypeOf([]byte(nil)) {
			t.Errorf("%s: BIT scans as %v, want []uint8", q, st)
		}
		if p, s, ok := cts[1].DecimalSize(); !ok || p != math.MaxInt64 || s != math.MaxInt64 {
			t.Errorf("%s: FLOAT DecimalSize = %d, %d, %v; want not fixed", q, p, s, ok)
		}
		rows.Close()
	}
}
