package logstore

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/faultfs"
	"strata/internal/logapi/logstorepb"
	"strata/internal/logstore/logtest"
	"strata/internal/quorum"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// tryAppend appends one group at the store's end and waits until it is durable.
func tryAppend(s *Store, epoch, txn uint64, pad int) ([]byte, error) {
	g := logtest.Group(7, txn, pad)
	end, err := s.Append(epoch, s.Status().End, g, true, 0)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = s.WaitDurable(ctx, end)
	}
	return g, err
}

// TestDiskFullThenReopen: with the disk full (every write and sync fails with ENOSPC) the store
// fails an append, says so (Failed, Err, GetStatus unavailable) and refuses every call; opened
// again while the disk is still full it does not start; once space is back it opens with every
// byte it acknowledged and takes appends again.
func TestDiskFullThenReopen(t *testing.T) {
	for _, fail := range []string{"write", "sync"} {
		t.Run(fail, func(t *testing.T) {
			mem := vfs.NewMem()
			full := &faultfs.DiskFull{}
			inj := errorfs.Injector(full)
			if fail == "sync" { // the writes reach the file; the sync fails
				inj = errorfs.InjectorFunc(func(op errorfs.Op) error {
					if op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileWriteAt {
						return nil
					}
					return full.MaybeError(op)
				})
			}
			fs := errorfs.Wrap(mem, inj)
			s := open(t, fs, 16<<10, nil)
			adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
			acked := appendGroups(t, s, 1, 1, 40, 700) // several segments
			ackedEnd := s.Status().Durable

			full.On.Store(true)
			var failed error
			for i := 0; i < 100 && failed == nil; i++ { // the preallocated zeros take a few
				g, err := tryAppend(s, 1, uint64(100+i), 700)
				if err == nil {
					acked = append(acked, g...)
					ackedEnd = s.Status().Durable
				}
				failed = err
			}
			if !errors.Is(failed, ErrFailed) || !errors.Is(failed, syscall.ENOSPC) {
				t.Fatalf("append on a full disk: %v, want ErrFailed wrapping ENOSPC", failed)
			}
			select {
			case <-s.Failed():
			default:
				t.Fatal("Failed not closed")
			}
			if s.Err() == nil {
				t.Fatal("Err is nil on a failed store")
			}
			srv, err := NewServer(s, "secret", quiet())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := srv.GetStatus(context.Background(), &logstorepb.StatusRequest{}); status.Code(err) != codes.Unavailable {
				t.Fatalf("GetStatus of a failed store: %v, want unavailable", err)
			}
			if _, err := s.Append(1, s.Status().End, logtest.Group(7, 999, 10), true, 0); !errors.Is(err, ErrFailed) {
				t.Fatalf("append after the failure: %v", err)
			}
			_ = s.Close()

			// Still full: the store does not open (it would fail at once).
			if s2, err := Open(Options{FS: fs, Dir: "ls", SegmentSize: 16 << 10, Logger: quiet()}); err == nil {
				// Opening may need no write; then the first append fails again.
				if _, err := tryAppend(s2, 1, 500, 700); err == nil {
					t.Fatal("a store opened on a full disk took an append")
				}
				_ = s2.Close()
			}

			full.On.Store(false) // space is back
			s3 := open(t, fs, 16<<10, nil)
			defer s3.Close()
			st := s3.Status()
			if st.Durable < ackedEnd {
				t.Fatalf("reopened durable end %d, below the acknowledged %d", st.Durable, ackedEnd)
			}
			if got := readAll(t, s3, redo.StartLSN, ackedEnd); !bytes.Equal(got, acked) {
				t.Fatal("acknowledged bytes lost or changed")
			}
			// The writer (a new epoch) adopts it and appends again.
			if _, err := s3.Adopt(2, st.Durable, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}, {Epoch: 2, Start: st.Durable}}, 0); err != nil {
				t.Fatal(err)
			}
			appendGroups(t, s3, 2, 1000, 20, 700)
		})
	}
}

// quotaFS is the operating system's file system on a disk with room for limit more bytes than
// its files held when it was made: a write that would grow the files beyond that writes what
// fits and fails with ENOSPC; cutting a file gives its bytes back.
type quotaFS struct {
	vfs.FS
	mu    sync.Mutex
	room  int64 // bytes left
	sizes map[string]int64
}

func (q *quotaFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := q.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return &quotaFile{File: f, q: q, name: name}, nil
}

func (q *quotaFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := q.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return &quotaFile{File: f, q: q, name: name}, nil
}

func (q *quotaFS) setRoom(n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.room = n
}

// grow takes the bytes that make name end at end from the room, as far as it goes, and
// returns the end the file may reach.
func (q *quotaFS) grow(name string, end int64) int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	size, ok := q.sizes[name]
	if !ok {
		if fi, err := q.FS.Stat(name); err == nil {
			size = fi.Size()
		}
	}
	if end > size {
		if end-size > q.room {
			end = size + q.room
		}
		q.room -= end - size
		size = end
	}
	q.sizes[name] = size
	return end
}

func (q *quotaFS) cut(name string, size int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.sizes[name]; ok && old > size {
		q.room += old - size
	}
	q.sizes[name] = size
}

type quotaFile struct {
	vfs.File
	q    *quotaFS
	name string
	off  int64
}

func (f *quotaFile) WriteAt(p []byte, off int64) (int, error) {
	end := f.q.grow(f.name, off+int64(len(p)))
	n := max(0, end-off)
	if n < int64(len(p)) {
		w, _ := f.File.WriteAt(p[:n], off)
		return w, &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	return f.File.WriteAt(p, off)
}

func (f *quotaFile) Write(p []byte) (int, error) {
	n, err := f.WriteAt(p, f.off)
	f.off += int64(n)
	return n, err
}

func (f *quotaFile) Truncate(size int64) error {
	t, ok := f.File.(interface{ Truncate(int64) error })
	if !ok {
		return errors.ErrUnsupported
	}
	if err := t.Truncate(size); err != nil {
		return err
	}
	f.q.cut(f.name, size)
	return nil
}

// TestPreallocationOnAFullDisk: on real files, a disk with room for the appends but not for a
// segment's preallocation step keeps the store working (without preallocating); when the appends
// too run out of room the store fails, and it cuts what it had not synced off the segment
// (freeing the preallocated zeros too), so that its files end where its acknowledged log does.
func TestPreallocationOnAFullDisk(t *testing.T) {
	dir := t.TempDir()
	q := &quotaFS{FS: vfs.Default, room: 1 << 40, sizes: map[string]int64{}}
	s, err := Open(Options{FS: q, Dir: dir, SegmentSize: 4 << 20, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	acked := appendGroups(t, s, 1, 1, 10, 1000) // the segment is preallocated to 1 MiB
	st := s.Status()
	segs := segsIn(t, q, dir)
	if last := segs[len(segs)-1]; last.Size != preallocStep {
		t.Fatalf("segment of %d bytes, want it preallocated to %d", last.Size, preallocStep)
	}
	// Room for 64 KiB past the preallocated MiB: the next preallocation step (1 MiB) does not fit;
	// the appends do, until the room is gone.
	q.setRoom(64 << 10)
	var n int
	for txn := uint64(100); ; txn++ {
		g, err := tryAppend(s, 1, txn, 1000)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("append: %v, want ENOSPC", err)
			}
			break
		}
		acked = append(acked, g...)
		n++
		if n > 5000 {
			t.Fatal("appends never ran out of room")
		}
	}
	if got := int64(s.Status().Durable - st.Durable); got < preallocStep-int64(st.Durable-redo.StartLSN)+32<<10 {
		t.Fatalf("only %d bytes appended past the preallocated MiB before the store failed: the preallocation failure stopped it", got)
	}
	durable := s.Status().Durable
	_ = s.Close()
	segs = segsIn(t, q, dir)
	last := segs[len(segs)-1]
	if want := int64(durable - last.Start); last.Size != want {
		t.Fatalf("after the failure the last segment holds %d bytes, want the %d synced", last.Size, want)
	}
	q.setRoom(1 << 40)
	s2, err := Open(Options{FS: q, Dir: dir, SegmentSize: 4 << 20, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.Status().Durable != durable {
		t.Fatalf("reopened at %d, want %d", s2.Status().Durable, durable)
	}
	if got := readAll(t, s2, redo.StartLSN, durable); !bytes.Equal(got, acked) {
		t.Fatalf("acknowledged bytes differ (%d read, %d acked)", len(got), len(acked))
	}
}

// segsIn returns the segment files in dir with their sizes, in LSN order.
func segsIn(t *testing.T, fs vfs.FS, dir string) []segfile.Found {
	t.Helper()
	segs, err := segfile.List(fs, dir, segmentSuffix, ".tmp")
	if err != nil {
		t.Fatal(err)
	}
	return segs
}
