package page

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// newLeaf returns an initialised, empty leaf page.
func newLeaf(t testing.TB, id ID) *Page {
	t.Helper()
	p := new(Page)
	p.Init(id, TypeLeaf, 0, 7)
	return p
}

// cells returns copies of every cell of p.
func cells(p *Page) [][]byte {
	out := make([][]byte, p.NumCells())
	for i := range out {
		out[i] = bytes.Clone(p.Cell(i))
	}
	return out
}

// costOf returns the space the model cells take, slots included.
func costOf(cs [][]byte) int {
	n := 0
	for _, c := range cs {
		n += CellCost(len(c))
	}
	return n
}

// mustInsert inserts and fails the test on error.
func mustInsert(t testing.TB, p *Page, i int, cell []byte) {
	t.Helper()
	if err := p.Insert(i, cell); err != nil {
		t.Fatalf("Insert(%d, %d bytes): %v", i, len(cell), err)
	}
}

// checkInvariants verifies the structure of p against the expected cells.
func checkInvariants(t testing.TB, p *Page, want [][]byte) {
	t.Helper()
	if err := p.Check(); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := p.NumCells(); got != len(want) {
		t.Fatalf("NumCells = %d, want %d", got, len(want))
	}
	for i, w := range want {
		if got := p.Cell(i); !bytes.Equal(got, w) {
			t.Fatalf("cell %d = %q, want %q", i, trunc(got), trunc(w))
		}
	}
	if got, want := p.FreeSpace(), Size-HeaderSize-costOf(want); got != want {
		t.Fatalf("FreeSpace = %d, want %d", got, want)
	}
	if got, want := p.UsedSpace(), costOf(want); got != want {
		t.Fatalf("UsedSpace = %d, want %d", got, want)
	}
	// Live cells and garbage together fill [cellTop, Size) exactly.
	live := 0
	for _, w := range want {
		live += cellLenSize + len(w)
	}
	if got := Size - p.cellTop(); got != live+p.u16(offGarbage) {
		t.Fatalf("cell area %d bytes, want live %d + garbage %d", got, live, p.u16(offGarbage))
	}
	// Every live cell lies in the cell area.
	for i := range want {
		if off := p.slotOff(i); off < p.cellTop() {
			t.Fatalf("slot %d at %d, below cell top %d", i, off, p.cellTop())
		}
	}
	// The gap between the slot array and the cells is always zero, which is part of what makes
	// the page bytes a function of the operations alone.
	for o := p.slotEnd(); o < p.cellTop(); o++ {
		if p[o] != 0 {
			t.Fatalf("free byte %d = %#x, want 0 (slot end %d, cell top %d)", o, p[o], p.slotEnd(), p.cellTop())
		}
	}
}

func trunc(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

func TestConstants(t *testing.T) {
	if MaxCell != 4076 {
		t.Errorf("MaxCell = %d", MaxCell)
	}
	if got := 4 * CellCost(MaxCell); got != Size-HeaderSize {
		t.Errorf("four MaxCell cells cost %d, page has %d", got, Size-HeaderSize)
	}
	if offOwner+8 > HeaderSize {
		t.Errorf("header fields end at %d, past HeaderSize %d", offOwner+8, HeaderSize)
	}
	if HeaderSize+MetaSize > Size {
		t.Errorf("meta does not fit")
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[Type]string{
		TypeZero: "zero", TypeMeta: "meta", TypeLeaf: "leaf", TypeInternal: "internal",
		TypeOverflow: "overflow", TypeFree: "free", 6: "type(6)", 255: "type(255)",
	} {
		if got := typ.String(); got != want {
			t.Errorf("Type(%d).String() = %q, want %q", uint8(typ), got, want)
		}
	}
}

func TestZeroPage(t *testing.T) {
	var p Page
	if p.Type() != TypeZero || p.NumCells() != 0 || p.LSN() != 0 || p.ID() != Invalid {
		t.Fatalf("zero page: type %v cells %d lsn %d id %d", p.Type(), p.NumCells(), p.LSN(), p.ID())
	}
	if got := p.FreeSpace(); got != Size-HeaderSize {
		t.Errorf("zero page FreeSpace = %d", got)
	}
	if err := p.Check(); err != nil {
		t.Errorf("zero page Check: %v", err)
	}
}

func TestInit(t *testing.T) {
	p := new(Page)
	for i := range p {
		p[i] = byte(i*7 + 3) // dirty buffer: Init must clear it all
	}
	p.Init(42, TypeInternal, 3, 9)
	if p.Type() != TypeInternal || p.Level() != 3 || p.ID() != 42 || p.Owner() != 9 {
		t.Fatalf("header: type %v level %d id %d owner %d", p.Type(), p.Level(), p.ID(), p.Owner())
	}
	if p.LSN() != 0 || p.Left() != 0 || p.Right() != 0 || p.Next() != 0 || p.NumCells() != 0 {
		t.Fatalf("Init left state: lsn %d links %d/%d next %d cells %d", p.LSN(), p.Left(), p.Right(), p.Next(), p.NumCells())
	}
	var q Page
	q.Init(42, TypeInternal, 3, 9)
	if *p != q {
		t.Fatalf("Init on a dirty buffer differs from Init on a zero buffer")
	}
	checkInvariants(t, p, nil)

	p.SetLSN(1234)
	p.SetLinks(5, 6)
	p.SetNext(8)
	if p.LSN() != 1234 || p.Left() != 5 || p.Right() != 6 || p.Next() != 8 {
		t.Fatalf("setters: lsn %d links %d/%d next %d", p.LSN(), p.Left(), p.Right(), p.Next())
	}
	checkInvariants(t, p, nil)
}

func TestMeta(t *testing.T) {
	p := new(Page)
	p.Init(MetaID, TypeMeta, 0, Invalid)
	m := Meta{Magic: MetaMagic, NextPage: 100, FreeHead: 55, FreeCount: 3, CatalogRoot: 2}
	p.SetMeta(m)
	if got := p.Meta(); got != m {
		t.Fatalf("Meta() = %+v, want %+v", got, m)
	}
	if err := p.Check(); err != nil {
		t.Fatalf("Check on a meta page: %v", err)
	}
	// The meta state lives in Data.
	if got := le.Uint64(p.Data()); got != MetaMagic {
		t.Fatalf("Data()[0:8] = %#x", got)
	}
	if len(p.Data()) != Size-HeaderSize {
		t.Fatalf("len(Data()) = %d", len(p.Data()))
	}
}

func TestInsertPositions(t *testing.T) {
	p := newLeaf(t, 5)
	var model [][]byte
	ins := func(i int, s string) {
		t.Helper()
		before := p.FreeSpace()
		mustInsert(t, p, i, []byte(s))
		if got := before - p.FreeSpace(); got != CellCost(len(s)) {
			t.Fatalf("insert of %d bytes took %d, want %d", len(s), got, CellCost(len(s)))
		}
		model = append(model[:i], append([][]byte{[]byte(s)}, model[i:]...)...)
		checkInvariants(t, p, model)
	}
	ins(0, "m")
	ins(0, "a")   // front
	ins(2, "z")   // end
	ins(1, "b")   // middle
	ins(4, "")    // empty cell at the end
	ins(2, "ccc") // middle again
	want := []string{"a", "b", "ccc", "m", "z", ""}
	for i, w := range want {
		if got := string(p.Cell(i)); got != w {
			t.Fatalf("cell %d = %q, want %q", i, got, w)
		}
	}
}

func TestBadSlots(t *testing.T) {
	p := newLeaf(t, 5)
	mustInsert(t, p, 0, []byte("a"))
	mustInsert(t, p, 1, []byte("b"))
	before := *p
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"insert -1", p.Insert(-1, []byte("x"))},
		{"insert 3", p.Insert(3, []byte("x"))},
		{"delete -1", p.Delete(-1)},
		{"delete 2", p.Delete(2)},
		{"replace -1", p.Replace(-1, []byte("x"))},
		{"replace 2", p.Replace(2, []byte("x"))},
		{"truncate -1", p.Truncate(-1)},
		{"truncate 3", p.Truncate(3)},
	} {
		if !errors.Is(tc.err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tc.name, tc.err)
		}
	}
	if *p != before {
		t.Fatalf("page changed by rejected operations")
	}
}

func TestDelete(t *testing.T) {
	p := newLeaf(t, 5)
	model := [][]byte{[]byte("zero"), []byte("one"), []byte("two"), []byte("three")}
	for i, c := range model {
		mustInsert(t, p, i, c)
	}
	full := p.FreeSpace()
	if err := p.Delete(1); err != nil {
		t.Fatal(err)
	}
	model = append(model[:1], model[2:]...)
	checkInvariants(t, p, model)
	if got := p.FreeSpace() - full; got != CellCost(3) {
		t.Fatalf("delete freed %d, want %d", got, CellCost(3))
	}
	if g := p.u16(offGarbage); g != cellLenSize+3 {
		t.Fatalf("garbage = %d, want %d", g, cellLenSize+3)
	}
	// Delete the last and the first.
	if err := p.Delete(2); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, p, [][]byte{[]byte("two")})
	if err := p.Delete(0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, p, nil)
	if err := p.Delete(0); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("delete on empty page: %v", err)
	}
}

func TestReplace(t *testing.T) {
	p := newLeaf(t, 5)
	model := [][]byte{[]byte("aa"), []byte("bb"), []byte("cc")}
	for i, c := range model {
		mustInsert(t, p, i, c)
	}
	for _, tc := range []struct {
		slot int
		cell string
	}{
		{1, "bigger cell"}, {1, "b"}, {0, ""}, {2, "cc"}, {2, "same-len"}, {2, "SAME-LEN"},
	} {
		if err := p.Replace(tc.slot, []byte(tc.cell)); err != nil {
			t.Fatalf("Replace(%d, %q): %v", tc.slot, tc.cell, err)
		}
		model[tc.slot] = []byte(tc.cell)
		checkInvariants(t, p, model)
	}

	// A replacement that needs all the free space plus the old cell's bytes. Fill the page
	// first so that the replacement stays under MaxCell.
	for p.FreeSpace() >= CellCost(MaxCell) {
		mustInsert(t, p, p.NumCells(), make([]byte, MaxCell))
		model = append(model, make([]byte, MaxCell))
	}
	free := p.FreeSpace()
	exact := bytes.Repeat([]byte("y"), len(model[1])+free)
	tooBig := append(bytes.Clone(exact), 'y')
	before := *p
	if err := p.Replace(1, tooBig); !errors.Is(err, ErrFull) {
		t.Fatalf("Replace one byte over the free space: %v, want ErrFull", err)
	}
	if *p != before {
		t.Fatal("failed Replace changed the page")
	}
	if err := p.Replace(1, exact); err != nil {
		t.Fatalf("Replace to fill the page exactly: %v", err)
	}
	model[1] = exact
	checkInvariants(t, p, model)
	if p.FreeSpace() != 0 {
		t.Fatalf("FreeSpace = %d after exact fill", p.FreeSpace())
	}

	// MaxCell+1 is refused even on an empty page.
	q := newLeaf(t, 6)
	mustInsert(t, q, 0, []byte("a"))
	if err := q.Replace(0, make([]byte, MaxCell+1)); !errors.Is(err, ErrFull) {
		t.Fatalf("Replace with MaxCell+1: %v", err)
	}
	if err := q.Replace(0, make([]byte, MaxCell)); err != nil {
		t.Fatalf("Replace with MaxCell: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	for from := 0; from <= 5; from++ {
		p := newLeaf(t, 5)
		var model [][]byte
		for i := 0; i < 5; i++ {
			c := []byte(fmt.Sprintf("cell-%d", i))
			mustInsert(t, p, i, c)
			model = append(model, c)
		}
		if err := p.Truncate(from); err != nil {
			t.Fatalf("Truncate(%d): %v", from, err)
		}
		checkInvariants(t, p, model[:from])
		// Truncated bytes are garbage; the slots are cleared.
		if g := p.u16(offGarbage); g != (5-from)*(cellLenSize+6) {
			t.Fatalf("Truncate(%d): garbage %d", from, g)
		}
	}
}

func TestCompact(t *testing.T) {
	p := newLeaf(t, 5)
	var model [][]byte
	for i := 0; i < 40; i++ {
		c := bytes.Repeat([]byte{byte('a' + i%26)}, 10+i*3)
		mustInsert(t, p, len(model)/2, c) // insert in the middle so slot order != address order
		model = append(model[:len(model)/2], append([][]byte{c}, model[len(model)/2:]...)...)
	}
	for i := len(model) - 1; i >= 0; i -= 3 {
		if err := p.Delete(i); err != nil {
			t.Fatal(err)
		}
		model = append(model[:i], model[i+1:]...)
	}
	free := p.FreeSpace()
	if p.u16(offGarbage) == 0 {
		t.Fatal("expected garbage before compaction")
	}
	p.Compact()
	checkInvariants(t, p, model)
	if p.FreeSpace() != free {
		t.Fatalf("Compact changed FreeSpace from %d to %d", free, p.FreeSpace())
	}
	if g := p.u16(offGarbage); g != 0 {
		t.Fatalf("garbage after Compact = %d", g)
	}
	// Compact lays the cells out in slot order from the end of the page.
	off := Size
	for i, c := range model {
		off -= cellLenSize + len(c)
		if got := p.slotOff(i); got != off {
			t.Fatalf("slot %d at %d after Compact, want %d", i, got, off)
		}
	}
	if p.cellTop() != off {
		t.Fatalf("cell top %d, want %d", p.cellTop(), off)
	}
	// Compacting again changes nothing.
	before := *p
	p.Compact()
	if *p != before {
		t.Fatal("second Compact changed the page")
	}
	// An empty page compacts to an initialised one.
	if err := p.Truncate(0); err != nil {
		t.Fatal(err)
	}
	p.Compact()
	q := newLeaf(t, 5)
	if *p != *q {
		t.Fatal("compacting an emptied page differs from a fresh page")
	}
}

// TestInsertCompacts checks that an insert that fits only once garbage is reclaimed compacts
// the page and succeeds.
func TestInsertCompacts(t *testing.T) {
	p := newLeaf(t, 5)
	var model [][]byte
	for i := 0; p.FreeSpace() >= CellCost(500); i++ {
		c := bytes.Repeat([]byte{byte(i)}, 500)
		mustInsert(t, p, i, c)
		model = append(model, c)
	}
	for i := len(model) - 2; i >= 0; i -= 2 {
		if err := p.Delete(i); err != nil {
			t.Fatal(err)
		}
		model = append(model[:i], model[i+1:]...)
	}
	contiguous := p.cellTop() - p.slotEnd()
	n := p.FreeSpace() - slotSize - cellLenSize
	if n > MaxCell {
		n = MaxCell
	}
	if CellCost(n) <= contiguous {
		t.Fatalf("test setup: %d bytes fit without compaction (%d contiguous)", n, contiguous)
	}
	c := bytes.Repeat([]byte("Z"), n)
	mustInsert(t, p, 1, c)
	model = append(model[:1], append([][]byte{c}, model[1:]...)...)
	checkInvariants(t, p, model)
	if g := p.u16(offGarbage); g != 0 {
		t.Fatalf("garbage %d after compacting insert", g)
	}
}

func TestErrFull(t *testing.T) {
	p := newLeaf(t, 5)
	var model [][]byte
	for i := 0; ; i++ {
		c := bytes.Repeat([]byte{byte(i)}, 97)
		if !p.Fits(len(c)) {
			break
		}
		mustInsert(t, p, i, c)
		model = append(model, c)
	}
	if got := p.FreeSpace(); got >= CellCost(97) {
		t.Fatalf("Fits false with %d free", got)
	}
	before := *p
	err := p.Insert(0, make([]byte, 97))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Insert on a full page: %v, want ErrFull", err)
	}
	if *p != before {
		t.Fatal("failed Insert changed the page")
	}
	// The rest of the space can be used exactly.
	rest := p.FreeSpace() - CellCost(0)
	if rest < 0 {
		t.Fatalf("free %d", p.FreeSpace())
	}
	if !p.Fits(rest) || p.Fits(rest+1) {
		t.Fatalf("Fits(%d)=%v Fits(%d)=%v with %d free", rest, p.Fits(rest), rest+1, p.Fits(rest+1), p.FreeSpace())
	}
	if err := p.Insert(p.NumCells(), make([]byte, rest+1)); !errors.Is(err, ErrFull) {
		t.Fatalf("Insert one byte over: %v", err)
	}
	mustInsert(t, p, p.NumCells(), make([]byte, rest))
	model = append(model, make([]byte, rest))
	checkInvariants(t, p, model)
	if p.FreeSpace() != 0 {
		t.Fatalf("FreeSpace = %d", p.FreeSpace())
	}
	if err := p.Insert(0, nil); !errors.Is(err, ErrFull) {
		t.Fatalf("Insert of an empty cell into a full page: %v", err)
	}
	// Freeing one cell makes room again, through compaction.
	if err := p.Delete(3); err != nil {
		t.Fatal(err)
	}
	model = append(model[:3], model[4:]...)
	mustInsert(t, p, 0, make([]byte, 97))
	model = append([][]byte{make([]byte, 97)}, model...)
	checkInvariants(t, p, model)
	if p.FreeSpace() != 0 {
		t.Fatalf("FreeSpace = %d", p.FreeSpace())
	}
}

func TestMaxCell(t *testing.T) {
	p := newLeaf(t, 5)
	if !p.Fits(MaxCell) || p.Fits(MaxCell+1) {
		t.Fatalf("empty page: Fits(MaxCell)=%v Fits(MaxCell+1)=%v", p.Fits(MaxCell), p.Fits(MaxCell+1))
	}
	err := p.Insert(0, make([]byte, MaxCell+1))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Insert(MaxCell+1): %v, want ErrFull", err)
	}
	var model [][]byte
	for i := 0; i < 4; i++ {
		c := bytes.Repeat([]byte{byte('A' + i)}, MaxCell)
		mustInsert(t, p, i, c)
		model = append(model, c)
	}
	checkInvariants(t, p, model)
	if p.FreeSpace() != 0 || p.Fits(0) {
		t.Fatalf("four MaxCell cells leave %d free", p.FreeSpace())
	}
	// The split guarantee: any two MaxCell cells plus one more fit in a half.
	q := newLeaf(t, 6)
	for i := 0; i < 3; i++ {
		mustInsert(t, q, i, make([]byte, MaxCell))
	}
	if !q.Fits(MaxCell) {
		t.Fatal("three MaxCell cells leave no room for a fourth")
	}
}

func TestCheckGood(t *testing.T) {
	var zero Page
	pages := map[string]*Page{"zero": &zero}
	for _, typ := range []Type{TypeMeta, TypeLeaf, TypeInternal, TypeOverflow, TypeFree} {
		p := new(Page)
		p.Init(3, typ, 1, 2)
		pages[typ.String()] = p
	}
	full := newLeaf(t, 9)
	for full.Fits(1000) {
		mustInsert(t, full, 0, make([]byte, 1000))
	}
	mustInsert(t, full, 0, make([]byte, full.FreeSpace()-CellCost(0)))
	if full.FreeSpace() != 0 {
		t.Fatalf("full page has %d free", full.FreeSpace())
	}
	pages["full"] = full
	for name, p := range pages {
		if err := p.Check(); err != nil {
			t.Errorf("%s: Check: %v", name, err)
		}
		p.Seal()
		if err := p.Verify(); err != nil {
			t.Errorf("%s: Verify: %v", name, err)
		}
	}
}

func TestCheckCorrupt(t *testing.T) {
	good := func() *Page {
		p := newLeaf(t, 5)
		for i, s := range []string{"alpha", "beta", "gamma"} {
			mustInsert(t, p, i, []byte(s))
		}
		return p
	}
	if err := good().Check(); err != nil {
		t.Fatalf("good page: %v", err)
	}
	for _, tc := range []struct {
		name    string
		corrupt func(p *Page)
	}{
		{"type 6", func(p *Page) { p[offType] = 6 }},
		{"type 255", func(p *Page) { p[offType] = 255 }},
		{"slots past page", func(p *Page) { p.setU16(offSlots, (Size-HeaderSize)/slotSize+1) }},
		{"slots 0xffff", func(p *Page) { p.setU16(offSlots, 0xffff) }},
		{"slots past cell top", func(p *Page) { p.setU16(offSlots, (p.cellTop()-HeaderSize)/slotSize+1) }},
		{"cell top past page", func(p *Page) { p.setU16(offCellTop, Size+1) }},
		{"cell top 0xffff", func(p *Page) { p.setU16(offCellTop, 0xffff) }},
		{"cell top in header", func(p *Page) { p.setU16(offCellTop, 10) }},
		{"cell top in slots", func(p *Page) { p.setU16(offCellTop, HeaderSize+2) }},
		{"slot in header", func(p *Page) { p.setU16(HeaderSize, 8) }},
		{"slot zero", func(p *Page) { p.setU16(HeaderSize+2, 0) }},
		{"slot in slot array", func(p *Page) { p.setU16(HeaderSize+4, HeaderSize+2) }},
		{"slot at last byte", func(p *Page) { p.setU16(HeaderSize, Size-1) }},
		{"slot past page", func(p *Page) { p.setU16(HeaderSize, 0xffff) }},
		{"length past page", func(p *Page) { p.setU16(p.slotOff(1), Size) }},
		{"length one past page", func(p *Page) { off := p.slotOff(0); p.setU16(off, Size-off-cellLenSize+1) }},
	} {
		p := good()
		tc.corrupt(p)
		err := p.Check()
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Check = %v, want ErrCorrupt", tc.name, err)
		}
		// A sealed page with the corruption fails Verify on structure, not checksum.
		p.Seal()
		if err := p.Verify(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Verify = %v, want ErrCorrupt", tc.name, err)
		}
	}

	// A cell that ends exactly at the end of the page is fine.
	p := good()
	off := p.slotOff(0)
	p.setU16(off, Size-off-cellLenSize)
	if err := p.CheckCell(0); err != nil {
		t.Errorf("cell ending at Size: %v", err)
	}
	q := good()
	for _, i := range []int{-1, 3, 100} {
		if err := q.CheckCell(i); !errors.Is(err, ErrCorrupt) {
			t.Errorf("CheckCell(%d) = %v", i, err)
		}
	}
}

func TestSealVerify(t *testing.T) {
	p := newLeaf(t, 77)
	p.SetLSN(4096)
	p.SetLinks(76, 78)
	for i := 0; i < 20; i++ {
		mustInsert(t, p, i, bytes.Repeat([]byte{byte(i)}, 30+i))
	}
	p.Seal()
	if err := p.Verify(); err != nil {
		t.Fatalf("Verify after Seal: %v", err)
	}
	if p.StoredChecksum() != p.Checksum() {
		t.Fatalf("StoredChecksum %08x != Checksum %08x", p.StoredChecksum(), p.Checksum())
	}
	// Unsealed changes are caught.
	q := *p
	q.SetLSN(4097)
	if err := q.Verify(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify after unsealed change: %v", err)
	}
	// Every single flipped byte, in the header, the slots, the cells, the free space and the
	// checksum itself, is detected.
	for i := 0; i < Size; i++ {
		q := *p
		q[i] ^= 1 << (i % 8)
		if err := q.Verify(); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flip at byte %d not detected: %v", i, err)
		}
	}
}

// opSeq drives a page through random operations; it is shared by the determinism and model tests.
type opSeq struct {
	rng *rand.Rand
}

func (s opSeq) cellLen() int {
	switch s.rng.IntN(10) {
	case 0:
		return 0
	case 1:
		return MaxCell
	case 2:
		return MaxCell + 1 - s.rng.IntN(2)
	case 3, 4:
		return s.rng.IntN(2000)
	default:
		return s.rng.IntN(120)
	}
}

func (s opSeq) cell() []byte {
	c := make([]byte, s.cellLen())
	for i := range c {
		c[i] = byte(s.rng.Uint32())
	}
	return c
}

// TestDeterminism applies the same operations to two pages, one starting from a dirty buffer,
// and checks they stay byte-identical, through implicit and explicit compactions.
func TestDeterminism(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		s := opSeq{rng}
		a, b := new(Page), new(Page)
		for i := range b {
			b[i] = 0xA5
		}
		a.Init(5, TypeLeaf, 0, 1)
		b.Init(5, TypeLeaf, 0, 1)
		compactions := 0
		for op := 0; op < 3000; op++ {
			n := a.NumCells()
			var ea, eb error
			topA := a.cellTop()
			switch k := rng.IntN(20); {
			case k < 9:
				i, c := rng.IntN(n+1), s.cell()
				ea, eb = a.Insert(i, c), b.Insert(i, c)
			case k < 14 && n > 0:
				i := rng.IntN(n)
				ea, eb = a.Delete(i), b.Delete(i)
			case k < 18 && n > 0:
				i, c := rng.IntN(n), s.cell()
				ea, eb = a.Replace(i, c), b.Replace(i, c)
			case k == 18:
				i := n - rng.IntN(3)
				ea, eb = a.Truncate(i), b.Truncate(i)
			default:
				a.Compact()
				b.Compact()
			}
			if a.cellTop() > topA {
				compactions++
			}
			if (ea == nil) != (eb == nil) {
				t.Fatalf("seed %d op %d: errors differ: %v vs %v", seed, op, ea, eb)
			}
			if *a != *b {
				t.Fatalf("seed %d op %d: pages differ", seed, op)
			}
			a.SetLSN(LSN(op))
			b.SetLSN(LSN(op))
			a.Seal()
			b.Seal()
			if a.StoredChecksum() != b.StoredChecksum() {
				t.Fatalf("seed %d op %d: checksums differ", seed, op)
			}
		}
		if compactions == 0 {
			t.Fatalf("seed %d: no compaction exercised", seed)
		}
	}
}

// TestModel runs random operations against a page and a [][]byte model.
func TestModel(t *testing.T) {
	const ops = 10000
	seed := uint64(20240611)
	rng := rand.New(rand.NewPCG(seed, 1))
	s := opSeq{rng}
	p := newLeaf(t, 5)
	var model [][]byte
	var stats struct{ inserts, fulls, deletes, replaces, truncates, compacts, implicit int }
	for op := 0; op < ops; op++ {
		n := len(model)
		free := Size - HeaderSize - costOf(model)
		topBefore := p.cellTop()
		explicit := false
		switch k := rng.IntN(20); {
		case k < 9:
			i, c := rng.IntN(n+1), s.cell()
			err := p.Insert(i, c)
			fits := len(c) <= MaxCell && CellCost(len(c)) <= free
			if fits != (err == nil) {
				t.Fatalf("op %d: Insert(%d, %d bytes) with %d free: %v", op, i, len(c), free, err)
			}
			if err != nil {
				if !errors.Is(err, ErrFull) {
					t.Fatalf("op %d: Insert: %v, want ErrFull", op, err)
				}
				stats.fulls++
				break
			}
			stats.inserts++
			model = append(model[:i], append([][]byte{c}, model[i:]...)...)
		case k < 13:
			if n == 0 {
				if err := p.Delete(0); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("op %d: Delete on empty page: %v", op, err)
				}
				break
			}
			i := rng.IntN(n)
			if err := p.Delete(i); err != nil {
				t.Fatalf("op %d: Delete(%d): %v", op, i, err)
			}
			stats.deletes++
			model = append(model[:i], model[i+1:]...)
		case k < 18:
			if n == 0 {
				break
			}
			i, c := rng.IntN(n), s.cell()
			err := p.Replace(i, c)
			fits := len(c) <= MaxCell && CellCost(len(c))-CellCost(len(model[i])) <= free
			if fits != (err == nil) {
				t.Fatalf("op %d: Replace(%d, %d bytes over %d) with %d free: %v", op, i, len(c), len(model[i]), free, err)
			}
			if err != nil {
				if !errors.Is(err, ErrFull) {
					t.Fatalf("op %d: Replace: %v, want ErrFull", op, err)
				}
				stats.fulls++
				break
			}
			stats.replaces++
			model[i] = c
		case k == 18:
			from := n - rng.IntN(min(n, 4)+1)
			if rng.IntN(10) == 0 {
				from = rng.IntN(n + 1)
			}
			if err := p.Truncate(from); err != nil {
				t.Fatalf("op %d: Truncate(%d) of %d: %v", op, from, n, err)
			}
			stats.truncates++
			model = model[:from]
		default:
			p.Compact()
			explicit = true
			stats.compacts++
		}
		if !explicit && p.cellTop() > topBefore {
			stats.implicit++
		}
		checkInvariants(t, p, model)
	}
	t.Logf("seed %d: %+v", seed, stats)
	if stats.fulls == 0 || stats.implicit == 0 || stats.truncates == 0 {
		t.Fatalf("random ops did not exercise everything: %+v", stats)
	}
}

// TestReplaceWithCopyOfOwnCell replaces a cell with a copy of itself when the insert has to
// compact. Insert and Replace copy the cell after a possible compaction, so passing p.Cell(i)
// itself (a slice aliasing the page) is not safe; a copy is.
func TestReplaceWithCopyOfOwnCell(t *testing.T) {
	p := newLeaf(t, 5)
	mustInsert(t, p, 0, []byte("hello"))
	mustInsert(t, p, 1, []byte("x"))
	for p.FreeSpace() > 1000+CellCost(0)+4 {
		mustInsert(t, p, p.NumCells(), make([]byte, 1000))
	}
	mustInsert(t, p, p.NumCells(), make([]byte, p.FreeSpace()-CellCost(0)-4))
	if err := p.Delete(1); err != nil {
		t.Fatal(err)
	}
	if err := p.Replace(0, bytes.Clone(p.Cell(0))); err != nil {
		t.Fatal(err)
	}
	if got := string(p.Cell(0)); got != "hello" {
		t.Fatalf("cell 0 = %q", got)
	}
}

// TestCheckCatchesInconsistentSpace is a regression test: Check once validated each slot on its
// own but not the garbage counter, nor that cells lie in [cellTop, Size) without overlapping,
// so a page that passed Verify could make Insert, and so redo.Apply, panic.
func TestCheckCatchesInconsistentSpace(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(p *Page)
		cell    int
	}{
		{"garbage counter too large", func(p *Page) { p.setU16(offGarbage, 60000) }, MaxCell},
		{"slots share one cell", func(p *Page) {
			off := p.slotOff(0)
			for i := 1; i < 5; i++ {
				p.setU16(HeaderSize+slotSize*i, off)
			}
			p.setU16(offSlots, 5)
			p.setU16(offGarbage, 100)
			p.setU16(offCellTop, p.slotEnd()+10)
		}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newLeaf(t, 5)
			mustInsert(t, p, 0, make([]byte, 4000))
			tc.corrupt(p)
			if p.Check() != nil {
				return // rejected: fixed
			}
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("page passed Check, then Insert panicked: %v", r)
				}
			}()
			for i := 0; i < 6; i++ {
				_ = p.Insert(0, make([]byte, tc.cell))
			}
		})
	}
}
