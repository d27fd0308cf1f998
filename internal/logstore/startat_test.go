package logstore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logstore/logtest"
	"strata/internal/quorum"
	"strata/internal/redo"
)

// oldLog builds a store on fs holding groups of epoch 1 over several segments and returns it
// with its bytes; the last segment is preallocated.
func oldLog(t *testing.T, fs vfs.FS) (*Store, []byte) {
	t.Helper()
	s := open(t, fs, 1<<10, nil)
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	data := appendGroups(t, s, 1, 1, 20, 120)
	return s, data
}

// TestStartAt restarts a store's log at an LSN beyond its end, as the writer does for a store
// whose log ends below what its peers still hold: the old log is gone, the new one starts there,
// takes appends, survives a restart, and reads below it are ErrTruncated.
func TestStartAt(t *testing.T) {
	fs := vfs.NewMem()
	s, _ := oldLog(t, fs)
	end := s.Status().End
	at := end + 5000 // the peers' first retained LSN, far beyond this store's end
	writer := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}, {Epoch: 2, Start: end + 3000}, {Epoch: 3, Start: at + 2000}}

	// Refused: the store holds bytes at or after the new start, a history that does not give it
	// an epoch, a start beyond the writer's committed LSN, a stale epoch.
	if _, err := s.StartAt(3, end-10, writer, at); !errors.Is(err, ErrInvalid) {
		t.Fatalf("start below the store's end: %v", err)
	}
	if _, err := s.StartAt(3, at, []quorum.Term{{Epoch: 3, Start: at + 1}}, at); !errors.Is(err, ErrInvalid) {
		t.Fatalf("start with a history beginning after it: %v", err)
	}
	if _, err := s.StartAt(3, at, writer, at-1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("start beyond the writer's committed LSN: %v", err)
	}
	if _, err := s.StartAt(3, at, writer, at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartAt(2, at, writer[:2], at); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("stale epoch: %v", err)
	}
	st := s.Status()
	want := []quorum.Term{{Epoch: 2, Start: at}, {Epoch: 3, Start: at + 2000}}
	if st.Start != at || st.First != at || st.End != at || st.Durable != at || st.Promised != 3 || !slices.Equal(st.History, want) {
		t.Fatalf("after StartAt: %+v", st)
	}
	if _, err := s.Read(context.Background(), end-100, 10, at); !errors.Is(err, ErrTruncated) {
		t.Fatalf("read below the new start: %v", err)
	}
	if names, _ := fs.List("ls"); slices.ContainsFunc(names, func(n string) bool {
		lsn, ok := parseSegmentName(n)
		return ok && lsn != at
	}) {
		t.Fatalf("old segments left: %v", names)
	}
	if st.FillTo != at {
		t.Fatalf("fill target %d, want %d", st.FillTo, at)
	}
	// Restarted again, further (the peers truncated more meanwhile), with a higher target.
	at += 1000
	if _, err := s.StartAt(3, at, writer, at+1500); err != nil {
		t.Fatal(err)
	}
	want = []quorum.Term{{Epoch: 2, Start: at}, {Epoch: 3, Start: at + 1000}}
	if st := s.Status(); st.FillTo != at+1500 || st.Start != at || !slices.Equal(st.History, want) {
		t.Fatalf("after a second StartAt: %+v", st)
	}
	more := appendGroups(t, s, 3, 100, 30, 100)
	end2 := s.Status().End
	if st := s.Status(); st.FillTo != 0 || end2 < at+1500 {
		t.Fatalf("filled to %d, still filling to %d", end2, st.FillTo)
	}
	if got := readAll(t, s, at, end2); !bytes.Equal(got, more) {
		t.Fatal("bytes after the new start differ")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, fs, 1<<10, nil)
	defer s.Close()
	st = s.Status()
	if st.Start != at || st.First != at || st.End != end2 || !slices.Equal(st.History, want) || st.CompleteEnd != end2 {
		t.Fatalf("after reopen: %+v", st)
	}
	if got := readAll(t, s, at, end2); !bytes.Equal(got, more) {
		t.Fatal("bytes after the new start differ after reopen")
	}
	// A truncation of the restarted log works as for any other.
	if err := s.Truncate(at + 2000); err != nil {
		t.Fatal(err)
	}
	if f := s.Status().First; f <= at || f > at+2000 {
		t.Fatalf("first after truncating the restarted log: %d", f)
	}
}

// hookFS calls before ahead of every change of the file system (file or directory).
type hookFS struct {
	vfs.FS
	before func(op, name string)
}

func (h hookFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	h.before("create", name)
	return h.FS.Create(name, c)
}

func (h hookFS) Remove(name string) error {
	h.before("remove", name)
	return h.FS.Remove(name)
}

func (h hookFS) Rename(from, to string) error {
	h.before("rename", to)
	return h.FS.Rename(from, to)
}

func (h hookFS) OpenDir(name string) (vfs.File, error) {
	h.before("sync dir", name)
	return h.FS.OpenDir(name)
}

// TestStartAtCrash crashes a store at every step of StartAt (before each file creation,
// removal, rename and directory sync, losing all or some unsynced data) and checks that the
// store reopens with either the old log and state, or the new, empty log at the new start.
func TestStartAtCrash(t *testing.T) {
	var sawOld, sawNew bool
	for step := 0; ; step++ {
		for _, pct := range []int{0, 50, 100} {
			mem := vfs.NewCrashableMem()
			armed, n := false, 0
			var clone *vfs.MemFS
			var what string
			fs := hookFS{FS: mem, before: func(op, name string) {
				if !armed || clone != nil {
					return
				}
				if n == step {
					clone = mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(uint64(step), uint64(pct)))})
					what = op + " " + name
				}
				n++
			}}
			s, data := oldLog(t, fs)
			old := s.Status()
			at := old.End + 777
			writer := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}, {Epoch: 2, Start: at}}
			armed = true
			if _, err := s.StartAt(2, at, writer, at); err != nil {
				t.Fatal(err)
			}
			armed = false
			_ = s.Close()
			if clone == nil {
				if step == 0 {
					t.Fatal("StartAt changed no file")
				}
				if !sawOld || !sawNew {
					t.Fatalf("crashes left the old state: %v, the new: %v", sawOld, sawNew)
				}
				t.Logf("%d crash points", step)
				return
			}
			s2, err := Open(Options{FS: clone, Dir: "ls", SegmentSize: 1 << 10, Logger: quiet()})
			if err != nil {
				t.Fatalf("step %d (%s, %d%% unsynced kept): open: %v", step, what, pct, err)
			}
			st := s2.Status()
			switch {
			case st.Start == redo.StartLSN && st.First == redo.StartLSN && st.End == old.End && slices.Equal(st.History, old.History):
				sawOld = true
				if got := readAll(t, s2, redo.StartLSN, st.End); !bytes.Equal(got, data) {
					t.Fatalf("step %d (%s): the old log differs", step, what)
				}
			case st.Start == at && st.First == at && st.End == at && slices.Equal(st.History, []quorum.Term{{Epoch: 2, Start: at}}) && st.Promised == 2:
				sawNew = true
				g := logtest.Group(9, 1, 50)
				end, err := s2.Append(2, at, g, true, 0)
				if err == nil {
					err = s2.WaitDurable(context.Background(), end)
				}
				if err != nil {
					t.Fatalf("step %d (%s): append after the restart: %v", step, what, err)
				}
				if got := readAll(t, s2, at, end); !bytes.Equal(got, g) {
					t.Fatalf("step %d (%s): read back after the restart", step, what)
				}
			default:
				t.Fatalf("step %d (%s, %d%% unsynced kept): neither the old state nor the new: %+v (old %+v, at %d)", step, what, pct, st, old, at)
			}
			_ = s2.Close()
		}
	}
}
