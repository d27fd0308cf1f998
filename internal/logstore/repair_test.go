package logstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
)

const testSecret = "repair-secret"

// syncBuffer is a log sink safe for concurrent writes and reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// trio is three stores with the same log, the first and last served over gRPC; the middle one
// (the victim, B) is reopened with the others as peers.
type trio struct {
	fss   [3]*vfs.MemFS
	s     [3]*Store
	addrs []string
	end   page.LSN
	srvs  []*Server
}

const trioSeg = 2 << 10

func newTrio(t *testing.T) *trio {
	t.Helper()
	tr := &trio{}
	h := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}}
	for i := range tr.s {
		tr.fss[i] = vfs.NewMem()
		tr.s[i] = open(t, tr.fss[i], trioSeg, nil)
		adopt(t, tr.s[i], 1, h)
		appendGroups(t, tr.s[i], 1, 1, 40, 200)
		// the writer tells the stores what is committed (an empty append)
		if _, err := tr.s[i].Append(1, tr.s[i].Status().End, nil, false, tr.s[i].Status().End); err != nil {
			t.Fatal(err)
		}
	}
	tr.end = tr.s[0].Status().End
	for _, i := range []int{0, 2} {
		srv, err := NewServer(tr.s[i], testSecret, quiet())
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.Serve(l) }()
		tr.srvs = append(tr.srvs, srv)
		tr.addrs = append(tr.addrs, l.Addr().String())
	}
	t.Cleanup(func() {
		for _, srv := range tr.srvs {
			srv.Stop()
		}
		for _, s := range tr.s {
			_ = s.Close()
		}
	})
	return tr
}

// reopenB closes the victim, lets change alter its files, and opens it again with peers.
func (tr *trio) reopenB(t *testing.T, logs *syncBuffer, change func(fs vfs.FS)) {
	t.Helper()
	if err := tr.s[1].Close(); err != nil {
		t.Fatal(err)
	}
	change(tr.fss[1])
	s, err := Open(Options{FS: tr.fss[1], Dir: "ls", SegmentSize: trioSeg, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Peers: tr.addrs, Secret: testSecret, RepairInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tr.s[1] = s
}

func segFiles(t *testing.T, fs vfs.FS) []string {
	t.Helper()
	names, err := fs.List("ls")
	if err != nil {
		t.Fatal(err)
	}
	var segs []string
	for _, n := range names {
		if strings.HasSuffix(n, segmentSuffix) {
			segs = append(segs, n)
		}
	}
	slices.Sort(segs)
	return segs
}

// flip flips a bit of the byte at off in file name of the store's directory.
func flip(t *testing.T, fs vfs.FS, name string, off int64) {
	t.Helper()
	f, err := fs.OpenReadWrite(fs.PathJoin("ls", name), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func fileBytes(t *testing.T, fs vfs.FS, name string) []byte {
	t.Helper()
	f, err := fs.Open(fs.PathJoin("ls", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func waitRepairs(t *testing.T, s *Store, n uint64, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.Repairs() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d repairs, want %d; status %+v; logs:\n%s", s.Repairs(), n, s.Status(), logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkSame checks that the victim's log and files equal a peer's, and that it serves them.
func (tr *trio) checkSame(t *testing.T) {
	t.Helper()
	if st := tr.s[1].Status(); len(st.Damaged) != 0 || st.End != tr.end {
		t.Fatalf("after repair: damaged %v, end %d (want %d)", st.Damaged, st.End, tr.end)
	}
	want := readAll(t, tr.s[0], redo.StartLSN, tr.end)
	if got := readAll(t, tr.s[1], redo.StartLSN, tr.end); !bytes.Equal(got, want) {
		t.Fatal("the repaired store's log differs from its peer's")
	}
	for _, name := range segFiles(t, tr.fss[1]) {
		if !bytes.Equal(fileBytes(t, tr.fss[1], name), fileBytes(t, tr.fss[0], name)) {
			t.Fatalf("segment %s differs from the peer's", name)
		}
	}
}

// TestRepairClosedSegmentAtOpen: a flipped byte in a closed segment on disk is found by the
// check that follows open, reported with the file and offset, and copied back from a peer.
func TestRepairClosedSegmentAtOpen(t *testing.T) {
	tr := newTrio(t)
	segs := segFiles(t, tr.fss[1])
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %v", segs)
	}
	var logs syncBuffer
	tr.reopenB(t, &logs, func(fs vfs.FS) { flip(t, fs, segs[1], trioSeg/2) })
	waitRepairs(t, tr.s[1], 1, &logs)
	l := logs.String()
	if !strings.Contains(l, "corrupt record") || !strings.Contains(l, segs[1]) || !strings.Contains(l, "offset=") {
		t.Fatalf("damage not reported with file and offset:\n%s", l)
	}
	if !strings.Contains(l, "repaired from a peer") {
		t.Fatalf("repair not reported:\n%s", l)
	}
	tr.checkSame(t)
}

// waitScrubbed waits until the check after open has indexed every closed segment of s.
func waitScrubbed(t *testing.T, s *Store) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.segMu.RLock()
		segs := slices.Clone(s.segs)
		s.segMu.RUnlock()
		done := true
		for _, seg := range segs[:len(segs)-1] {
			seg.mu.Lock()
			done = done && seg.indexed
			seg.mu.Unlock()
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the closed segments were not checked within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRepairOnRead: bytes damaged while the store runs are refused by the read that finds
// them (DataLoss to the client, which reads another replica) and repaired from a peer; in a
// closed segment and in the segment being written.
func TestRepairOnRead(t *testing.T) {
	tr := newTrio(t)
	var logs syncBuffer
	tr.reopenB(t, &logs, func(vfs.FS) {})
	waitScrubbed(t, tr.s[1]) // a flip before the check would be found by it, not by the read
	segs := segFiles(t, tr.fss[1])
	last := segs[len(segs)-1]
	lastStart, _ := parseSegmentName(last)
	if tr.end-lastStart < 200 {
		t.Fatalf("the last segment holds %d bytes; want some", tr.end-lastStart)
	}
	for i, victim := range []string{segs[2], last} {
		start, _ := parseSegmentName(victim)
		off := int64(trioSeg / 3)
		if victim == last {
			off = int64(tr.end-lastStart) / 2
		}
		flip(t, tr.fss[1], victim, off)
		// The read that reaches the damage serves the bytes before it and reports it; the next
		// read refuses the rest, unless the repair (woken by the report) was quicker. Either
		// way no damaged byte is served.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var got []byte
		from := start
		for from < start+page.LSN(off)+1 {
			b, err := tr.s[1].Read(ctx, from, 1<<20, tr.end)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), victim) {
					t.Fatalf("read across the damage in %s: %v", victim, err)
				}
				break
			}
			got = append(got, b...)
			from += page.LSN(len(b))
		}
		cancel()
		if want := readAll(t, tr.s[0], start, from); !bytes.Equal(got, want) {
			t.Fatalf("read across the damage in %s served bytes that differ from a peer's", victim)
		}
		waitRepairs(t, tr.s[1], uint64(i+1), &logs)
		if !strings.Contains(logs.String(), victim) {
			t.Fatalf("damage in %s not reported:\n%s", victim, logs.String())
		}
		tr.checkSame(t)
	}
}

// TestRepairLastSegment: at open, damage in the last segment below what the store had synced
// (its state file says how far) is bit rot: kept, refused and repaired. Damage beyond it is a
// torn tail: cut, as after a crash, never filled from a peer (the writer refills it).
func TestRepairLastSegment(t *testing.T) {
	tr := newTrio(t)
	segs := segFiles(t, tr.fss[1])
	last := segs[len(segs)-1]
	lastStart, _ := parseSegmentName(last)
	size := int64(tr.end - lastStart)

	// Synced bytes (Close recorded the end): repaired, nothing lost.
	var logs syncBuffer
	tr.reopenB(t, &logs, func(fs vfs.FS) { flip(t, fs, last, size/2) })
	waitRepairs(t, tr.s[1], 1, &logs)
	tr.checkSame(t)

	// The same damage beyond the synced mark (as after a crash that left unsynced bytes on disk):
	// cut at the damaged record.
	var logs2 syncBuffer
	var mark page.LSN
	tr.reopenB(t, &logs2, func(fs vfs.FS) {
		st, err := readState(fs, "ls")
		if err != nil {
			t.Fatal(err)
		}
		b := fileBytes(t, fs, last)
		starts, _, _, _ := scanRecords(b)
		mark = lastStart + page.LSN(starts[1]) // only the first record was synced
		st.Synced = mark
		if err := writeState(fs, "ls", st); err != nil {
			t.Fatal(err)
		}
		flip(t, fs, last, size/2)
	})
	st := tr.s[1].Status()
	if st.End >= tr.end || st.End < mark || len(st.Damaged) != 0 {
		t.Fatalf("torn tail: end %d (was %d, mark %d), damaged %v", st.End, tr.end, mark, st.Damaged)
	}
	if !strings.Contains(logs2.String(), "unsynced tail") {
		t.Fatalf("cut not reported:\n%s", logs2.String())
	}
	time.Sleep(100 * time.Millisecond)
	if n := tr.s[1].Repairs(); n != 0 {
		t.Fatalf("%d repairs of a torn tail", n)
	}
	got := readAll(t, tr.s[1], redo.StartLSN, st.End)
	if want := readAll(t, tr.s[0], redo.StartLSN, st.End); !bytes.Equal(got, want) {
		t.Fatal("the kept log differs from the peer's")
	}
}

// TestRepairNoSource: a range that no peer can supply (the only peer's log disagrees) stays
// refused and is reported.
func TestRepairNoSource(t *testing.T) {
	tr := newTrio(t)
	tr.addrs = tr.addrs[1:] // only C
	// C's log is another writer's from the middle on, with a different epoch.
	if _, err := tr.s[2].Seal(2, true); err != nil {
		t.Fatal(err)
	}
	all := readAll(t, tr.s[2], redo.StartLSN, tr.end)
	var at page.LSN
	for off := 0; off < len(all)/2; {
		r, n, err := redo.Decode(all[off:])
		if err != nil {
			t.Fatal(err)
		}
		off += n
		if r.GroupEnd() {
			at = redo.StartLSN + page.LSN(off)
		}
	}
	if _, err := tr.s[2].Adopt(2, at, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}, {Epoch: 2, Start: at}}, 0); err != nil {
		t.Fatal(err)
	}
	appendGroups(t, tr.s[2], 2, 1000, 40, 150)
	segs := segFiles(t, tr.fss[1])
	var logs syncBuffer
	tr.reopenB(t, &logs, func(fs vfs.FS) { flip(t, fs, segs[len(segs)-2], 100) })
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "not repaired") {
		if time.Now().After(deadline) {
			t.Fatalf("no report of the unrepaired range:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "agrees with this one only up to") {
		t.Fatalf("the reason is not reported:\n%s", logs.String())
	}
	st := tr.s[1].Status()
	if len(st.Damaged) != 1 || tr.s[1].Repairs() != 0 {
		t.Fatalf("damaged %v, repairs %d", st.Damaged, tr.s[1].Repairs())
	}
	_, err := tr.s[1].Read(context.Background(), st.Damaged[0].Lo, 100, tr.end)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of the unrepaired range: %v", err)
	}
}
