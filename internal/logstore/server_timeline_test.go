package logstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logapi"
	"strata/internal/logapi/logstorepb"
	"strata/internal/logstore/logtest"
	"strata/internal/page"
	"strata/internal/quorum"
	"strata/internal/redo"
)

// served is a store on a MemFS served over loopback gRPC, with a client.
type served struct {
	fs    vfs.FS
	store *Store
	srv   *Server
	c     logstorepb.LogStoreClient
	conn  *grpc.ClientConn
	addr  string
}

func serve(t *testing.T, fs vfs.FS) *served {
	t.Helper()
	return serveOpts(t, Options{FS: fs, Dir: "ls", SegmentSize: 2 << 10, Logger: quiet()})
}

func serveOpts(t *testing.T, opts Options) *served {
	t.Helper()
	st, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	sv := &served{fs: opts.FS, store: st}
	srv, err := NewServer(sv.store, testSecret, opts.Logger)
	if err != nil {
		t.Fatal(err)
	}
	sv.srv = srv
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	dial, err := logapi.DialOptions(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if sv.conn, err = grpc.NewClient(l.Addr().String(), dial...); err != nil {
		t.Fatal(err)
	}
	sv.c = logstorepb.NewLogStoreClient(sv.conn)
	sv.addr = l.Addr().String()
	t.Cleanup(sv.stop)
	return sv
}

func (sv *served) stop() {
	if sv.srv == nil {
		return
	}
	_ = sv.conn.Close()
	_ = sv.srv.Stop()
	_ = sv.store.Close()
	sv.srv = nil
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// appendOn streams data (whole groups) to timeline tl from start with epoch and waits for the
// acknowledgement of its end.
func appendOn(t *testing.T, c logstorepb.LogStoreClient, tl, epoch uint64, start page.LSN, data []byte) {
	t.Helper()
	stream, err := c.Append(ctx5(t))
	if err != nil {
		t.Fatal(err)
	}
	end := start + page.LSN(len(data))
	if err := stream.Send(&logstorepb.AppendRequest{Timeline: tl, Epoch: epoch, Start: uint64(start), Data: data,
		Complete: true, Committed: uint64(end)}); err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("append on timeline %d: %v", tl, err)
		}
		if resp.GetRefusal() != logstorepb.Refusal_REFUSAL_NONE {
			t.Fatalf("append on timeline %d refused: %s", tl, resp.GetDetail())
		}
		if page.LSN(resp.GetDurable()) >= end {
			break
		}
	}
	_ = stream.CloseSend()
}

// readOn reads [from, to) of timeline tl.
func readOn(c logstorepb.LogStoreClient, ctx context.Context, tl uint64, from, to page.LSN) ([]byte, error) {
	var out []byte
	for from < to {
		stream, err := c.Read(ctx, &logstorepb.ReadRequest{Timeline: tl, From: uint64(from), Limit: uint64(to)})
		if err != nil {
			return nil, err
		}
		resp, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		out = append(out, resp.GetData()...)
		from += page.LSN(len(resp.GetData()))
	}
	return out, nil
}

func groups(first uint64, n int) []byte {
	var out []byte
	for i := range n {
		out = append(out, logtest.Group(3, first+uint64(i), 150)...)
	}
	return out
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: %v, want %v", what, err, code)
	}
}

// TestTimelineUnknownAndInvalid: a timeline the store does not hold is NotFound for reads,
// status, truncation and appends, and none of them creates it; a timeline number beyond
// logapi.MaxTimeline is InvalidArgument, even for a writer's call.
func TestTimelineUnknownAndInvalid(t *testing.T) {
	sv := serve(t, vfs.NewMem())
	ctx := ctx5(t)
	_, err := sv.c.GetStatus(ctx, &logstorepb.StatusRequest{Timeline: 5})
	wantCode(t, "status of an unknown timeline", err, codes.NotFound)
	_, err = readOn(sv.c, ctx, 5, redo.StartLSN, redo.StartLSN+10)
	wantCode(t, "read of an unknown timeline", err, codes.NotFound)
	_, err = sv.c.Truncate(ctx, &logstorepb.TruncateRequest{Timeline: 5, Before: 1000})
	wantCode(t, "truncate of an unknown timeline", err, codes.NotFound)
	stream, err := sv.c.Append(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&logstorepb.AppendRequest{Timeline: 5, Epoch: 1, Start: uint64(redo.StartLSN)})
	_, err = stream.Recv()
	wantCode(t, "append to an unknown timeline", err, codes.NotFound)
	if _, err := sv.fs.Stat(TimelineDir(sv.fs, "ls", 5)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the unknown timeline's directory: %v", err)
	}
	if n := sv.srv.Timelines(); n != 0 {
		t.Fatalf("%d timelines", n)
	}

	bad := uint64(logapi.MaxTimeline) + 1
	_, err = sv.c.GetStatus(ctx, &logstorepb.StatusRequest{Timeline: bad})
	wantCode(t, "status of a bad timeline", err, codes.InvalidArgument)
	_, err = sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: bad, Epoch: 1})
	wantCode(t, "seal of a bad timeline", err, codes.InvalidArgument)
	_, err = sv.c.StartAt(ctx, &logstorepb.StartAtRequest{Timeline: 1 << 63, Epoch: 1, At: 1000,
		History: logapi.TermsToPB([]quorum.Term{{Epoch: 1, Start: 1000}}), Committed: 1000})
	wantCode(t, "start of a bad timeline", err, codes.InvalidArgument)
	_, err = sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: 5, Epoch: 0})
	wantCode(t, "seal with epoch 0", err, codes.InvalidArgument)
	if n := sv.srv.Timelines(); n != 0 {
		t.Fatalf("%d timelines after refused calls", n)
	}
	// Timeline 0, the store's own, is there as always.
	if _, err := sv.c.GetStatus(ctx, &logstorepb.StatusRequest{}); err != nil {
		t.Fatal(err)
	}
}

// TestTimelineCreatedAtBranchPoint: a branch's writer starts its timeline at B with StartAt on
// a store that never held it; the log reads from B, refuses reads below B as a truncated log
// does, and survives a restart of the store, which opens it again. Timeline 0 is untouched.
func TestTimelineCreatedAtBranchPoint(t *testing.T) {
	fs := vfs.NewMem()
	sv := serve(t, fs)
	ctx := ctx5(t)
	main := groups(1, 5)
	h0 := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}}
	if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Epoch: 1, NewEpoch: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.c.Adopt(ctx, &logstorepb.AdoptRequest{Epoch: 1, At: uint64(redo.StartLSN), History: logapi.TermsToPB(h0)}); err != nil {
		t.Fatal(err)
	}
	appendOn(t, sv.c, 0, 1, redo.StartLSN, main)

	const tl = 7
	b := redo.StartLSN + page.LSN(len(main)) // the branch point: a group end of the parent
	h := []quorum.Term{{Epoch: 1, Start: b}}
	st, err := sv.c.StartAt(ctx, &logstorepb.StartAtRequest{Timeline: tl, Epoch: 1, At: uint64(b), History: logapi.TermsToPB(h), Committed: uint64(b)})
	if err != nil {
		t.Fatal(err)
	}
	if got := logapi.StatusFromPB(st); got.Start != b || got.First != b || got.Durable != b || got.Promised != 1 {
		t.Fatalf("new timeline: %+v", got)
	}
	if fi, err := fs.Stat(TimelineDir(fs, "ls", tl)); err != nil || !fi.IsDir() {
		t.Fatalf("timeline directory: %v", err)
	}
	branch := groups(100, 8)
	appendOn(t, sv.c, tl, 1, b, branch)
	end := b + page.LSN(len(branch))
	if got, err := readOn(sv.c, ctx, tl, b, end); err != nil || !bytes.Equal(got, branch) {
		t.Fatalf("branch read: %v", err)
	}
	_, err = readOn(sv.c, ctx, tl, redo.StartLSN, b)
	wantCode(t, "read below the branch point", err, codes.OutOfRange)
	if got, err := readOn(sv.c, ctx, 0, redo.StartLSN, b); err != nil || !bytes.Equal(got, main) {
		t.Fatalf("main read: %v", err)
	}
	if st := sv.store.Status(); st.Durable != b {
		t.Fatalf("timeline 0 after the branch's appends: %+v", st)
	}

	// A stream keeps the timeline of its first request.
	stream, err := sv.c.Append(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&logstorepb.AppendRequest{Timeline: tl, Epoch: 1, Start: uint64(end)})
	_ = stream.Send(&logstorepb.AppendRequest{Timeline: 0, Epoch: 1, Start: uint64(end)})
	for err == nil {
		_, err = stream.Recv()
	}
	wantCode(t, "a second timeline on a stream", err, codes.InvalidArgument)

	// Restart: the timeline is opened again with its log.
	sv.stop()
	sv = serve(t, fs)
	if n := sv.srv.Timelines(); n != 1 {
		t.Fatalf("%d timelines after the restart", n)
	}
	st, err = sv.c.GetStatus(ctx, &logstorepb.StatusRequest{Timeline: tl})
	if err != nil {
		t.Fatal(err)
	}
	if got := logapi.StatusFromPB(st); got.Start != b || got.First != b || got.Durable != end || got.Committed != end {
		t.Fatalf("timeline after the restart: %+v", got)
	}
	if got, err := readOn(sv.c, ctx, tl, b, end); err != nil || !bytes.Equal(got, branch) {
		t.Fatalf("branch read after the restart: %v", err)
	}
	_, err = readOn(sv.c, ctx, tl, b-1, b)
	wantCode(t, "read below the branch point after the restart", err, codes.OutOfRange)
	if st := sv.store.Status(); st.Durable != b {
		t.Fatalf("timeline 0 after the restart: %+v", st)
	}
}

// TestTimelineEpochsIndependent: sealing one timeline with a new epoch fences that timeline's
// writer only; a writer of another timeline with an older epoch goes on.
func TestTimelineEpochsIndependent(t *testing.T) {
	sv := serve(t, vfs.NewMem())
	ctx := ctx5(t)
	start := func(tl, epoch uint64) {
		t.Helper()
		h := []quorum.Term{{Epoch: epoch, Start: redo.StartLSN}}
		if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: tl, Epoch: epoch, NewEpoch: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := sv.c.Adopt(ctx, &logstorepb.AdoptRequest{Timeline: tl, Epoch: epoch, At: uint64(redo.StartLSN), History: logapi.TermsToPB(h)}); err != nil {
			t.Fatal(err)
		}
	}
	start(3, 2) // a Seal creates the timeline
	start(4, 9)
	a, b := groups(1, 3), groups(50, 4)
	appendOn(t, sv.c, 3, 2, redo.StartLSN, a)
	appendOn(t, sv.c, 4, 9, redo.StartLSN, b)
	// A new writer of timeline 4 (epoch 10): timeline 3's writer, epoch 2, is not fenced.
	start(4, 10)
	appendOn(t, sv.c, 3, 2, redo.StartLSN+page.LSN(len(a)), a)
	stream, err := sv.c.Append(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.Send(&logstorepb.AppendRequest{Timeline: 4, Epoch: 9, Start: uint64(redo.StartLSN) + uint64(len(b)), Data: a, Complete: true})
	resp, err := stream.Recv()
	if err != nil || resp.GetRefusal() != logstorepb.Refusal_REFUSAL_STALE_EPOCH {
		t.Fatalf("timeline 4's old writer: %v, %v", resp, err)
	}
	for tl, want := range map[uint64]uint64{0: 0, 3: 2, 4: 10} {
		st, err := sv.c.GetStatus(ctx, &logstorepb.StatusRequest{Timeline: tl})
		if err != nil || st.GetPromised() != want {
			t.Fatalf("timeline %d: promised %d, %v; want %d", tl, st.GetPromised(), err, want)
		}
	}
	if got, err := readOn(sv.c, ctx, 3, redo.StartLSN, redo.StartLSN+page.LSN(2*len(a))); err != nil || !bytes.Equal(got, append(a, a...)) {
		t.Fatalf("timeline 3: %v", err)
	}
}

// TestTimelineLimit: a server holds at most its bound of timelines; a writer's call for one
// more is ResourceExhausted, and the existing ones are served.
func TestTimelineLimit(t *testing.T) {
	sv := serve(t, vfs.NewMem())
	sv.srv.SetMaxTimelines(2)
	ctx := ctx5(t)
	for _, tl := range []uint64{1, 2} {
		if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: tl, Epoch: 1}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: 3, Epoch: 1})
	wantCode(t, "a third timeline", err, codes.ResourceExhausted)
	if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: 2, Epoch: 1}); err != nil {
		t.Fatalf("an existing timeline at the bound: %v", err)
	}
	if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Epoch: 1}); err != nil {
		t.Fatalf("timeline 0 at the bound: %v", err)
	}
}

// TestTimelineTruncateIndependent: truncating one timeline leaves the others' segments.
func TestTimelineTruncateIndependent(t *testing.T) {
	sv := serve(t, vfs.NewMem())
	ctx := ctx5(t)
	var data [2][]byte
	for i, tl := range []uint64{1, 2} {
		h := []quorum.Term{{Epoch: 1, Start: redo.StartLSN}}
		if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: tl, Epoch: 1, NewEpoch: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := sv.c.Adopt(ctx, &logstorepb.AdoptRequest{Timeline: tl, Epoch: 1, At: uint64(redo.StartLSN), History: logapi.TermsToPB(h)}); err != nil {
			t.Fatal(err)
		}
		for j := range 8 { // several 2 KiB segments: a new one after a batch fills one
			g := groups(uint64(100*i+5*j), 5)
			appendOn(t, sv.c, tl, 1, redo.StartLSN+page.LSN(len(data[i])), g)
			data[i] = append(data[i], g...)
		}
	}
	end := redo.StartLSN + page.LSN(len(data[0]))
	st, err := sv.c.Truncate(ctx, &logstorepb.TruncateRequest{Timeline: 1, Before: uint64(end - 1000)})
	if err != nil {
		t.Fatal(err)
	}
	if st.GetFirst() <= uint64(redo.StartLSN) {
		t.Fatalf("timeline 1 not truncated: first %d", st.GetFirst())
	}
	_, err = readOn(sv.c, ctx, 1, redo.StartLSN, end)
	wantCode(t, "read of timeline 1 below its first", err, codes.OutOfRange)
	got, err := readOn(sv.c, ctx, 2, redo.StartLSN, redo.StartLSN+page.LSN(len(data[1])))
	if err != nil || !bytes.Equal(got, data[1]) {
		t.Fatalf("timeline 2 after timeline 1's truncation: %v", err)
	}
}

// TestTimelineStoreRefusesSecondServer: NewServer wants timeline 0's store.
func TestTimelineStoreRefusesSecondServer(t *testing.T) {
	s, err := Open(Options{FS: vfs.NewMem(), Dir: "ls", Timeline: 3, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := NewServer(s, testSecret, quiet()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a server over timeline 3's store: %v", err)
	}
	if _, err := Open(Options{FS: vfs.NewMem(), Dir: "ls", Timeline: logapi.MaxTimeline + 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a store of a bad timeline: %v", err)
	}
}

// TestTimelineRepairFromPeers: damage in a timeline's closed segment is repaired from the same
// timeline on the peers, over the connections of timeline 0's store; the peers' timeline 0 holds
// another log, which would be refused as a source.
func TestTimelineRepairFromPeers(t *testing.T) {
	const tl = 6
	ctx := ctx5(t)
	var batches [][]byte
	var data []byte
	for i := range 8 {
		batches = append(batches, groups(uint64(5*i), 5))
		data = append(data, batches[i]...)
	}
	write := func(sv *served) {
		t.Helper()
		writeLog(t, sv, tl, 1, batches)
		writeLog(t, sv, 0, 4, [][]byte{groups(200, 3)}) // another log on timeline 0
	}
	fsB := vfs.NewMem()
	a, c, b := serve(t, vfs.NewMem()), serve(t, vfs.NewMem()), serve(t, fsB)
	for _, sv := range []*served{a, c, b} {
		write(sv)
	}
	b.stop()
	dir := TimelineDir(fsB, "ls", tl)
	names, err := fsB.List(dir)
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
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %v", segs)
	}
	flipIn(t, fsB, fsB.PathJoin(dir, segs[1]), 500)
	var logs syncBuffer
	b = serveOpts(t, Options{FS: fsB, Dir: "ls", SegmentSize: 2 << 10, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Peers: []string{a.addr, c.addr}, Secret: testSecret, RepairInterval: 20 * time.Millisecond})
	st, err := b.srv.Timeline(tl)
	if err != nil {
		t.Fatal(err)
	}
	waitRepairs(t, st, 1, &logs)
	end := redo.StartLSN + page.LSN(len(data))
	if got, err := readOn(b.c, ctx, tl, redo.StartLSN, end); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("timeline %d after repair: %v\n%s", tl, err, &logs)
	}
	if b.store.Repairs() != 0 {
		t.Fatal("timeline 0 repaired")
	}
}

// writeLog makes epoch the writer of timeline tl, empty on sv, and appends the batches to it,
// each made durable before the next (so that batches of about a segment span segments).
func writeLog(t *testing.T, sv *served, tl, epoch uint64, batches [][]byte) {
	t.Helper()
	ctx := ctx5(t)
	h := []quorum.Term{{Epoch: epoch, Start: redo.StartLSN}}
	if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: tl, Epoch: epoch, NewEpoch: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.c.Adopt(ctx, &logstorepb.AdoptRequest{Timeline: tl, Epoch: epoch, At: uint64(redo.StartLSN), History: logapi.TermsToPB(h)}); err != nil {
		t.Fatal(err)
	}
	at := redo.StartLSN
	for _, b := range batches {
		appendOn(t, sv.c, tl, epoch, at, b)
		at += page.LSN(len(b))
	}
}

// flipIn flips a bit of the byte at off in file path.
func flipIn(t *testing.T, fs vfs.FS, path string, off int64) {
	t.Helper()
	f, err := fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified)
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

// TestTimelineDrop: dropping a timeline closes its store and removes its directory; its calls
// then find no such timeline, and the others and timeline 0 are untouched.
func TestTimelineDrop(t *testing.T) {
	sv := serve(t, vfs.NewMem())
	ctx := ctx5(t)
	for _, tl := range []uint64{3, 4} {
		if _, err := sv.c.Seal(ctx, &logstorepb.SealRequest{Timeline: tl, Epoch: 1, NewEpoch: true}); err != nil {
			t.Fatal(err)
		}
	}
	if got := sv.srv.TimelineNumbers(); !slices.Equal(got, []uint64{3, 4}) {
		t.Fatalf("timelines: %v", got)
	}
	if err := sv.srv.DropTimeline(3); err != nil {
		t.Fatal(err)
	}
	if _, err := sv.fs.Stat(TimelineDir(sv.fs, "ls", 3)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dropped timeline's directory: %v", err)
	}
	_, err := sv.c.GetStatus(ctx, &logstorepb.StatusRequest{Timeline: 3})
	wantCode(t, "status of a dropped timeline", err, codes.NotFound)
	if _, err := sv.c.GetStatus(ctx, &logstorepb.StatusRequest{Timeline: 4}); err != nil {
		t.Fatalf("the other timeline: %v", err)
	}
	if err := sv.srv.DropTimeline(0); err == nil {
		t.Fatal("timeline 0 was dropped")
	}
	if err := sv.srv.DropTimeline(3); err != nil {
		t.Fatalf("dropping it again: %v", err)
	}
}
