package wal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

var quiet = slog.New(slog.DiscardHandler)

// group returns a sealed redo group of two records (an insert with a cell of size bytes and a
// commit), distinct for each i.
func group(i, size int) []byte {
	g := redo.NewGroup()
	cell := make([]byte, size)
	for j := range cell {
		cell[j] = byte(i*31 + j)
	}
	g.Insert(page.ID(2+i%50), i%7, cell)
	g.Commit(uint64(i), int64(i))
	return slices.Clone(g.Bytes())
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func open(t testing.TB, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustAppend(t testing.TB, l *Log, b []byte, complete bool) page.LSN {
	t.Helper()
	_, end, err := l.Append(b, complete)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return end
}

func mustWait(t testing.TB, l *Log, lsn page.LSN) {
	t.Helper()
	if err := l.WaitDurable(testCtx(t), lsn); err != nil {
		t.Fatalf("WaitDurable(%d): %v", lsn, err)
	}
}

// readRange reads [from, to) with reads of at most max bytes.
func readRange(t testing.TB, l *Log, from, to page.LSN, max int) []byte {
	t.Helper()
	ctx := testCtx(t)
	var out []byte
	for pos := from; pos < to; {
		b, err := l.Read(ctx, pos, max)
		if err != nil {
			t.Fatalf("Read(%d, %d): %v", pos, max, err)
		}
		if len(b) == 0 || len(b) > max {
			t.Fatalf("Read(%d, %d) returned %d bytes", pos, max, len(b))
		}
		out = append(out, b...)
		pos += page.LSN(len(b))
	}
	return out
}

func segmentFiles(t testing.TB, fs vfs.FS, dir string) []string {
	t.Helper()
	names, err := fs.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if _, ok := parseSegmentName(n); ok {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs
}

func fileBytes(t testing.TB, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		t.Fatal(err)
	}
	return b
}

// checkClean checks that b is a sequence of whole groups.
func checkClean(t testing.TB, b []byte) {
	t.Helper()
	end, err := redo.Scan(b, nil)
	if err != nil || end != len(b) {
		t.Fatalf("Scan of %d bytes: end %d, err %v", len(b), end, err)
	}
}

func TestRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{FS: fs, Dir: "wal", SegmentSize: 1000}
	l := open(t, opts)
	if l.Recovered() != redo.StartLSN || l.End() != redo.StartLSN || l.First() != redo.StartLSN {
		t.Fatalf("new log: recovered %d end %d first %d", l.Recovered(), l.End(), l.First())
	}
	var want []byte
	ends := map[page.LSN]bool{}
	for i := range 200 {
		g := group(i, 20+i*7%300)
		if i%5 == 0 { // a group appended in pieces
			cut := len(g) / 3
			mustAppend(t, l, g[:cut], false)
			mustAppend(t, l, g[cut:], true)
		} else {
			start, end, err := l.Append(g, true)
			if err != nil || start != redo.StartLSN+page.LSN(len(want)) || end != start+page.LSN(len(g)) {
				t.Fatalf("Append: %d %d %v", start, end, err)
			}
		}
		want = append(want, g...)
		ends[l.End()] = true
		if i%17 == 0 {
			mustWait(t, l, l.End())
		}
	}
	end := l.End()
	mustWait(t, l, end)
	if d := l.Durable(); d != end {
		t.Fatalf("Durable %d, want %d", d, end)
	}
	for _, max := range []int{1, 7, 100, 999, 5000, 1 << 20} {
		if got := readRange(t, l, redo.StartLSN, end, max); !bytes.Equal(got, want) {
			t.Fatalf("max %d: read bytes differ from appended bytes", max)
		}
	}
	// Every segment holds whole groups and starts where the previous one ends.
	segs := segmentFiles(t, fs, "wal")
	if len(segs) < 10 {
		t.Fatalf("only %d segments", len(segs))
	}
	pos := redo.StartLSN
	for _, name := range segs {
		start, _ := parseSegmentName(name)
		if start != pos || !(start == redo.StartLSN || ends[start]) {
			t.Fatalf("segment %s at %d, want %d at a group end", name, start, pos)
		}
		b := fileBytes(t, fs, "wal/"+name)
		checkClean(t, b)
		pos += page.LSN(len(b))
	}
	if pos != end {
		t.Fatalf("segments end at %d, want %d", pos, end)
	}
	st := l.Stats()
	if st.Appends != 240 || st.BytesWritten != uint64(len(want)) || st.Fsyncs == 0 {
		t.Fatalf("stats %+v", st)
	}

	// Reading beyond the end is an error; reading at the end blocks until an append is durable.
	if _, err := l.Read(testCtx(t), end+1, 10); err == nil {
		t.Fatal("Read beyond End: no error")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if _, err := l.Read(ctx, end, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read at End with nothing appended: %v", err)
	}
	cancel()
	got := make(chan []byte, 1)
	go func() {
		b, err := l.Read(testCtx(t), end, 1<<20)
		if err != nil {
			t.Error(err)
		}
		got <- b
	}()
	g := group(1000, 50)
	want = append(want, g...)
	mustAppend(t, l, g, true)
	select {
	case b := <-got:
		if !bytes.Equal(b, g) {
			t.Fatalf("tail read %d bytes, want the %d appended", len(b), len(g))
		}
	case <-testCtx(t).Done():
		t.Fatal("tail read did not return")
	}
	end = l.End()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read(testCtx(t), redo.StartLSN, 10); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
	if _, _, err := l.Append(g, true); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	// Reopen: everything is there and appends continue.
	l = open(t, opts)
	defer l.Close()
	if l.Recovered() != end || l.End() != end || l.Durable() != end {
		t.Fatalf("reopened: recovered %d end %d durable %d, want %d", l.Recovered(), l.End(), l.Durable(), end)
	}
	g = group(1001, 3000)
	want = append(want, g...)
	mustWait(t, l, mustAppend(t, l, g, true))
	if got := readRange(t, l, redo.StartLSN, l.End(), 4096); !bytes.Equal(got, want) {
		t.Fatal("read after reopen differs")
	}
}

func TestReadWakesOnClose(t *testing.T) {
	l := open(t, Options{FS: vfs.NewMem(), Dir: "wal"})
	errc := make(chan error, 1)
	go func() {
		_, err := l.Read(testCtx(t), l.End(), 10)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, storage.ErrClosed) {
			t.Fatalf("blocked Read after Close: %v", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("blocked Read not woken by Close")
	}
	if err := l.Close(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

func TestCloseFlushesPending(t *testing.T) {
	fs := vfs.NewCrashableMem()
	opts := Options{FS: fs, Dir: "wal", SegmentSize: 512}
	l := open(t, opts)
	var want []byte
	for i := range 100 {
		g := group(i, 100)
		want = append(want, g...)
		mustAppend(t, l, g, true)
	}
	end := l.End()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Durable() != end {
		t.Fatalf("Durable after Close %d, want %d", l.Durable(), end)
	}
	if err := l.WaitDurable(testCtx(t), end); err != nil {
		t.Fatalf("WaitDurable of a durable LSN after Close: %v", err)
	}
	// Even a crash right after Close keeps everything.
	l = open(t, Options{FS: fs.CrashClone(vfs.CrashCloneCfg{}), Dir: "wal"})
	defer l.Close()
	if l.Recovered() != end {
		t.Fatalf("recovered %d, want %d", l.Recovered(), end)
	}
	if got := readRange(t, l, redo.StartLSN, end, 1<<20); !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
}

func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir + "/wal"})
	const committers, commits = 64, 50
	ctx := testCtx(t)
	base := l.Stats()
	var wg sync.WaitGroup
	for c := range committers {
		wg.Go(func() {
			for i := range commits {
				_, end, err := l.Append(group(c*commits+i, 150), true)
				if err != nil {
					t.Error(err)
					return
				}
				if err := l.WaitDurable(ctx, end); err != nil {
					t.Error(err)
					return
				}
				if l.Durable() < end {
					t.Errorf("Durable %d below a waited LSN %d", l.Durable(), end)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	st := l.Stats()
	appends, fsyncs := st.Appends-base.Appends, st.Fsyncs-base.Fsyncs
	t.Logf("%d appends, %d fsyncs: %.1f commits/fsync", appends, fsyncs, float64(appends)/float64(fsyncs))
	if appends != committers*commits || fsyncs >= appends {
		t.Fatalf("%d appends, %d fsyncs: want fewer fsyncs than appends", appends, fsyncs)
	}
	// Every commit is in the log exactly once.
	b := readRange(t, l, redo.StartLSN, l.End(), 1<<20)
	seen := map[uint64]bool{}
	if _, err := redo.Scan(b, func(_ int, r redo.Record) error {
		if r.Type == redo.TCommit {
			txn, _ := redo.CommitTxn(r)
			if seen[txn] {
				return fmt.Errorf("txn %d twice", txn)
			}
			seen[txn] = true
		}
		return nil
	}); err != nil || len(seen) != committers*commits {
		t.Fatalf("scan: %v, %d commits", err, len(seen))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// crashRun appends groups to a crashable log, waiting for some, and returns a crash clone
// taken while the last appends may be in flight, with the appended bytes and the last waited
// LSN. Syncs are slowed down so that the clone often holds written but unsynced data.
func crashRun(t *testing.T, rng *rand.Rand, cfg vfs.CrashCloneCfg) (*vfs.MemFS, []byte, page.LSN) {
	fs := vfs.NewCrashableMem()
	l := open(t, Options{FS: &faultFS{FS: fs, delay: 100 * time.Microsecond}, Dir: "db/wal", SegmentSize: 4096})
	defer l.Close()
	var want []byte
	var waited page.LSN
	n := 50 + rng.IntN(200)
	for i := range n {
		g := group(i, 10+rng.IntN(700))
		want = append(want, g...)
		if rng.IntN(4) == 0 {
			cut := rng.IntN(len(g))
			mustAppend(t, l, g[:cut], false)
			mustAppend(t, l, g[cut:], true)
		} else {
			mustAppend(t, l, g, true)
		}
		if i < n-20 && rng.IntN(3) == 0 {
			waited = l.End()
			mustWait(t, l, waited)
		}
	}
	return fs.CrashClone(cfg), want, waited
}

// crashRunConcurrent is crashRun with the crash at a random moment while a committer appends
// groups and waits for some of them.
func crashRunConcurrent(t *testing.T, seed uint64, cfg vfs.CrashCloneCfg) (*vfs.MemFS, []byte, page.LSN) {
	fs := vfs.NewCrashableMem()
	l := open(t, Options{FS: &faultFS{FS: fs, delay: 100 * time.Microsecond}, Dir: "db/wal", SegmentSize: 16384})
	defer l.Close()
	ctx := testCtx(t)
	var want []byte // appended bytes, owned by the committer until it stops
	var waited atomic.Uint64
	waited.Store(uint64(redo.StartLSN))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		rng := rand.New(rand.NewPCG(seed, 9))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			g := group(i, 10+rng.IntN(2000))
			want = append(want, g...)
			cut := 0
			if rng.IntN(4) == 0 {
				cut = rng.IntN(len(g))
				if _, _, err := l.Append(g[:cut], false); err != nil {
					t.Error(err)
					return
				}
			}
			_, end, err := l.Append(g[cut:], true)
			if err != nil {
				t.Error(err)
				return
			}
			if rng.IntN(8) == 0 {
				if err := l.WaitDurable(ctx, end); err != nil {
					t.Error(err)
					return
				}
				waited.Store(uint64(end))
			}
		}
	})
	time.Sleep(time.Duration(2+rand.N(20)) * time.Millisecond)
	w := page.LSN(waited.Load()) // durable before the clone
	clone := fs.CrashClone(cfg)
	close(stop)
	wg.Wait()
	return clone, want, w
}

// checkRecovered opens the log on a crashed file system and checks that it holds a prefix of
// want that ends at a group end at or after waited.
func checkRecovered(t *testing.T, fs vfs.FS, want []byte, waited page.LSN) {
	t.Helper()
	l := open(t, Options{FS: fs, Dir: "db/wal", SegmentSize: 4096})
	defer l.Close()
	rec := l.Recovered()
	if rec < waited || l.End() != rec || l.Durable() != rec {
		t.Fatalf("recovered %d (end %d, durable %d), want at least the waited %d", rec, l.End(), l.Durable(), waited)
	}
	got := readRange(t, l, redo.StartLSN, rec, 1<<20)
	if len(got) > len(want) || !bytes.Equal(got, want[:len(got)]) {
		t.Fatalf("recovered %d bytes that are not a prefix of the %d appended", len(got), len(want))
	}
	checkClean(t, got)
	// The recovered log takes appends again.
	g := group(99999, 100)
	mustWait(t, l, mustAppend(t, l, g, true))
	checkClean(t, readRange(t, l, redo.StartLSN, l.End(), 1<<20))
}

func TestCrash(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fs, want, waited := crashRun(t, rng, vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	checkRecovered(t, fs, want, waited)
}

func TestCrashRandom(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: 1 + rng.IntN(100), RNG: rand.New(rand.NewPCG(seed, 8))}
			fs, want, waited := crashRunConcurrent(t, seed, cfg)
			checkRecovered(t, fs, want, waited)
		})
	}
}

func TestTornTail(t *testing.T) {
	for _, name := range []string{"mem", "disk"} {
		t.Run(name, func(t *testing.T) {
			var fs vfs.FS = vfs.NewMem()
			dir := "wal"
			if name == "disk" {
				fs, dir = vfs.Default, t.TempDir()
			}
			opts := Options{FS: fs, Dir: dir}
			l := open(t, opts)
			var want []byte
			for i := range 10 {
				g := group(i, 100)
				want = append(want, g...)
				mustAppend(t, l, g, true)
			}
			complete := l.End()
			g := group(10, 500)
			mustWait(t, l, mustAppend(t, l, g[:len(g)-30], false))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			path := fs.PathJoin(dir, segmentName(redo.StartLSN))
			f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("garbage after a torn write"), int64(complete-redo.StartLSN)+int64(len(g)-30)); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}

			l = open(t, opts)
			defer l.Close()
			if l.Recovered() != complete || l.End() != complete {
				t.Fatalf("recovered %d, end %d, want %d", l.Recovered(), l.End(), complete)
			}
			if b := fileBytes(t, fs, path); !bytes.Equal(b, want) {
				t.Fatalf("segment holds %d bytes, want the %d of the complete groups", len(b), len(want))
			}
			g = group(11, 40)
			want = append(want, g...)
			mustWait(t, l, mustAppend(t, l, g, true))
			if got := readRange(t, l, redo.StartLSN, l.End(), 1<<20); !bytes.Equal(got, want) {
				t.Fatal("bytes differ after recovery and append")
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for capturing logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCorruptMiddle(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{FS: fs, Dir: "wal", SegmentSize: 5000}
	l := open(t, opts)
	var offsets []int // start LSN of each group
	for i := range 100 {
		start, _, err := l.Append(group(i, 92), true) // 148 bytes: 3 segments, the last one full
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, int(start))
	}
	mustWait(t, l, l.End())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, fs, "wal")
	lastStart, _ := parseSegmentName(segs[len(segs)-1])
	var inLast []int
	for _, o := range offsets {
		if page.LSN(o) >= lastStart {
			inLast = append(inLast, o)
		}
	}
	if len(segs) < 2 || len(inLast) < 10 {
		t.Fatalf("%d segments, %d groups in the last", len(segs), len(inLast))
	}
	// Flip a byte in the payload of a group in the middle of the last segment.
	bad := inLast[len(inLast)/2]
	path := "wal/" + segs[len(segs)-1]
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	at := int64(page.LSN(bad)-lastStart) + redo.HeaderSize + 10
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x40
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var logs syncBuffer
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	l = open(t, opts)
	defer l.Close()
	if l.Recovered() != page.LSN(bad) {
		t.Fatalf("recovered %d, want the start of the corrupt group %d", l.Recovered(), bad)
	}
	out := logs.String()
	wantOff := fmt.Sprintf("offset=%d", page.LSN(bad)-lastStart)
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, segs[len(segs)-1]) || !strings.Contains(out, wantOff) {
		t.Fatalf("want a warning naming %s and %s, got:\n%s", segs[len(segs)-1], wantOff, out)
	}
	checkClean(t, readRange(t, l, redo.StartLSN, l.End(), 1<<20))
}

func TestMissingSegment(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{FS: fs, Dir: "wal", SegmentSize: 500}
	l := open(t, opts)
	for i := range 30 {
		mustAppend(t, l, group(i, 100), true)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, fs, "wal")
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	if err := fs.Remove("wal/" + segs[1]); err != nil {
		t.Fatal(err)
	}
	_, err := Open(Options{FS: fs, Dir: "wal", Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), segs[2]) {
		t.Fatalf("Open with a missing segment: %v, want an error naming %s", err, segs[2])
	}
	// The failed Open released the lock: the log opens once the segment is back.
	if err := fs.Remove("wal/" + segs[0]); err != nil {
		t.Fatal(err)
	}
	l = open(t, opts)
	defer l.Close()
	if start, _ := parseSegmentName(segs[2]); l.First() != start {
		t.Fatalf("First %d, want %d", l.First(), start)
	}
}

func TestTruncate(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{FS: fs, Dir: "wal", SegmentSize: 1000}
	l := open(t, opts)
	var want []byte
	for i := range 100 {
		g := group(i, 100)
		want = append(want, g...)
		mustAppend(t, l, g, true)
	}
	end := l.End()
	mustWait(t, l, end)
	segs := segmentFiles(t, fs, "wal")
	starts := make([]page.LSN, len(segs))
	for i, s := range segs {
		starts[i], _ = parseSegmentName(s)
	}
	// Truncating inside the fourth segment removes the first three.
	before := starts[3] + 10
	if err := l.Truncate(before); err != nil {
		t.Fatal(err)
	}
	if l.First() != starts[3] {
		t.Fatalf("First %d, want %d", l.First(), starts[3])
	}
	if got := segmentFiles(t, fs, "wal"); !slices.Equal(got, segs[3:]) {
		t.Fatalf("segments after Truncate: %v, want %v", got, segs[3:])
	}
	if _, err := l.Read(testCtx(t), l.First()-1, 10); !errors.Is(err, ErrTruncated) {
		t.Fatalf("Read below First: %v", err)
	}
	if got := readRange(t, l, l.First(), end, 333); !bytes.Equal(got, want[l.First()-redo.StartLSN:]) {
		t.Fatal("bytes after Truncate differ")
	}
	// Truncating everything keeps the current segment.
	if err := l.Truncate(end + 1000); err != nil {
		t.Fatal(err)
	}
	if got := segmentFiles(t, fs, "wal"); !slices.Equal(got, segs[len(segs)-1:]) {
		t.Fatalf("segments after Truncate(all): %v", got)
	}
	first := l.First()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(end); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Truncate after Close: %v", err)
	}
	l = open(t, opts)
	defer l.Close()
	if l.First() != first || l.Recovered() != end {
		t.Fatalf("reopened: first %d recovered %d, want %d %d", l.First(), l.Recovered(), first, end)
	}
}

// TestConcurrentTail runs an appender, a tailing reader and a truncater together.
func TestConcurrentTail(t *testing.T) {
	l := open(t, Options{FS: vfs.NewMem(), Dir: "wal", SegmentSize: 2000})
	defer l.Close()
	ctx := testCtx(t)
	const n = 2000
	var want []byte
	for i := range n {
		want = append(want, group(i, i%200)...)
	}
	final := redo.StartLSN + page.LSN(len(want))
	var readPos atomic.Uint64
	readPos.Store(uint64(redo.StartLSN))
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if _, _, err := l.Append(group(i, i%200), true); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Go(func() {
		pos := redo.StartLSN
		for pos < final {
			b, err := l.Read(ctx, pos, 1+int(pos%3000))
			if err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(b, want[pos-redo.StartLSN:pos-redo.StartLSN+page.LSN(len(b))]) {
				t.Errorf("tail read at %d differs", pos)
				return
			}
			pos += page.LSN(len(b))
			readPos.Store(uint64(pos))
		}
	})
	wg.Go(func() {
		for page.LSN(readPos.Load()) < final && ctx.Err() == nil {
			if err := l.Truncate(page.LSN(readPos.Load())); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
}

// faultFS fails syncs of the files it opens once fail is set, and delays them by delay (so
// that a crash clone often finds written but unsynced data).
type faultFS struct {
	vfs.FS
	fail  atomic.Bool
	delay time.Duration
}

type faultFile struct {
	vfs.File
	fs *faultFS
}

var errInjected = errors.New("injected sync failure")

func (f *faultFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	file, err := f.FS.Create(name, c)
	if err != nil {
		return nil, err
	}
	return &faultFile{file, f}, nil
}

func (f *faultFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	file, err := f.FS.OpenReadWrite(name, c, opts...)
	if err != nil {
		return nil, err
	}
	return &faultFile{file, f}, nil
}

func (f *faultFile) Sync() error {
	time.Sleep(f.fs.delay)
	if f.fs.fail.Load() {
		return errInjected
	}
	return f.File.Sync()
}

func (f *faultFile) SyncData() error {
	time.Sleep(f.fs.delay)
	if f.fs.fail.Load() {
		return errInjected
	}
	return f.File.SyncData()
}

func TestSyncFailure(t *testing.T) {
	fs := &faultFS{FS: vfs.NewMem()}
	l := open(t, Options{FS: fs, Dir: "wal"})
	mustWait(t, l, mustAppend(t, l, group(1, 10), true))
	durable := l.Durable()
	fs.fail.Store(true)
	end := mustAppend(t, l, group(2, 10), true)
	if err := l.WaitDurable(testCtx(t), end); !errors.Is(err, errInjected) {
		t.Fatalf("WaitDurable after a failed sync: %v", err)
	}
	if l.Durable() != durable {
		t.Fatalf("Durable moved to %d after a failed sync", l.Durable())
	}
	if _, _, err := l.Append(group(3, 10), true); !errors.Is(err, errInjected) {
		t.Fatalf("Append after a failed sync: %v", err)
	}
	if err := l.WaitDurable(testCtx(t), durable); err != nil {
		t.Fatalf("WaitDurable of a durable LSN: %v", err)
	}
	if _, err := l.Read(testCtx(t), durable, 10); !errors.Is(err, errInjected) {
		t.Fatalf("Read past Durable after failure: %v", err)
	}
	if err := l.Close(); !errors.Is(err, errInjected) {
		t.Fatalf("Close of a failed log: %v", err)
	}
}

// FuzzOpen opens a log whose last segment holds arbitrary bytes: Open must not panic, and what
// it recovers must be whole groups.
func FuzzOpen(f *testing.F) {
	var valid []byte
	for i := range 5 {
		valid = append(valid, group(i, 30)...)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-7])
	f.Add(append(slices.Clone(valid), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19))
	f.Add([]byte{})
	f.Add(make([]byte, 100))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := vfs.NewMem()
		if err := fs.MkdirAll("wal", 0o755); err != nil {
			t.Fatal(err)
		}
		first := group(100, 10)
		for name, b := range map[string][]byte{
			segmentName(redo.StartLSN):                        first,
			segmentName(redo.StartLSN + page.LSN(len(first))): data,
			"notes.txt": []byte("not a segment"),
		} {
			file, err := fs.Create("wal/"+name, vfs.WriteCategoryUnspecified)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := file.Write(slices.Clone(b)); err != nil {
				t.Fatal(err)
			}
			file.Close()
		}
		l, err := Open(Options{FS: fs, Dir: "wal", Logger: quiet})
		if err != nil {
			return
		}
		defer l.Close()
		checkClean(t, readRange(t, l, redo.StartLSN, l.Recovered(), 1<<20))
	})
}

func TestBadDir(t *testing.T) {
	if _, err := Open(Options{FS: vfs.NewMem()}); err == nil {
		t.Fatal("Open with no Dir: no error")
	}
	fs := vfs.NewMem()
	l := open(t, Options{FS: fs, Dir: "wal"})
	defer l.Close()
	if _, err := Open(Options{FS: fs, Dir: "wal", Logger: quiet}); err == nil {
		t.Fatal("second Open of a locked log: no error")
	}
}

func BenchmarkAppendDurable(b *testing.B) {
	for _, committers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			l := open(b, Options{Dir: b.TempDir()})
			defer l.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			g := group(1, 170) // about 200 bytes
			b.SetBytes(int64(len(g)))
			base := l.Stats()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range committers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						_, end, err := l.Append(g, true)
						if err == nil {
							err = l.WaitDurable(ctx, end)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := l.Stats()
			b.ReportMetric(float64(st.Appends-base.Appends)/float64(max(1, st.Fsyncs-base.Fsyncs)), "commits/fsync")
		})
	}
}

// BenchmarkFsync is the baseline: one 200-byte write and one sync per op, as the log's flusher
// issues them.
func BenchmarkFsync(b *testing.B) {
	fs := vfs.Default
	f, err := fs.Create(fs.PathJoin(b.TempDir(), "fsync"), vfs.WriteCategoryUnspecified)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 200)
	b.SetBytes(int64(len(buf)))
	off := int64(0)
	for b.Loop() {
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
		off += int64(len(buf))
		if err := f.SyncData(); err != nil {
			b.Fatal(err)
		}
	}
}
