package logstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/logstore/logtest"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t *testing.T, fs vfs.FS, segSize int64, logger *slog.Logger) *Store {
	t.Helper()
	if logger == nil {
		logger = quiet()
	}
	s, err := Open(Options{FS: fs, Dir: "ls", SegmentSize: segSize, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// adopt makes epoch the writer of an empty or matching store at its end.
func adopt(t *testing.T, s *Store, epoch uint64, h []quorum.Term) {
	t.Helper()
	st := s.Status()
	if _, err := s.Adopt(epoch, st.Durable, h, 0); err != nil {
		t.Fatal(err)
	}
}

// appendGroups appends n groups from txn first on and returns the bytes.
func appendGroups(t *testing.T, s *Store, epoch uint64, first uint64, n, pad int) []byte {
	t.Helper()
	var all []byte
	for i := 0; i < n; i++ {
		g := logtest.Group(7, first+uint64(i), pad)
		end, err := s.Append(epoch, s.Status().End, g, true, 0)
		if err == nil {
			err = s.WaitDurable(context.Background(), end)
		}
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, g...)
	}
	return all
}

func readAll(t *testing.T, s *Store, from, to page.LSN) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []byte
	for from < to {
		b, err := s.Read(ctx, from, 1<<20, to)
		if err != nil {
			t.Fatalf("read from %d: %v", from, err)
		}
		out = append(out, b...)
		from += page.LSN(len(b))
	}
	return out
}

func TestAppendReadRefusals(t *testing.T) {
	s := open(t, vfs.NewMem(), 0, nil)
	defer s.Close()
	g := logtest.Group(1, 1, 50)
	if _, err := s.Append(1, redo.StartLSN, g, true, 0); !errors.Is(err, ErrNotAdopted) {
		t.Fatalf("append before adopt: %v", err)
	}
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	data := appendGroups(t, s, 1, 1, 10, 100)
	end := s.Status().End
	if err := s.WaitDurable(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, redo.StartLSN, end); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	// A gap is refused with the store's end.
	_, err := s.Append(1, end+10, g, true, 0)
	var r *RefusedError
	if !errors.As(err, &r) || !errors.Is(err, ErrGap) || r.End != end {
		t.Fatalf("gap: %v", err)
	}
	// Malformed data is refused without touching the log.
	bad := bytes.Clone(g)
	bad[len(bad)-1] ^= 1
	if _, err := s.Append(1, end, bad, true, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("corrupt append: %v", err)
	}
	if _, err := s.Append(1, end, g[:len(g)-1], false, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("partial record: %v", err)
	}
	if _, err := s.Append(1, end, logtest.Partial(1, 1, 10), true, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("complete flag on a partial group: %v", err)
	}
	// A deposed writer gets nothing accepted once a newer epoch sealed the store.
	if _, err := s.Seal(2, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(1, end, g, true, 0); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("old epoch after seal: %v", err)
	}
	if _, err := s.DurableFor(1); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("acknowledgement for the old epoch: %v", err)
	}
	// Followers (no limit) see only committed bytes.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx, redo.StartLSN, 100, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("follower read of uncommitted bytes: %v", err)
	}
}

func TestSealPersists(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs, 0, nil)
	adopt(t, s, 3, []quorum.Term{{Epoch: 3, Start: redo.StartLSN}})
	appendGroups(t, s, 3, 1, 3, 10)
	if err := s.WaitDurable(context.Background(), s.Status().End); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal(5, false); err != nil {
		t.Fatal(err)
	}
	end := s.Status().End
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, fs, 0, nil)
	defer s.Close()
	st := s.Status()
	if st.Promised != 5 || st.End != end || len(st.History) != 1 || st.History[0].Epoch != 3 || st.CompleteEnd != end {
		t.Fatalf("after reopen: %+v", st)
	}
	if _, err := s.Append(3, end, logtest.Group(1, 9, 1), true, 0); !errors.Is(err, ErrStaleEpoch) {
		t.Fatalf("epoch 3 after a seal of 5 and a restart: %v", err)
	}
	if _, err := s.Seal(4, false); !errors.Is(err, ErrStaleEpoch) {
		t.Fatal(err)
	}
}

// TestCrashKeepsSynced crashes a store (a crash clone of its file system) while a writer
// appends, with some of the unsynced bytes reaching the disk, and checks that recovery keeps at
// least everything that was durable, and only whole records of what was appended.
func TestCrashKeepsSynced(t *testing.T) {
	for seed := int64(0); seed < 8; seed++ {
		fs := vfs.NewCrashableMem()
		s := open(t, fs, 4<<10, nil)
		adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
		var mu sync.Mutex
		var data []byte
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := uint64(1); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				g := logtest.Group(3, i, int(i%300))
				mu.Lock()
				_, err := s.Append(1, s.Status().End, g, true, 0)
				if err == nil {
					data = append(data, g...)
				}
				mu.Unlock()
				if i%3 == 0 {
					// the first records of a group that goes on
					p := logtest.Partial(3, i, 20)
					mu.Lock()
					if _, err := s.Append(1, s.Status().End, p, false, 0); err == nil {
						data = append(data, p...)
					}
					mu.Unlock()
				}
			}
		}()
		time.Sleep(5 * time.Millisecond)
		durable := s.Status().Durable
		clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(uint64(seed), 1))})
		close(stop)
		<-done
		_ = s.Close()
		if names, err := clone.List("ls"); err == nil {
			for _, n := range names {
				fi, _ := clone.Stat(clone.PathJoin("ls", n))
				t.Logf("%s %d", n, fi.Size())
			}
		}
		s2 := open(t, clone, 4<<10, nil)
		st := s2.Status()
		if st.End < durable {
			t.Fatalf("seed %d: recovered end %d below the durable end %d before the crash", seed, st.End, durable)
		}
		got := readAll(t, s2, redo.StartLSN, st.End)
		mu.Lock()
		if !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("seed %d: recovered bytes differ from what was appended", seed)
		}
		mu.Unlock()
		if _, _, n, err := scanRecords(got); err != nil || n != len(got) {
			t.Fatalf("seed %d: recovered log is not whole records: %d of %d, %v", seed, n, len(got), err)
		}
		if st.CompleteEnd > st.End || st.CompleteEnd < redo.StartLSN {
			t.Fatalf("seed %d: complete end %d, end %d", seed, st.CompleteEnd, st.End)
		}
		_ = s2.Close()
	}
}

func TestCorruptionDetected(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs, 2<<10, nil)
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	appendGroups(t, s, 1, 1, 40, 200)
	end := s.Status().End
	if err := s.WaitDurable(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Flip a byte in the middle of the second segment.
	names, _ := fs.List("ls")
	var segs []string
	for _, n := range names {
		if strings.HasSuffix(n, segmentSuffix) {
			segs = append(segs, n)
		}
	}
	sort.Strings(segs) // List's order is the file system's
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %v", segs)
	}
	victim := fs.PathJoin("ls", segs[1])
	f, err := fs.OpenReadWrite(victim, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	b := make([]byte, 1)
	off := fi.Size() / 2
	_, _ = f.ReadAt(b, off)
	b[0] ^= 0x40
	_, _ = f.WriteAt(b, off)
	_ = f.Close()

	var logs syncBuffer // the repair loop logs while the test reads
	s = open(t, fs, 2<<10, slog.New(slog.NewTextHandler(&logs, nil)))
	defer s.Close()
	start2, _ := parseSegmentName(segs[1])
	var readErr error
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for from := redo.StartLSN; from < end; {
		b, err := s.Read(ctx, from, 1<<20, end)
		if err != nil {
			readErr = err
			if from < start2 {
				t.Fatalf("read before the damaged segment failed: %v", err)
			}
			break
		}
		from += page.LSN(len(b))
	}
	if !errors.Is(readErr, ErrCorrupt) || !strings.Contains(readErr.Error(), segs[1]) {
		t.Fatalf("read across the damage: %v", readErr)
	}
	if !strings.Contains(logs.String(), "corrupt") || !strings.Contains(logs.String(), segs[1]) || !strings.Contains(logs.String(), "offset=") {
		t.Fatalf("damage not logged with file and offset: %s", logs.String())
	}
}

func TestTruncateAndAdoptCut(t *testing.T) {
	fs := vfs.NewMem()
	s := open(t, fs, 1<<10, nil)
	defer s.Close()
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	data := appendGroups(t, s, 1, 1, 30, 150)
	end := s.Status().End
	if err := s.WaitDurable(context.Background(), end); err != nil {
		t.Fatal(err)
	}
	mid := redo.StartLSN + page.LSN(len(data)/2)
	if err := s.Truncate(mid); err != nil {
		t.Fatal(err)
	}
	first := s.Status().First
	if first <= redo.StartLSN || first > mid {
		t.Fatalf("first after truncate: %d", first)
	}
	if _, err := s.Read(context.Background(), redo.StartLSN, 10, end); !errors.Is(err, ErrTruncated) {
		t.Fatalf("read below first: %v", err)
	}
	// A new writer cuts the log after the 25th group.
	cut := redo.StartLSN
	for i := 0; i < 25; i++ {
		cut += page.LSN(len(logtest.Group(7, uint64(i+1), 150)))
	}
	h := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}, {Epoch: 2, Start: cut}}
	st, err := s.Adopt(2, cut, h, cut)
	if err != nil {
		t.Fatal(err)
	}
	if st.End != cut || st.CompleteEnd != cut || st.Promised != 2 {
		t.Fatalf("after adopt: %+v", st)
	}
	if got := readAll(t, s, first, cut); !bytes.Equal(got, data[first-redo.StartLSN:cut-redo.StartLSN]) {
		t.Fatal("kept prefix differs")
	}
	more := appendGroups(t, s, 2, 100, 5, 10)
	end2 := s.Status().End
	if err := s.WaitDurable(context.Background(), end2); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, cut, end2); !bytes.Equal(got, more) {
		t.Fatal("appends after the cut differ")
	}
}

// slowFS makes every data sync take a while, so that appends pile up behind one.
type slowFS struct{ vfs.FS }

type slowFile struct{ vfs.File }

func (f slowFile) SyncData() error { time.Sleep(2 * time.Millisecond); return f.File.SyncData() }

func (fs slowFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return slowFile{f}, err
}

func (fs slowFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return slowFile{f}, err
}

func TestGroupCommit(t *testing.T) {
	s := open(t, slowFS{vfs.NewMem()}, 0, nil)
	defer s.Close()
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	const n = 200
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/8; i++ {
				mu.Lock()
				end, err := s.Append(1, s.Status().End, logtest.Group(1, uint64(i), 40), true, 0)
				mu.Unlock()
				if err == nil {
					err = s.WaitDurable(context.Background(), end)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	syncs, _ := s.Fsyncs()
	if syncs >= n/2 {
		t.Fatalf("%d syncs for %d appends from 8 committers: no group commit", syncs, n)
	}
	t.Logf("%d appends, %d syncs", n, syncs)
}
