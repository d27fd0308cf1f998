package redo

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"strata/internal/page"
)

// rawRecord encodes a record with a valid length and CRC from its fields, whatever they are.
func rawRecord(t Type, flags uint8, pg page.ID, payload []byte) []byte {
	b := make([]byte, HeaderSize+len(payload))
	putLength(b, len(b))
	b[8] = byte(t)
	b[9] = flags
	le.PutUint64(b[10:], uint64(pg))
	copy(b[HeaderSize:], payload)
	le.PutUint32(b[4:], recordCRC(b))
	return b
}

// copyRecord returns r with a payload of its own.
func copyRecord(r Record) Record {
	r.Payload = bytes.Clone(r.Payload)
	return r
}

func sameRecord(a, b Record) bool {
	return a.Type == b.Type && a.Flags == b.Flags && a.Page == b.Page && bytes.Equal(a.Payload, b.Payload)
}

// everyType adds one record of every type to g and returns copies of what the methods returned.
func everyType(g *Group) []Record {
	m := page.Meta{Magic: page.MetaMagic, NextPage: 20, FreeHead: 9, FreeCount: 1, CatalogRoot: 2}
	return []Record{
		copyRecord(g.Init(5, page.TypeLeaf, 0, 3)),
		copyRecord(g.Insert(5, 0, []byte("hello"))),
		copyRecord(g.Insert(5, 1, nil)),
		copyRecord(g.InsertDelta(5, 1, 0, AppendDelta(nil, []byte("hello"), []byte("jello!")))),
		copyRecord(g.Delete(5, 1)),
		copyRecord(g.Delete(5, 1)),
		copyRecord(g.Replace(5, 0, []byte("world!"))),
		copyRecord(g.Truncate(5, 1)),
		copyRecord(g.Append(5, [][]byte{[]byte("a"), nil, []byte("ccc")})),
		copyRecord(g.Links(5, 4, 6)),
		copyRecord(g.Next(5, 11)),
		copyRecord(g.Meta(m)),
		copyRecord(g.Overflow(8, 3, 0, []byte("overflow data"))),
		copyRecord(g.Free(9, 7)),
		copyRecord(g.Commit(12345, 1700000000000000)),
		copyRecord(g.End()),
		copyRecord(g.Abort(4096)),
	}
}

func TestTypeString(t *testing.T) {
	for typ := TInit; typ <= maxType; typ++ {
		if s := typ.String(); s == "" || strings.HasPrefix(s, "type(") {
			t.Errorf("Type(%d).String() = %q", typ, s)
		}
	}
	if s := Type(0).String(); s != "type(0)" {
		t.Errorf("Type(0) = %q", s)
	}
	if s := Type(200).String(); s != "type(200)" {
		t.Errorf("Type(200) = %q", s)
	}
}

func TestRoundTripEveryType(t *testing.T) {
	g := NewGroup()
	if !g.Empty() || g.Len() != 0 || g.Bytes() != nil {
		t.Fatal("new group not empty")
	}
	want := everyType(g)
	seen := map[Type]bool{}
	for _, r := range want {
		seen[r.Type] = true
	}
	if len(seen) != int(maxType) {
		t.Fatalf("test covers %d of %d types", len(seen), maxType)
	}
	size := 0
	for _, r := range want {
		size += r.Size()
	}
	if g.Len() != size {
		t.Fatalf("Len = %d, sum of sizes %d", g.Len(), size)
	}
	b := bytes.Clone(g.Bytes())

	var got []Record
	var offs []int
	end, err := Scan(b, func(off int, r Record) error {
		got = append(got, copyRecord(r))
		offs = append(offs, off)
		return nil
	})
	if err != nil || end != len(b) {
		t.Fatalf("Scan = %d, %v; want %d, nil", end, err, len(b))
	}
	if len(got) != len(want) {
		t.Fatalf("Scan found %d records, want %d", len(got), len(want))
	}
	off := 0
	for i := range want {
		w := want[i]
		if i == len(want)-1 {
			w.Flags = FlagGroupEnd
		}
		if !sameRecord(got[i], w) {
			t.Errorf("record %d: got %v %x, want %v %x", i, got[i], got[i].Payload, w, w.Payload)
		}
		if offs[i] != off {
			t.Errorf("record %d at %d, want %d", i, offs[i], off)
		}
		r, n, err := Decode(b[off:])
		if err != nil || n != w.Size() || !sameRecord(r, w) {
			t.Errorf("Decode record %d: %v, %d, %v", i, r, n, err)
		}
		// Re-encoding the decoded fields gives the same bytes.
		if raw := rawRecord(r.Type, r.Flags, r.Page, r.Payload); !bytes.Equal(raw, b[off:off+n]) {
			t.Errorf("record %d: re-encoding differs", i)
		}
		off += n
	}
	if txn, err := CommitTxn(got[len(got)-3]); err != nil || txn != 12345 {
		t.Errorf("CommitTxn = %d, %v", txn, err)
	}
	if from, err := AbortFrom(got[len(got)-1]); err != nil || from != 4096 {
		t.Errorf("AbortFrom = %d, %v", from, err)
	}
	if _, err := AbortFrom(got[0]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("AbortFrom of an init record: %v", err)
	}
	if _, err := CommitTxn(got[0]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("CommitTxn of an init record: %v", err)
	}
	if _, err := CommitTxn(Record{Type: TCommit, Payload: []byte{1}}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("CommitTxn of a short commit record: %v", err)
	}
}

// TestRecordFields checks the payload layout written by each Group method.
func TestRecordFields(t *testing.T) {
	g := NewGroup()
	r := g.Init(5, page.TypeInternal, 2, 77)
	if r.Type != TInit || r.Page != 5 || r.Payload[0] != byte(page.TypeInternal) || r.Payload[1] != 2 ||
		le.Uint64(r.Payload[2:]) != 77 || len(r.Payload) != 10 {
		t.Errorf("Init: %v %x", r, r.Payload)
	}
	r = g.Insert(6, 300, []byte("xy"))
	if le.Uint16(r.Payload) != 300 || string(r.Payload[2:]) != "xy" {
		t.Errorf("Insert: %x", r.Payload)
	}
	r = g.Append(6, [][]byte{[]byte("a"), []byte("bc")})
	if want := []byte{2, 0, 1, 0, 'a', 2, 0, 'b', 'c'}; !bytes.Equal(r.Payload, want) {
		t.Errorf("Append: %x, want %x", r.Payload, want)
	}
	r = g.Append(6, nil)
	if want := []byte{0, 0}; !bytes.Equal(r.Payload, want) {
		t.Errorf("empty Append: %x", r.Payload)
	}
	r = g.Meta(page.Meta{Magic: 1})
	if r.Page != page.MetaID || len(r.Payload) != page.MetaSize {
		t.Errorf("Meta: %v", r)
	}
	r = g.Commit(9, 1700000000000000)
	if r.Page != page.Invalid || r.Flags != 0 || r.GroupEnd() {
		t.Errorf("Commit: %v", r)
	}
	if s := r.String(); s != "commit page=0 len=16 end=false" {
		t.Errorf("String = %q", s)
	}
}

func TestBytesGroupEnd(t *testing.T) {
	for n := 1; n <= 5; n++ {
		g := NewGroup()
		for i := 0; i < n; i++ {
			g.Insert(page.ID(10+i), i, bytes.Repeat([]byte{'x'}, i))
		}
		b := g.Bytes()
		// Bytes is idempotent.
		if b2 := g.Bytes(); !bytes.Equal(b, b2) {
			t.Fatalf("n=%d: second Bytes differs", n)
		}
		i := 0
		end, err := Scan(b, func(off int, r Record) error {
			if r.GroupEnd() != (i == n-1) {
				t.Errorf("n=%d: record %d GroupEnd = %v", n, i, r.GroupEnd())
			}
			i++
			return nil
		})
		if err != nil || end != len(b) || i != n {
			t.Fatalf("n=%d: Scan = %d, %v after %d records", n, end, err, i)
		}
		// Without the last record the group is incomplete and nothing is kept.
		lastOff := len(b) - (HeaderSize + 2 + n - 1)
		if end, err := Scan(b[:lastOff], nil); end != 0 || err != nil {
			t.Fatalf("n=%d: Scan without the group end = %d, %v", n, end, err)
		}
	}

	// Reset keeps the group usable.
	g := NewGroup()
	g.Delete(5, 0)
	g.Bytes()
	g.Reset()
	if !g.Empty() || g.Len() != 0 {
		t.Fatal("Reset left records")
	}
	g.Truncate(5, 0)
	g.Truncate(5, 1)
	b := g.Bytes()
	flags := []bool{}
	if _, err := Scan(b, func(_ int, r Record) error { flags = append(flags, r.GroupEnd()); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(flags, []bool{false, true}) {
		t.Fatalf("after Reset: group-end flags %v", flags)
	}
}

// TestBytesThenAdd is a regression test for Bytes leaving an earlier group-end flag set when
// records are added to a group after Bytes was called.

func TestBytesThenAdd(t *testing.T) {
	g := NewGroup()
	g.Insert(5, 0, []byte("x"))
	g.Bytes()
	g.Insert(5, 1, []byte("y"))
	var flags []bool
	if _, err := Scan(g.Bytes(), func(_ int, r Record) error { flags = append(flags, r.GroupEnd()); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(flags, []bool{false, true}) {
		t.Fatalf("group-end flags %v, want only the last", flags)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := rawRecord(TInsert, 0, 5, []byte{0, 0, 'a'})
	if _, _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
	withLen := func(n uint32) []byte {
		b := bytes.Clone(good)
		putLength(b, int(n))
		return b
	}
	damagedLen := func(raw uint32) []byte {
		b := bytes.Clone(good)
		le.PutUint32(b, raw)
		return b
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short header", good[:HeaderSize-1], ErrShort},
		{"short payload", good[:len(good)-1], ErrShort},
		{"length past the bytes", withLen(uint32(len(good) + 1)), ErrShort},
		{"length 0", withLen(0), ErrCorrupt},
		{"length below header", withLen(HeaderSize - 1), ErrCorrupt},
		{"length field damaged", damagedLen(uint32(len(good)) | 1<<20), ErrCorrupt},
		{"length 2^32-1", damagedLen(^uint32(0)), ErrCorrupt},
		{"length bit flipped", damagedLen(uint32(len(good)) ^ 4 | uint32(^uint16(len(good)))<<16), ErrCorrupt},
		{"length shorter", withLen(uint32(len(good) - 1)), ErrCorrupt},
		{"bad crc", func() []byte { b := bytes.Clone(good); b[4] ^= 1; return b }(), ErrCorrupt},
		{"flipped payload", func() []byte { b := bytes.Clone(good); b[len(b)-1] ^= 0x80; return b }(), ErrCorrupt},
		{"type 0", rawRecord(0, 0, 5, nil), ErrCorrupt},
		{"type 15", rawRecord(maxType+1, 0, 5, nil), ErrCorrupt},
		{"type 255", rawRecord(255, 0, 5, nil), ErrCorrupt},
		{"flags 2", rawRecord(TInsert, 2, 5, nil), ErrCorrupt},
		{"flags 0x81", rawRecord(TInsert, 0x81, 5, nil), ErrCorrupt},
		{"commit with a page", rawRecord(TCommit, FlagGroupEnd, 5, make([]byte, 8)), ErrCorrupt},
		{"insert without a page", rawRecord(TInsert, 0, 0, []byte{0, 0}), ErrCorrupt},
	} {
		r, n, err := Decode(tc.b)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Decode = %v, %d, %v; want %v", tc.name, r, n, err, tc.want)
		}
		if errors.Is(tc.want, ErrShort) && err != ErrShort {
			t.Errorf("%s: ErrShort should be returned unwrapped, got %v", tc.name, err)
		}
		if err != nil && (n != 0 || r.Payload != nil) {
			t.Errorf("%s: error with n=%d payload=%x", tc.name, n, r.Payload)
		}
	}
	// Bytes after the record are not part of it.
	b := append(bytes.Clone(good), 1, 2, 3)
	if r, n, err := Decode(b); err != nil || n != len(good) || !bytes.Equal(r.Payload, []byte{0, 0, 'a'}) {
		t.Errorf("Decode with trailing bytes: %v %d %v", r, n, err)
	}
	// The largest record decodes.
	big := rawRecord(TOverflow, FlagGroupEnd, 8, make([]byte, MaxRecord-HeaderSize))
	if _, n, err := Decode(big); err != nil || n != MaxRecord {
		t.Errorf("MaxRecord: %d %v", n, err)
	}
}

// testLog is three groups: the boundaries are at ends[1:].
func testLog(t *testing.T) (log []byte, recOffs, ends []int) {
	t.Helper()
	g := NewGroup()
	var groups [][]byte
	g.Init(5, page.TypeLeaf, 0, 1)
	g.Insert(5, 0, []byte("first"))
	g.Insert(5, 1, []byte("second"))
	groups = append(groups, bytes.Clone(g.Bytes()))
	g.Reset()
	g.Replace(5, 0, []byte("FIRST"))
	groups = append(groups, bytes.Clone(g.Bytes()))
	g.Reset()
	g.Append(5, [][]byte{[]byte("x"), []byte("yy")})
	g.Links(5, 0, 6)
	g.Commit(1, 1700000000000000)
	groups = append(groups, bytes.Clone(g.Bytes()))
	ends = []int{0}
	for _, gb := range groups {
		log = append(log, gb...)
		ends = append(ends, len(log))
	}
	if _, err := Scan(log, func(off int, r Record) error { recOffs = append(recOffs, off); return nil }); err != nil {
		t.Fatal(err)
	}
	return log, recOffs, ends
}

// lastEnd returns the largest group boundary <= off.
func lastEnd(ends []int, off int) int {
	e := 0
	for _, x := range ends {
		if x <= off {
			e = x
		}
	}
	return e
}

// recordAt returns the offset of the record holding byte i.
func recordAt(offs []int, i int) int {
	r := 0
	for _, o := range offs {
		if o <= i {
			r = o
		}
	}
	return r
}

func TestScanTornTail(t *testing.T) {
	log, offs, ends := testLog(t)
	for l := 0; l <= len(log); l++ {
		var seen []int
		end, err := Scan(log[:l], func(off int, r Record) error { seen = append(seen, off); return nil })
		if err != nil {
			t.Fatalf("prefix %d: %v", l, err)
		}
		if want := lastEnd(ends, l); end != want {
			t.Fatalf("prefix %d: end %d, want %d", l, end, want)
		}
		// fn saw exactly the complete records.
		var want []int
		for i, o := range offs {
			next := len(log)
			if i+1 < len(offs) {
				next = offs[i+1]
			}
			if next <= l {
				want = append(want, o)
			}
		}
		if !slices.Equal(seen, want) {
			t.Fatalf("prefix %d: saw records at %v, want %v", l, seen, want)
		}
	}
	if end, err := Scan(nil, nil); end != 0 || err != nil {
		t.Fatalf("Scan(nil) = %d, %v", end, err)
	}
}

func TestScanCorrupt(t *testing.T) {
	log, offs, ends := testLog(t)
	silent := 0
	for i := range log {
		rec := recordAt(offs, i)
		inLength := i-rec < 4
		for bit := 0; bit < 8; bit++ {
			b := bytes.Clone(log)
			b[i] ^= 1 << bit
			end, err := Scan(b, nil)
			if want := lastEnd(ends, rec); end > want {
				t.Fatalf("flip %d.%d: end %d keeps the damaged group (want <= %d)", i, bit, end, want)
			}
			if err == nil && inLength {
				silent++ // reported below: must not happen
				continue
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flip %d.%d: err %v, want ErrCorrupt", i, bit, err)
			}
			if want := fmt.Sprintf("at offset %d:", rec); !strings.Contains(err.Error(), want) {
				t.Fatalf("flip %d.%d: err %q does not name the offset (%q)", i, bit, err, want)
			}
			if want := lastEnd(ends, rec); end != want {
				t.Fatalf("flip %d.%d: end %d, want %d", i, bit, end, want)
			}
		}
	}
	if silent > 0 {
		t.Fatalf("%d of %d bit flips in length fields read as a torn tail", silent, 8*4*len(offs))
	}

	// An error from fn stops the scan and is returned as is.
	stop := errors.New("stop")
	n := 0
	end, err := Scan(log, func(off int, r Record) error {
		n++
		if off == offs[4] {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 || end != ends[2] {
		t.Fatalf("fn error: end %d, err %v after %d records", end, err, n)
	}
	// Garbage after the log: zeros are corrupt (length 0), not a torn tail.
	end, err = Scan(append(bytes.Clone(log), make([]byte, HeaderSize)...), nil)
	if !errors.Is(err, ErrCorrupt) || end != len(log) {
		t.Fatalf("zeros after the log: %d, %v", end, err)
	}
	// Fewer bytes than a length field are a torn tail.
	end, err = Scan(append(bytes.Clone(log), make([]byte, 3)...), nil)
	if err != nil || end != len(log) {
		t.Fatalf("short zeros after the log: %d, %v", end, err)
	}
}

// TestScanCorruptLength is a regression test for Scan treating a damaged length field in the
// middle of the log as a torn tail: the length now points past the end of the bytes, Decode
// returns ErrShort and Scan returns a nil error, silently dropping every later complete group
// .
func TestScanCorruptLength(t *testing.T) {
	log, offs, ends := testLog(t)
	b := bytes.Clone(log)
	b[offs[3]+1] ^= 0x01 // second group's record: length + 256
	end, err := Scan(b, nil)
	if err == nil {
		t.Fatalf("Scan = %d, nil: groups ending at %v dropped without an error", end, ends[2:])
	}
}

// initLeaf returns page id initialised as a leaf at lsn with cells, through Apply.
func initLeaf(t testing.TB, id page.ID, lsn page.LSN, cells ...string) *page.Page {
	t.Helper()
	p := new(page.Page)
	g := NewGroup()
	mustApply(t, p, lsn, g.Init(id, page.TypeLeaf, 0, 1))
	for i, c := range cells {
		mustApply(t, p, lsn+page.LSN(i+1), g.Insert(id, i, []byte(c)))
	}
	return p
}

func mustApply(t testing.TB, p *page.Page, lsn page.LSN, r Record) {
	t.Helper()
	if err := Apply(p, lsn, r); err != nil {
		t.Fatalf("Apply(%v at %d): %v", r, lsn, err)
	}
}

func cellStrings(p *page.Page) []string {
	var out []string
	for i := 0; i < p.NumCells(); i++ {
		out = append(out, string(p.Cell(i)))
	}
	return out
}

func TestApplyCells(t *testing.T) {
	p := initLeaf(t, 5, 100)
	g := NewGroup()
	lsn := page.LSN(200)
	step := func(r Record, want ...string) {
		t.Helper()
		lsn += 10
		mustApply(t, p, lsn, r)
		if got := cellStrings(p); !slices.Equal(got, want) {
			t.Fatalf("after %v: cells %q, want %q", r, got, want)
		}
		if p.LSN() != lsn {
			t.Fatalf("after %v: LSN %d, want %d", r, p.LSN(), lsn)
		}
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
	}
	step(g.Insert(5, 0, []byte("b")), "b")
	step(g.Insert(5, 0, []byte("a")), "a", "b")
	step(g.Insert(5, 2, []byte("d")), "a", "b", "d")
	step(g.Insert(5, 2, []byte("c")), "a", "b", "c", "d")
	step(g.Replace(5, 1, []byte("BB")), "a", "BB", "c", "d")
	step(g.Delete(5, 0), "BB", "c", "d")
	step(g.Append(5, [][]byte{[]byte("e"), []byte("f")}), "BB", "c", "d", "e", "f")
	step(g.Truncate(5, 3), "BB", "c", "d")
	step(g.Append(5, nil), "BB", "c", "d")
	step(g.Truncate(5, 3), "BB", "c", "d")
	step(g.Truncate(5, 0))
	step(g.Links(5, 4, 6))
	if p.Left() != 4 || p.Right() != 6 {
		t.Fatalf("links %d %d", p.Left(), p.Right())
	}
	step(g.Next(5, 99))
	if p.Next() != 99 {
		t.Fatalf("next %d", p.Next())
	}
	if p.Type() != page.TypeLeaf || p.ID() != 5 || p.Owner() != 1 {
		t.Fatalf("header changed: %v %d %d", p.Type(), p.ID(), p.Owner())
	}
	// Re-init clears the cells and links.
	step(g.Init(5, page.TypeInternal, 1, 2))
	if p.Type() != page.TypeInternal || p.Level() != 1 || p.Owner() != 2 || p.Left() != 0 || p.Next() != 0 {
		t.Fatalf("re-init: %v level %d owner %d left %d next %d", p.Type(), p.Level(), p.Owner(), p.Left(), p.Next())
	}
	step(g.Insert(5, 0, []byte("internal cell")), "internal cell")
}

func TestApplyIdempotent(t *testing.T) {
	g := NewGroup()
	p := initLeaf(t, 5, 100, "a", "b")
	ins := g.Insert(5, 1, []byte("x"))
	mustApply(t, p, 200, ins)
	want := *p
	records := []Record{
		ins,
		g.Delete(5, 0),
		g.Replace(5, 0, []byte("zzz")),
		g.Truncate(5, 0),
		g.Append(5, [][]byte{[]byte("q")}),
		g.Links(5, 1, 2),
		g.Next(5, 3),
		g.Init(5, page.TypeInternal, 1, 9),
		g.Overflow(5, 1, 0, []byte("o")),
		g.Free(5, 0),
		g.Insert(5, 999, []byte("bad slot")), // would fail if applied
	}
	if err := Apply(p, 1, g.Insert(6, 0, []byte("other page"))); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a record for page 6 applied to page 5: %v", err)
	}
	for _, r := range records {
		for _, lsn := range []page.LSN{0, 1, 100, 199, 200} {
			if err := Apply(p, lsn, r); err != nil {
				t.Fatalf("Apply(%v at %d <= page LSN 200): %v", r, lsn, err)
			}
			if *p != want {
				t.Fatalf("Apply(%v at %d <= page LSN 200) changed the page", r, lsn)
			}
		}
	}
	if got := cellStrings(p); !slices.Equal(got, []string{"a", "x", "b"}) {
		t.Fatalf("cells %q", got)
	}
	// The next LSN applies.
	mustApply(t, p, 201, g.Delete(5, 0))
	if got := cellStrings(p); !slices.Equal(got, []string{"x", "b"}) || p.LSN() != 201 {
		t.Fatalf("cells %q lsn %d", got, p.LSN())
	}
}

func TestApplyWrongPage(t *testing.T) {
	g := NewGroup()
	p := initLeaf(t, 5, 100, "a")
	before := *p
	for _, r := range []Record{
		g.Insert(6, 0, []byte("x")),
		g.Delete(6, 0),
		g.Init(6, page.TypeLeaf, 0, 1),
		g.Links(6, 1, 2),
		g.Overflow(6, 1, 0, nil),
		g.Free(6, 0),
		g.Meta(page.Meta{}),
	} {
		err := Apply(p, 500, r)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Apply(%v) to page 5: %v, want ErrCorrupt", r, err)
		}
		if *p != before {
			t.Fatalf("Apply(%v) to page 5 changed it", r)
		}
	}
}

func TestApplyUninitialised(t *testing.T) {
	g := NewGroup()
	for _, r := range []Record{
		g.Insert(5, 0, []byte("x")),
		g.Delete(5, 0),
		g.Replace(5, 0, []byte("x")),
		g.Truncate(5, 0),
		g.Append(5, [][]byte{[]byte("x")}),
		g.Append(5, nil),
		g.Links(5, 1, 2),
		g.Next(5, 1),
		rawRecord2(TMeta, 5, make([]byte, page.MetaSize)), // meta of a page other than MetaID
	} {
		var p page.Page
		err := Apply(&p, 500, r)
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Apply(%v) to a zero page: %v, want ErrCorrupt", r, err)
		}
		if p != (page.Page{}) {
			t.Errorf("Apply(%v) changed a zero page", r)
		}
	}
	// Records that initialise a page apply to a zero page.
	for _, r := range []Record{
		g.Init(5, page.TypeLeaf, 0, 1),
		g.Init(5, page.TypeInternal, 3, 1),
		g.Init(page.MetaID, page.TypeMeta, 0, 0),
		g.Overflow(5, 1, 0, []byte("x")),
		g.Free(5, 0),
		g.Meta(page.Meta{Magic: page.MetaMagic}),
	} {
		var p page.Page
		mustApply(t, &p, 500, r)
		if p.ID() != r.Page || p.LSN() != 500 || p.Type() == page.TypeZero {
			t.Errorf("Apply(%v) to a zero page: id %d lsn %d type %v", r, p.ID(), p.LSN(), p.Type())
		}
		if err := p.Check(); err != nil {
			t.Errorf("Apply(%v): Check: %v", r, err)
		}
	}
}

// rawRecord2 builds a Record value directly, bypassing Group, for fields Group never writes.
func rawRecord2(t Type, pg page.ID, payload []byte) Record {
	return Record{Type: t, Page: pg, Payload: payload}
}

func TestApplyCommit(t *testing.T) {
	g := NewGroup()
	p := initLeaf(t, 5, 100)
	before := *p
	for _, r := range []Record{g.Commit(1, 1700000000000000), rawRecord2(TCommit, 5, make([]byte, 8)), rawRecord2(TInsert, 0, []byte{0, 0})} {
		if err := Apply(p, 200, r); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Apply(%v): %v, want ErrCorrupt", r, err)
		}
	}
	if *p != before {
		t.Fatal("page changed")
	}
}

func TestApplyBadRecords(t *testing.T) {
	leaf := initLeaf(t, 5, 100, "a", "b")
	var overflow page.Page
	mustApply(t, &overflow, 100, NewGroup().Overflow(5, 1, 0, []byte("data")))
	var meta page.Page
	mustApply(t, &meta, 100, NewGroup().Meta(page.Meta{Magic: page.MetaMagic}))
	appendPayload := func(cells ...[]byte) []byte {
		return NewGroup().Append(5, cells).Payload
	}
	for _, tc := range []struct {
		name string
		p    *page.Page
		r    Record
		want error
	}{
		{"init short", leaf, rawRecord2(TInit, 5, make([]byte, 9)), ErrCorrupt},
		{"init long", leaf, rawRecord2(TInit, 5, make([]byte, 11)), ErrCorrupt},
		{"init as zero", leaf, NewGroup().Init(5, page.TypeZero, 0, 0), ErrCorrupt},
		{"init as overflow", leaf, NewGroup().Init(5, page.TypeOverflow, 0, 0), ErrCorrupt},
		{"init as free", leaf, NewGroup().Init(5, page.TypeFree, 0, 0), ErrCorrupt},
		{"init as type 99", leaf, NewGroup().Init(5, 99, 0, 0), ErrCorrupt},
		{"insert empty payload", leaf, rawRecord2(TInsert, 5, nil), ErrCorrupt},
		{"insert one byte", leaf, rawRecord2(TInsert, 5, []byte{0}), ErrCorrupt},
		{"insert bad slot", leaf, NewGroup().Insert(5, 3, []byte("x")), page.ErrCorrupt},
		{"insert too big", leaf, NewGroup().Insert(5, 0, make([]byte, page.MaxCell+1)), page.ErrFull},
		{"insert on overflow", &overflow, NewGroup().Insert(5, 0, nil), ErrCorrupt},
		{"insert on meta", &meta, NewGroup().Insert(1, 0, nil), ErrCorrupt},
		{"replace bad slot", leaf, NewGroup().Replace(5, 2, []byte("x")), page.ErrCorrupt},
		{"replace too big", leaf, NewGroup().Replace(5, 0, make([]byte, page.MaxCell+1)), page.ErrFull},
		{"delete bad slot", leaf, NewGroup().Delete(5, 2), page.ErrCorrupt},
		{"delete long payload", leaf, rawRecord2(TDelete, 5, []byte{0, 0, 0}), ErrCorrupt},
		{"delete on overflow", &overflow, NewGroup().Delete(5, 0), ErrCorrupt},
		{"truncate bad slot", leaf, NewGroup().Truncate(5, 3), page.ErrCorrupt},
		{"truncate short payload", leaf, rawRecord2(TTruncate, 5, []byte{0}), ErrCorrupt},
		{"append empty payload", leaf, rawRecord2(TAppend, 5, nil), ErrCorrupt},
		{"append count past payload", leaf, rawRecord2(TAppend, 5, []byte{2, 0, 1, 0, 'a'}), ErrCorrupt},
		{"append length past payload", leaf, rawRecord2(TAppend, 5, []byte{1, 0, 5, 0, 'a'}), ErrCorrupt},
		{"append trailing bytes", leaf, rawRecord2(TAppend, 5, append(appendPayload([]byte("a")), 'x')), ErrCorrupt},
		{"append cell too big", leaf, NewGroup().Append(5, [][]byte{make([]byte, page.MaxCell+1)}), ErrCorrupt},
		{"append on overflow", &overflow, NewGroup().Append(5, nil), ErrCorrupt},
		{"append on meta", &meta, NewGroup().Append(1, nil), ErrCorrupt},
		{"links short", leaf, rawRecord2(TLinks, 5, make([]byte, 15)), ErrCorrupt},
		{"next long", leaf, rawRecord2(TNext, 5, make([]byte, 9)), ErrCorrupt},
		{"meta short", &meta, rawRecord2(TMeta, 1, make([]byte, page.MetaSize-1)), ErrCorrupt},
		{"meta on leaf", leaf, rawRecord2(TMeta, 5, make([]byte, page.MetaSize)), ErrCorrupt},
		{"overflow short", leaf, rawRecord2(TOverflow, 5, make([]byte, 15)), ErrCorrupt},
		{"overflow too much data", leaf, NewGroup().Overflow(5, 1, 0, make([]byte, MaxOverflowData+1)), ErrCorrupt},
		{"free long", leaf, rawRecord2(TFree, 5, make([]byte, 16)), ErrCorrupt},
		{"type 0", leaf, rawRecord2(0, 5, nil), ErrCorrupt},
		{"type 13", leaf, rawRecord2(13, 5, nil), ErrCorrupt},
	} {
		before := *tc.p
		err := Apply(tc.p, 1000, tc.r)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Apply = %v, want %v", tc.name, err, tc.want)
		}
		if *tc.p != before {
			t.Errorf("%s: failed Apply changed the page", tc.name)
			*tc.p = before
		}
	}
}

func TestApplyAppendFull(t *testing.T) {
	g := NewGroup()
	p := initLeaf(t, 5, 100)
	var cells [][]byte
	for i := 0; i < 3; i++ {
		cells = append(cells, bytes.Repeat([]byte{byte('a' + i)}, page.MaxCell))
	}
	mustApply(t, p, 200, g.Append(5, cells))
	mustApply(t, p, 201, g.Delete(5, 1)) // leave garbage so that the next append must compact
	free := p.FreeSpace()
	if free != 2*page.CellCost(page.MaxCell) {
		t.Fatalf("free %d", free)
	}
	// Three cells whose total cost is exactly the free space, and the same one byte bigger.
	exact := [][]byte{make([]byte, 4000), make([]byte, 4000), make([]byte, free-3*page.CellCost(0)-8000)}
	over := [][]byte{exact[0], exact[1], make([]byte, len(exact[2])+1)}
	// One cell too many, and a set of cells one byte too big together.
	for _, cs := range [][][]byte{
		{make([]byte, page.MaxCell), make([]byte, page.MaxCell), nil},
		over,
	} {
		before := *p
		err := Apply(p, 300, g.Append(5, cs))
		if !errors.Is(err, page.ErrFull) {
			t.Fatalf("Append beyond capacity: %v, want ErrFull", err)
		}
		if *p != before {
			t.Fatal("failed Append changed the page")
		}
	}
	// Exactly the free space fits, through compaction.
	mustApply(t, p, 300, g.Append(5, exact))
	if p.FreeSpace() != 0 || p.NumCells() != 5 {
		t.Fatalf("after exact Append: free %d cells %d", p.FreeSpace(), p.NumCells())
	}
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	before := *p
	if err := Apply(p, 400, g.Insert(5, 0, nil)); !errors.Is(err, page.ErrFull) || *p != before {
		t.Fatalf("Insert into a full page: %v (changed %v)", err, *p != before)
	}
	if err := Apply(p, 400, g.Append(5, [][]byte{nil})); !errors.Is(err, page.ErrFull) || *p != before {
		t.Fatalf("Append into a full page: %v (changed %v)", err, *p != before)
	}
	mustApply(t, p, 400, g.Append(5, nil)) // appending nothing fits
}

func TestApplyOverflow(t *testing.T) {
	g := NewGroup()
	for _, n := range []int{0, 1, 1000, MaxOverflowData} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 31)
		}
		p := initLeaf(t, 8, 100, "old cell")
		mustApply(t, p, 200, g.Overflow(8, 3, 9, data))
		if p.Type() != page.TypeOverflow || p.ID() != 8 || p.Owner() != 3 || p.Next() != 9 || p.LSN() != 200 || p.NumCells() != 0 {
			t.Fatalf("overflow page: %v id %d owner %d next %d lsn %d cells %d", p.Type(), p.ID(), p.Owner(), p.Next(), p.LSN(), p.NumCells())
		}
		got, err := OverflowData(p)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("OverflowData(%d bytes): %d bytes, %v", n, len(got), err)
		}
		if err := p.Check(); err != nil {
			t.Fatal(err)
		}
		p.Seal()
		if err := p.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	// OverflowData rejects other pages and a damaged length.
	leaf := initLeaf(t, 5, 100)
	if _, err := OverflowData(leaf); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OverflowData of a leaf: %v", err)
	}
	var p page.Page
	mustApply(t, &p, 100, g.Overflow(8, 3, 0, []byte("abc")))
	le.PutUint16(p.Data(), MaxOverflowData+1)
	if _, err := OverflowData(&p); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OverflowData with length %d: %v", MaxOverflowData+1, err)
	}
	le.PutUint16(p.Data(), 0xffff)
	if _, err := OverflowData(&p); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("OverflowData with length 0xffff: %v", err)
	}
}

func TestApplyFree(t *testing.T) {
	g := NewGroup()
	p := initLeaf(t, 7, 100, "a", "b", "c")
	mustApply(t, p, 200, g.Links(7, 6, 8))
	mustApply(t, p, 300, g.Free(7, 4))
	var want page.Page
	want.Init(7, page.TypeFree, 0, page.Invalid)
	want.SetNext(4)
	want.SetLSN(300)
	if *p != want {
		t.Fatalf("free page: type %v cells %d next %d links %d/%d", p.Type(), p.NumCells(), p.Next(), p.Left(), p.Right())
	}
	// A free page holds no cells.
	before := *p
	if err := Apply(p, 400, g.Insert(7, 0, []byte("x"))); !errors.Is(err, ErrCorrupt) || *p != before {
		t.Fatalf("insert on a free page: %v", err)
	}
	// It can be initialised again when allocated.
	mustApply(t, p, 500, g.Init(7, page.TypeLeaf, 0, 2))
	if p.Type() != page.TypeLeaf || p.Next() != 0 {
		t.Fatalf("reallocated: %v next %d", p.Type(), p.Next())
	}
}

func TestApplyMeta(t *testing.T) {
	g := NewGroup()
	var p page.Page
	m := page.Meta{Magic: page.MetaMagic, NextPage: 10, FreeHead: 0, FreeCount: 0, CatalogRoot: 2}
	mustApply(t, &p, 100, g.Meta(m))
	if p.Type() != page.TypeMeta || p.ID() != page.MetaID || p.Meta() != m || p.LSN() != 100 {
		t.Fatalf("meta page: %v id %d meta %+v lsn %d", p.Type(), p.ID(), p.Meta(), p.LSN())
	}
	m2 := page.Meta{Magic: page.MetaMagic, NextPage: 11, FreeHead: 7, FreeCount: 1, CatalogRoot: 2}
	mustApply(t, &p, 200, g.Meta(m2))
	if p.Meta() != m2 {
		t.Fatalf("meta %+v, want %+v", p.Meta(), m2)
	}
	// Replaying the older record does nothing.
	mustApply(t, &p, 100, g.Meta(m))
	if p.Meta() != m2 {
		t.Fatalf("old record changed meta to %+v", p.Meta())
	}
	mustApply(t, &p, 300, g.Links(page.MetaID, 0, 0))
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
	// An explicitly initialised meta page takes meta records too.
	var q page.Page
	mustApply(t, &q, 100, g.Init(page.MetaID, page.TypeMeta, 0, 0))
	mustApply(t, &q, 200, g.Meta(m))
	if q.Meta() != m {
		t.Fatalf("meta %+v", q.Meta())
	}
}

// randomGroup appends a random mini-transaction over pages 2..4 to g, applying each record to
// pages as it goes (as mtr does), and ends it with a commit record. Records are chosen so that
// they apply.
func randomGroup(rng *rand.Rand, g *Group, pages map[page.ID]*page.Page, base page.LSN) {
	for k := 1 + rng.IntN(4); k > 0; k-- {
		id := page.ID(2 + rng.IntN(3))
		p := pages[id]
		if p == nil {
			p = new(page.Page)
			pages[id] = p
		}
		n := p.NumCells()
		cell := bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(3000))
		var r Record
		off := g.Len()
		switch c := rng.IntN(12); {
		case p.Type() == page.TypeZero || c == 0:
			r = g.Init(id, page.TypeLeaf, 0, 1)
		case c < 5 && p.Fits(len(cell)):
			r = g.Insert(id, rng.IntN(n+1), cell)
		case c < 7 && n > 0:
			r = g.Delete(id, rng.IntN(n))
		case c < 8 && n > 0 && p.FreeSpace()+len(p.Cell(0)) >= len(cell):
			r = g.Replace(id, 0, cell)
		case c < 9:
			r = g.Truncate(id, n-rng.IntN(min(n, 3)+1))
		case c < 10 && p.FreeSpace() >= 2*page.CellCost(len(cell)):
			r = g.Append(id, [][]byte{cell, cell[:len(cell)/2]})
		case c < 11:
			r = g.Links(id, page.ID(rng.IntN(10)), page.ID(rng.IntN(10)))
		default:
			r = g.Next(id, page.ID(rng.IntN(10)))
		}
		if err := Apply(p, base+page.LSN(off), r); err != nil {
			panic(fmt.Sprintf("random group: %v", err))
		}
	}
	g.Commit(uint64(base), 1700000000000000)
}

// TestReplay builds a log by applying random groups as they are built, then checks that
// replaying it (Scan + Apply) onto fresh pages gives byte-identical pages, and that replaying
// it again over them, or replaying any complete prefix, is consistent.
func TestReplay(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	live := map[page.ID]*page.Page{}
	var log []byte
	var ends []int
	g := NewGroup()
	for i := 0; i < 300; i++ {
		g.Reset()
		randomGroup(rng, g, live, StartLSN+page.LSN(len(log)))
		log = append(log, g.Bytes()...)
		ends = append(ends, len(log))
	}
	replay := func(pages map[page.ID]*page.Page, b []byte) int {
		t.Helper()
		end, err := Scan(b, func(off int, r Record) error {
			if r.Type == TCommit {
				return nil
			}
			p := pages[r.Page]
			if p == nil {
				p = new(page.Page)
				pages[r.Page] = p
			}
			return Apply(p, StartLSN+page.LSN(off), r)
		})
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		return end
	}
	fresh := map[page.ID]*page.Page{}
	if end := replay(fresh, log); end != len(log) {
		t.Fatalf("replay ended at %d of %d", end, len(log))
	}
	if len(fresh) != len(live) {
		t.Fatalf("replay made %d pages, live %d", len(fresh), len(live))
	}
	for id, p := range live {
		if *fresh[id] != *p {
			t.Fatalf("page %d differs after replay", id)
		}
		if err := p.Check(); err != nil {
			t.Fatalf("page %d: %v", id, err)
		}
	}
	// Replaying again is a no-op.
	if end := replay(fresh, log); end != len(log) {
		t.Fatalf("second replay ended at %d", end)
	}
	for id, p := range live {
		if *fresh[id] != *p {
			t.Fatalf("page %d changed by a second replay", id)
		}
	}
	// Replaying from a checkpoint-like state: pages at some prefix, then the whole log.
	for _, cut := range []int{ends[0], ends[50], ends[149], ends[298]} {
		part := map[page.ID]*page.Page{}
		replay(part, log[:cut])
		replay(part, log)
		for id, p := range live {
			if *part[id] != *p {
				t.Fatalf("cut %d: page %d differs", cut, id)
			}
		}
	}
}

// --- datadriven ---

// Header offsets of page.go's layout, read directly by show to make compaction visible.
const (
	hdrCellTop = 26
	hdrGarbage = 28
)

type ddState struct {
	pages map[page.ID]*page.Page
	log   []byte
}

func (s *ddState) page(id page.ID) *page.Page {
	p := s.pages[id]
	if p == nil {
		p = new(page.Page)
		s.pages[id] = p
	}
	return p
}

// parseCell turns abc into "abc", x*100 into 100 x's and "" into an empty cell.
func parseCell(s string) []byte {
	if s == `""` {
		return []byte{}
	}
	if i := strings.LastIndexByte(s, '*'); i > 0 {
		if n, err := strconv.Atoi(s[i+1:]); err == nil {
			return bytes.Repeat([]byte(s[:i]), n)
		}
	}
	return []byte(s)
}

func fmtCell(c []byte) string {
	if len(c) == 0 {
		return `""`
	}
	if len(c) > 8 && bytes.Count(c, c[:1]) == len(c) {
		return fmt.Sprintf("%s*%d", fmtCell(c[:1]), len(c))
	}
	for _, b := range c {
		if b < '!' || b > '~' {
			return fmt.Sprintf("%x", c)
		}
	}
	return string(c)
}

type ddArgs struct {
	t  testing.TB
	td *datadriven.TestData
	m  map[string][]string
}

func newArgs(t testing.TB, td *datadriven.TestData, args []datadriven.CmdArg) ddArgs {
	t.Helper()
	m := map[string][]string{}
	for _, a := range args {
		m[a.Key] = a.Vals
	}
	return ddArgs{t, td, m}
}

func (a ddArgs) str(key string) string {
	v, ok := a.m[key]
	if !ok || len(v) != 1 {
		a.td.Fatalf(a.t, "missing or multi-valued argument %q", key)
	}
	return v[0]
}

func (a ddArgs) num(key string, def uint64) uint64 {
	if _, ok := a.m[key]; !ok {
		return def
	}
	n, err := strconv.ParseUint(a.str(key), 10, 64)
	if err != nil {
		a.td.Fatalf(a.t, "argument %q: %v", key, err)
	}
	return n
}

func (a ddArgs) id(key string) page.ID {
	if _, ok := a.m[key]; !ok {
		a.td.Fatalf(a.t, "missing argument %q", key)
	}
	return page.ID(a.num(key, 0))
}

var pageTypes = map[string]page.Type{
	"zero": page.TypeZero, "meta": page.TypeMeta, "leaf": page.TypeLeaf, "internal": page.TypeInternal,
	"overflow": page.TypeOverflow, "free": page.TypeFree,
}

// addRecord adds the record a directive describes to g.
func addRecord(t testing.TB, td *datadriven.TestData, g *Group, cmd string, a ddArgs) {
	switch cmd {
	case "init":
		typ, ok := pageTypes[a.str("type")]
		if !ok {
			n, err := strconv.Atoi(a.str("type"))
			if err != nil {
				td.Fatalf(t, "unknown type %q", a.str("type"))
			}
			typ = page.Type(n)
		}
		g.Init(a.id("page"), typ, int(a.num("level", 0)), page.ID(a.num("owner", 0)))
	case "insert":
		g.Insert(a.id("page"), int(a.num("slot", 0)), parseCell(a.str("cell")))
	case "replace":
		g.Replace(a.id("page"), int(a.num("slot", 0)), parseCell(a.str("cell")))
	case "delete":
		g.Delete(a.id("page"), int(a.num("slot", 0)))
	case "truncate":
		g.Truncate(a.id("page"), int(a.num("from", 0)))
	case "append":
		var cells [][]byte
		for _, v := range a.m["cells"] {
			for _, c := range strings.Split(v, ",") {
				if c != "" {
					cells = append(cells, parseCell(c))
				}
			}
		}
		g.Append(a.id("page"), cells)
	case "links":
		g.Links(a.id("page"), page.ID(a.num("left", 0)), page.ID(a.num("right", 0)))
	case "next":
		g.Next(a.id("page"), page.ID(a.num("next", 0)))
	case "meta":
		g.Meta(page.Meta{Magic: page.MetaMagic, NextPage: page.ID(a.num("next-page", 0)),
			FreeHead: page.ID(a.num("free-head", 0)), FreeCount: a.num("free-count", 0),
			CatalogRoot: page.ID(a.num("catalog", 0))})
	case "overflow":
		data := []byte(nil)
		if _, ok := a.m["data"]; ok {
			data = parseCell(a.str("data"))
		}
		g.Overflow(a.id("page"), page.ID(a.num("owner", 0)), page.ID(a.num("next", 0)), data)
	case "free":
		g.Free(a.id("page"), page.ID(a.num("next", 0)))
	case "commit":
		g.Commit(a.num("txn", 0), 1700000000000000)
	case "insert-delta":
		// A delta that makes cell `to` from cell `from`, or raw delta bytes in hex.
		var delta []byte
		if _, ok := a.m["raw"]; ok {
			var err error
			if delta, err = hex.DecodeString(a.str("raw")); err != nil {
				td.Fatalf(t, "raw: %v", err)
			}
		} else {
			delta = AppendDelta(nil, parseCell(a.str("from")), parseCell(a.str("to")))
		}
		g.InsertDelta(a.id("page"), int(a.num("slot", 0)), int(a.num("base", 0)), delta)
	default:
		td.Fatalf(t, "unknown record %q", cmd)
	}
}

// applyGroup seals g, decodes it back and applies its records at their LSNs, as a
// mini-transaction: if a record fails the pages are restored and the group is not logged.
func (s *ddState) applyGroup(g *Group) string {
	b := g.Bytes()
	base := StartLSN + page.LSN(len(s.log))
	saved := map[page.ID]*page.Page{}
	var out strings.Builder
	var failed error
	_, err := Scan(b, func(off int, r Record) error {
		lsn := base + page.LSN(off)
		fmt.Fprintf(&out, "@%d %s", lsn, r)
		if r.Type == TCommit {
			txn, _ := CommitTxn(r)
			fmt.Fprintf(&out, ": txn %d\n", txn)
			return nil
		}
		p := s.page(r.Page)
		if _, ok := saved[r.Page]; !ok {
			c := *p
			saved[r.Page] = &c
		}
		if err := Apply(p, lsn, r); err != nil {
			fmt.Fprintf(&out, ": error: %v\n", err)
			failed = err
			return err
		}
		fmt.Fprintf(&out, ": ok\n")
		return nil
	})
	if err != nil {
		for id, c := range saved {
			*s.pages[id] = *c
		}
		if failed == nil {
			fmt.Fprintf(&out, "scan error: %v\n", err)
		}
		out.WriteString("group aborted\n")
		return out.String()
	}
	s.log = append(s.log, b...)
	return out.String()
}

// replay applies the whole log to pages, returning how many records were applied.
func (s *ddState) replay(t testing.TB, pages map[page.ID]*page.Page) int {
	n := 0
	end, err := Scan(s.log, func(off int, r Record) error {
		if r.Type == TCommit {
			return nil
		}
		p := pages[r.Page]
		if p == nil {
			p = new(page.Page)
			pages[r.Page] = p
		}
		n++
		return Apply(p, StartLSN+page.LSN(off), r)
	})
	if err != nil || end != len(s.log) {
		t.Fatalf("replay: end %d of %d: %v", end, len(s.log), err)
	}
	return n
}

func (s *ddState) show(id page.ID) string {
	p := s.pages[id]
	if p == nil || p.Type() == page.TypeZero {
		return fmt.Sprintf("page %d: not initialised\n", id)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "page %d: %s level=%d owner=%d lsn=%d\n", p.ID(), p.Type(), p.Level(), p.Owner(), p.LSN())
	fmt.Fprintf(&b, "links: left=%d right=%d next=%d\n", p.Left(), p.Right(), p.Next())
	switch p.Type() {
	case page.TypeMeta:
		m := p.Meta()
		fmt.Fprintf(&b, "meta: magic-ok=%v next-page=%d free-head=%d free-count=%d catalog=%d\n",
			m.Magic == page.MetaMagic, m.NextPage, m.FreeHead, m.FreeCount, m.CatalogRoot)
	case page.TypeOverflow:
		d, err := OverflowData(p)
		if err != nil {
			fmt.Fprintf(&b, "data: error: %v\n", err)
		} else {
			fmt.Fprintf(&b, "data: %s (%d bytes)\n", fmtCell(d), len(d))
		}
	case page.TypeLeaf, page.TypeInternal:
		fmt.Fprintf(&b, "space: cells=%d free=%d used=%d top=%d garbage=%d\n", p.NumCells(), p.FreeSpace(),
			p.UsedSpace(), le.Uint16(p[hdrCellTop:]), le.Uint16(p[hdrGarbage:]))
		for i := 0; i < p.NumCells(); i++ {
			fmt.Fprintf(&b, "%d: %s\n", i, fmtCell(p.Cell(i)))
		}
	}
	if err := p.Check(); err != nil {
		fmt.Fprintf(&b, "check: %v\n", err)
	}
	return b.String()
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/apply", func(t *testing.T, path string) {
		s := &ddState{pages: map[page.ID]*page.Page{}}
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			a := newArgs(t, td, td.CmdArgs)
			switch td.Cmd {
			case "show":
				return s.show(a.id("page"))
			case "insert-leaf":
				// The record InsertLeaf chooses for the page as it is.
				g := NewGroup()
				id := a.id("page")
				g.InsertLeaf(id, s.page(id), int(a.num("slot", 0)), parseCell(a.str("cell")))
				return s.applyGroup(g)
			case "group":
				g := NewGroup()
				for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
					cmd, args, err := datadriven.ParseLine(line)
					if err != nil {
						td.Fatalf(t, "%v", err)
					}
					if cmd == "" {
						continue
					}
					addRecord(t, td, g, cmd, newArgs(t, td, args))
				}
				return s.applyGroup(g)
			case "reapply":
				// Apply the whole log again to the current pages: every record is skipped.
				before := map[page.ID]page.Page{}
				for id, p := range s.pages {
					before[id] = *p
				}
				n := s.replay(t, s.pages)
				var changed []string
				for id, p := range s.pages {
					if *p != before[id] {
						changed = append(changed, strconv.FormatUint(uint64(id), 10))
					}
				}
				slices.Sort(changed)
				if len(changed) > 0 {
					return fmt.Sprintf("%d records: pages changed: %s\n", n, strings.Join(changed, ","))
				}
				return fmt.Sprintf("%d records: no page changed\n", n)
			case "replay":
				// Apply the whole log to fresh pages and compare with the current ones.
				fresh := map[page.ID]*page.Page{}
				n := s.replay(t, fresh)
				var ids []page.ID
				for id := range s.pages {
					ids = append(ids, id)
				}
				for id := range fresh {
					if s.pages[id] == nil {
						ids = append(ids, id)
					}
				}
				slices.Sort(ids)
				var out strings.Builder
				fmt.Fprintf(&out, "%d records, %d log bytes\n", n, len(s.log))
				for _, id := range ids {
					var a, b page.Page
					if p := s.pages[id]; p != nil {
						a = *p
					}
					if p := fresh[id]; p != nil {
						b = *p
					}
					if a == b && a == (page.Page{}) {
						continue // touched only by failed groups
					}
					if a == b {
						fmt.Fprintf(&out, "page %d: identical\n", id)
					} else {
						fmt.Fprintf(&out, "page %d: DIFFERS\n", id)
					}
				}
				return out.String()
			default:
				g := NewGroup()
				addRecord(t, td, g, td.Cmd, a)
				return s.applyGroup(g)
			}
		})
	})
}

// TestPartial checks a group spilled in parts: the parts carry no group end, so a log that
// stops after them keeps nothing, and the group ends with the last part.
func TestPartial(t *testing.T) {
	g := NewGroup()
	g.Init(5, page.TypeLeaf, 0, 1)
	g.Insert(5, 0, []byte("a"))
	part1 := bytes.Clone(g.Partial())
	g.Reset()
	g.Insert(5, 1, []byte("b"))
	part2 := bytes.Clone(g.Partial())
	g.Reset()
	g.Commit(3, 1700000000000000)
	last := bytes.Clone(g.Bytes())

	var log []byte
	for i, part := range [][]byte{part1, part2} {
		log = append(log, part...)
		n := 0
		end, err := Scan(log, func(_ int, r Record) error {
			if r.GroupEnd() {
				t.Errorf("part %d: %v has the group-end flag", i, r)
			}
			n++
			return nil
		})
		if end != 0 || err != nil || n != 2+i {
			t.Fatalf("after part %d: Scan = %d, %v over %d records", i, end, err, n)
		}
	}
	log = append(log, last...)
	if end, err := Scan(log, nil); end != len(log) || err != nil {
		t.Fatalf("whole group: Scan = %d, %v", end, err)
	}
	// Replaying the parts gives the page the records describe.
	var p page.Page
	if _, err := Scan(log, func(off int, r Record) error {
		if r.Type == TCommit {
			return nil
		}
		return Apply(&p, StartLSN+page.LSN(off), r)
	}); err != nil {
		t.Fatal(err)
	}
	if got := cellStrings(&p); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("cells %q", got)
	}
}
