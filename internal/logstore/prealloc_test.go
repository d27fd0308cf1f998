package logstore

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logstore/logtest"
	"strata/internal/quorum"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// segSizes returns the segment files of the store in fs ("ls") with their sizes, in LSN order.
func segSizes(t *testing.T, fs vfs.FS) []segfile.Found {
	t.Helper()
	segs, err := segfile.List(fs, "ls", segmentSuffix, ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// TestPreallocatedSegment checks the preallocation of the segment being written: the file is
// longer than the log, with zeros after it; closed segments are exactly their records; a crash
// clone recovers the end of the log from the records, keeping the zeros; and bytes after a zero
// gap (a later write that reached the disk when an earlier one did not) are cut, so that no
// stale record can follow the bytes written next.
func TestPreallocatedSegment(t *testing.T) {
	const segSize = 4 << 10
	fs := vfs.NewCrashableMem()
	s := open(t, fs, segSize, nil)
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	data := appendGroups(t, s, 1, 1, 60, 100)
	end := s.Status().End

	segs := segSizes(t, fs)
	if len(segs) < 2 {
		t.Fatalf("want several segments, have %d", len(segs))
	}
	last := segs[len(segs)-1]
	used := int64(end - last.Start)
	if last.Size <= used {
		t.Fatalf("last segment %s: %d bytes for %d of log, want it preallocated", last.Path, last.Size, used)
	}
	if b := fileBytes(t, fs, fs.PathBase(last.Path)); !allZero(b[used:]) {
		t.Fatalf("last segment: bytes after the log are not zeros")
	}

	// A crash: everything was synced, so the clone holds it all, preallocation included.
	clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(1, 2))})
	_ = s.Close()
	var logs syncBuffer
	s2 := open(t, clone, segSize, slog.New(slog.NewTextHandler(&logs, nil)))
	if st := s2.Status(); st.End != end || st.Durable != end || st.CompleteEnd != end {
		t.Fatalf("after the crash: %+v, want end %d", st, end)
	}
	if strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "cutting") {
		t.Fatalf("the zeros after the log were taken for damage: %s", logs.String())
	}
	if got := readAll(t, s2, redo.StartLSN, end); !bytes.Equal(got, data) {
		t.Fatal("recovered bytes differ")
	}
	if segs := segSizes(t, clone); segs[len(segs)-1].Size != last.Size {
		t.Fatalf("recovery cut the preallocated zeros: %d bytes, was %d", segs[len(segs)-1].Size, last.Size)
	}
	more := appendGroups(t, s2, 1, 100, 40, 100) // rolls again
	data = append(data, more...)
	end = s2.Status().End
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	segs = segSizes(t, clone) // checks that every segment starts where the one before ends
	for i := 0; i+1 < len(segs); i++ {
		if segs[i].Size != int64(segs[i+1].Start-segs[i].Start) {
			t.Fatalf("closed segment %s keeps %d bytes for %d of log", segs[i].Path, segs[i].Size, segs[i+1].Start-segs[i].Start)
		}
	}

	// A later group reached the disk but the one before it did not: zeros, then a valid record.
	last = segs[len(segs)-1]
	used = int64(end - last.Start)
	g := logtest.Group(7, 200, 100)
	if used+2*int64(len(g)) > last.Size {
		t.Fatalf("test needs room for two groups in the preallocated tail (%d of %d used)", used, last.Size)
	}
	f, err := clone.OpenReadWrite(last.Path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(g, used+int64(len(g))); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	s3 := open(t, clone, segSize, nil)
	if st := s3.Status(); st.End != end {
		t.Fatalf("after a record beyond a gap: end %d, want %d", st.End, end)
	}
	// The next group is as long as the gap: had the stale record stayed, it would now follow.
	next := appendGroups(t, s3, 1, 300, 1, 100)
	data = append(data, next...)
	end = s3.Status().End
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	s4 := open(t, clone, segSize, nil)
	defer s4.Close()
	if st := s4.Status(); st.End != end {
		t.Fatalf("a stale record came back after the gap was filled: end %d, want %d", st.End, end)
	}
	if got := readAll(t, s4, redo.StartLSN, end); !bytes.Equal(got, data) {
		t.Fatal("log differs after refilling the gap")
	}
}

// TestPreallocatedRollTrims reopens a store whose preallocated segment is longer than the new
// segment size: the next append rolls, and the closed segment must lose its zeros, so that the
// segments stay contiguous. On MemFS the file cannot be truncated and is cut by copying; on
// the operating system's file system it is truncated.
func TestPreallocatedRollTrims(t *testing.T) {
	t.Run("mem", func(t *testing.T) { testRollTrims(t, vfs.NewMem(), "ls") })
	t.Run("os", func(t *testing.T) { testRollTrims(t, vfs.Default, t.TempDir()) })
}

func testRollTrims(t *testing.T, fs vfs.FS, dir string) {
	openSeg := func(segSize int64) *Store {
		s, err := Open(Options{FS: fs, Dir: dir, SegmentSize: segSize, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	list := func() []segfile.Found {
		segs, err := segfile.List(fs, dir, segmentSuffix, ".tmp")
		if err != nil {
			t.Fatal(err)
		}
		return segs
	}
	s := openSeg(8 << 10)
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	data := appendGroups(t, s, 1, 1, 10, 100)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if segs := list(); len(segs) != 1 || segs[0].Size != 8<<10 {
		t.Fatalf("want one segment preallocated to 8 KiB, have %+v", segs)
	}
	s = openSeg(1 << 10)
	data = append(data, appendGroups(t, s, 1, 20, 3, 100)...)
	end := s.Status().End
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs := list()
	if len(segs) < 2 || segs[0].Size != int64(segs[1].Start-segs[0].Start) {
		t.Fatalf("the rolled segment kept its zeros: %+v", segs)
	}
	s = openSeg(1 << 10)
	defer s.Close()
	if got := readAll(t, s, redo.StartLSN, end); !bytes.Equal(got, data) || s.Status().End != end {
		t.Fatalf("log differs after the roll (end %d, want %d)", s.Status().End, end)
	}
}
