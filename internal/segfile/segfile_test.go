package segfile

import (
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
)

func TestNames(t *testing.T) {
	for _, lsn := range []page.LSN{0, 64, 1 << 40, ^page.LSN(0)} {
		n := Name(lsn, ".log")
		if len(n) != nameDigits+4 {
			t.Fatalf("Name(%d) = %q", lsn, n)
		}
		got, ok := ParseName(n, ".log")
		if !ok || got != lsn {
			t.Fatalf("ParseName(%q) = %d, %v", n, got, ok)
		}
		if _, ok := ParseName(n, ".seg"); ok {
			t.Fatalf("ParseName(%q) with another suffix succeeded", n)
		}
	}
	for _, bad := range []string{"", ".log", "0000000000000000064.log", "+0000000000000000064.log",
		"-0000000000000000064.log", "0000000000000000006x.log", "99999999999999999999.log"} {
		if _, ok := ParseName(bad, ".log"); ok {
			t.Fatalf("ParseName(%q) succeeded", bad)
		}
	}
	if Name(1, ".log") >= Name(2, ".log") || Name(9, ".log") >= Name(10, ".log") {
		t.Fatal("names do not sort in LSN order")
	}
}

func TestReadHandle(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("d", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create("d/x", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("hello world"))
	f.Close()
	if err := SyncDir(fs, "d"); err != nil {
		t.Fatal(err)
	}
	var h ReadHandle
	p := make([]byte, 5)
	if err := h.ReadAt(fs, "d/x", p, 6); err != nil || string(p) != "world" {
		t.Fatalf("ReadAt: %q, %v", p, err)
	}
	if err := h.ReadAt(fs, "d/x", p, 8); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short read: %v", err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.ReadAt(fs, "d/x", p, 0); err != nil || string(p) != "hello" {
		t.Fatalf("ReadAt after Close: %q, %v", p, err)
	}
	h.Close()
	if err := h.ReadAt(fs, "d/missing", p, 0); err == nil {
		t.Fatal("read of a missing file succeeded")
	}
	// A retired handle does not open its file again.
	var r ReadHandle
	if err := r.ReadAt(fs, "d/x", p, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Retire(); err != nil {
		t.Fatal(err)
	}
	if err := r.ReadAt(fs, "d/x", p, 0); !errors.Is(err, ErrRetired) {
		t.Fatalf("ReadAt after Retire: %v", err)
	}
}

func TestList(t *testing.T) {
	fs := vfs.NewMem()
	if err := fs.MkdirAll("d", 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, n int) {
		f, err := fs.Create("d/"+name, vfs.WriteCategoryUnspecified)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(make([]byte, n))
		f.Close()
	}
	write(Name(64, ".log"), 100)
	write(Name(164, ".log"), 10)
	write(Name(164, ".log")+".tmp", 5)
	write("STATE", 3)
	segs, err := List(fs, "d", ".log", ".log.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 || segs[0].Start != 64 || segs[0].Size != 100 || segs[1].Start != 164 || segs[1].Size != 10 {
		t.Fatalf("segments %+v", segs)
	}
	if _, err := fs.Stat("d/" + Name(164, ".log") + ".tmp"); err == nil {
		t.Fatal("leftover temporary file not removed")
	}
	write(Name(200, ".log"), 1) // a gap: 164+10 = 174
	if _, err := List(fs, "d", ".log", ".log.tmp"); err == nil {
		t.Fatal("a gap between segments was accepted")
	}
}
