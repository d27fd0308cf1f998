package logclient

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"strata/internal/logapi/logstorepb"
	"strata/internal/logstore"
	"strata/internal/logstore/logtest"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/rpcauth"
)

func newTestReader(t *testing.T, addrs []string, mod func(*ReaderOptions)) *Reader {
	t.Helper()
	opts := ReaderOptions{Addrs: addrs, Secret: secret, Logger: quiet(), PollInterval: 50 * time.Millisecond,
		StallTimeout: 300 * time.Millisecond}
	if mod != nil {
		mod(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := NewReader(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// follower reads a Reader from a position in the background of a test.
type follower struct {
	r    *Reader
	next page.LSN
	got  []byte
}

// readTo reads until it has everything below end, checking that each read ends at a record
// boundary of what was written and that Durable is never below what was read.
func (f *follower) readTo(t *testing.T, end page.LSN) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	for f.next < end {
		b, err := f.r.Read(ctx, f.next, 1<<20)
		if err != nil {
			t.Fatalf("read from %d (want up to %d): %v", f.next, end, err)
		}
		f.next += page.LSN(len(b))
		f.got = append(f.got, b...)
		if d := f.r.Durable(); d < f.next {
			t.Fatalf("Durable %d below what was read, %d", d, f.next)
		}
		if n, _ := wholeRecords(f.got); n != len(f.got) {
			t.Fatalf("a read ended inside a record at %d", f.next)
		}
	}
}

// TestReaderFollows: a follower sees exactly the bytes the writer made durable, in order,
// each group whole, and Durable reaches the writer's committed end.
func TestReaderFollows(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.Close()
	w := newWriter(l)
	f := &follower{r: newTestReader(t, c.addrs(), nil), next: w.base}
	ctx := context.Background()
	for round := range 5 {
		for i := range 30 {
			if err := w.commit(ctx, logtest.Group(page.ID(i%3+1), uint64(round*100+i), 50+i*7)); err != nil {
				t.Fatal(err)
			}
		}
		f.readTo(t, l.End())
		if f.next != l.End() || !bytes.Equal(f.got, w.data) {
			t.Fatalf("round %d: the follower read other bytes than were committed", round)
		}
		if _, last := wholeRecords(f.got); !last {
			t.Fatalf("round %d: the follower's bytes do not end at a group end", round)
		}
	}
	waitFor(t, 5*time.Second, "Durable to reach the end", func() bool { return f.r.Durable() == l.End() })
	// Nothing more is committed: a read waits.
	rctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if b, err := f.r.Read(rctx, f.next, 100); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past the committed end: %d bytes, %v", len(b), err)
	}
	// Reading again from an earlier position restarts there.
	b, err := f.r.Read(ctx, w.base, 1<<20)
	if err != nil || !bytes.HasPrefix(w.data, b) || len(b) == 0 {
		t.Fatalf("re-read from the start: %d bytes, %v", len(b), err)
	}
	if err := f.r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.r.Read(ctx, f.next, 100); err == nil {
		t.Fatal("read after Close")
	}
}

// TestReaderFailover: the store being followed is stopped while the writer goes on; the
// follower continues from another store with no gap and no duplicate.
func TestReaderFailover(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.Close()
	w := newWriter(l)
	r := newTestReader(t, c.addrs(), nil)
	f := &follower{r: r, next: w.base}
	ctx := context.Background()
	for i := range 50 {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
	}
	f.readTo(t, l.End())
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	if cur < 0 {
		t.Fatal("the reader follows no store")
	}
	var stopped *node
	for _, n := range c.nodes {
		if n.addr == r.srcs[cur].addr {
			stopped = n
		}
	}
	stopped.stop()
	for i := 50; i < 150; i++ {
		if err := w.commit(ctx, logtest.Group(2, uint64(i), 300)); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			f.readTo(t, l.End())
		}
	}
	f.readTo(t, l.End())
	if !bytes.Equal(f.got, w.data) {
		t.Fatal("after failover the follower read other bytes than were committed")
	}
	r.mu.Lock()
	now := r.cur
	r.mu.Unlock()
	if now == cur {
		t.Fatal("still following the stopped store")
	}
}

// TestReaderWrongSecret: a reader with the wrong secret is refused at once.
func TestReaderWrongSecret(t *testing.T) {
	c := newCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := NewReader(ctx, ReaderOptions{Addrs: c.addrs(), Secret: "wrong", Logger: quiet()})
	if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), c.nodes[0].addr) {
		t.Fatalf("NewReader with the wrong secret: %v", err)
	}
}

// TestReaderTruncated: reading below the stores' first retained LSN is ErrTruncated.
func TestReaderTruncated(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.Close()
	w := newWriter(l)
	ctx := context.Background()
	for i := range 300 { // about 150 KiB: several 64 KiB segments
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 500)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.nodes {
		checkStore(t, n, w)
	}
	if err := l.Truncate(l.End()); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		waitFor(t, 5*time.Second, "truncation", func() bool { return n.store.Status().First > redo.StartLSN })
	}
	r := newTestReader(t, c.addrs(), nil)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.Read(rctx, redo.StartLSN, 100); !errors.Is(err, ErrTruncated) {
		t.Fatalf("read below the first retained LSN: %v", err)
	}
	// From the first retained LSN it reads.
	first := c.nodes[0].store.Status().First
	if b, err := r.Read(rctx, first, 100); err != nil || len(b) == 0 {
		t.Fatalf("read at the first retained LSN %d: %d bytes, %v", first, len(b), err)
	}
}

// badStore serves one store's log over gRPC, "damaged" (a byte flipped in every answer),
// "stalled" (Read never answers) or "misplaced" (answers labelled one byte off).
type badStore struct {
	*logstore.Server
	st   *logstore.Store
	mode string
}

func (b badStore) Read(req *logstorepb.ReadRequest, stream logstorepb.LogStore_ReadServer) error {
	if b.mode == "stalled" {
		<-stream.Context().Done()
		return stream.Context().Err()
	}
	from := page.LSN(req.GetFrom())
	for {
		d, err := b.st.Read(stream.Context(), from, int(req.GetMax()), 0)
		if err != nil {
			return err
		}
		d = bytes.Clone(d)
		start := uint64(from)
		if b.mode == "damaged" {
			d[len(d)/2] ^= 0x40
		} else {
			start++
		}
		if err := stream.Send(&logstorepb.ReadResponse{Start: start, Data: d}); err != nil {
			return err
		}
		from += page.LSN(len(d))
	}
}

// serveBad serves n's store through a badStore on loopback and returns its address.
func serveBad(t *testing.T, n *node, mode string) string {
	t.Helper()
	opts, err := rpcauth.ServerOptions(secret)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(opts...)
	logstorepb.RegisterLogStoreServer(g, badStore{Server: n.srv, st: n.store, mode: mode})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	return lis.Addr().String()
}

// TestReaderBadStore: a store that sends damaged records, answers at the wrong LSN, or sends
// nothing while the others have more, is left for another one; the follower still reads
// exactly the log.
func TestReaderBadStore(t *testing.T) {
	for _, name := range []string{"damaged", "misplaced", "stalled"} {
		t.Run(name, func(t *testing.T) {
			c := newCluster(t)
			l := c.mustOpen(1, nil)
			defer l.Close()
			w := newWriter(l)
			ctx := context.Background()
			for i := range 40 {
				if err := w.commit(ctx, logtest.Group(1, uint64(i), 200)); err != nil {
					t.Fatal(err)
				}
			}
			bad := serveBad(t, c.nodes[0], name)
			// The bad store comes first: the reader starts with it.
			f := &follower{r: newTestReader(t, []string{bad, c.nodes[1].addr, c.nodes[2].addr}, nil), next: w.base}
			f.readTo(t, l.End())
			for i := 40; i < 80; i++ {
				if err := w.commit(ctx, logtest.Group(1, uint64(i), 200)); err != nil {
					t.Fatal(err)
				}
			}
			f.readTo(t, l.End())
			if !bytes.Equal(f.got, w.data) {
				t.Fatalf("%s store: the follower read other bytes than were committed", name)
			}
			f.r.mu.Lock()
			avoided, cur := time.Now().Before(f.r.srcs[0].avoidUntil), f.r.cur
			f.r.mu.Unlock()
			if !avoided || cur == 0 {
				t.Fatalf("%s store: not avoided (following %d)", name, cur)
			}
		})
	}
}

// TestReaderAllDown: with every store gone, Read reports ErrUnavailable after FailAfter, and
// reads again once a store is back (and the writer has told it what is committed).
func TestReaderAllDown(t *testing.T) {
	c := newCluster(t)
	l := c.mustOpen(1, nil)
	defer l.abort()
	w := newWriter(l)
	ctx := context.Background()
	for i := range 10 {
		if err := w.commit(ctx, logtest.Group(1, uint64(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	end := l.End()
	r := newTestReader(t, c.addrs(), func(o *ReaderOptions) { o.FailAfter = 300 * time.Millisecond })
	f := &follower{r: r, next: w.base}
	f.readTo(t, end)
	for _, n := range c.nodes {
		n.stop()
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := r.Read(rctx, end, 100); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("read with every store down: %v", err)
	}
	c.nodes[1].start(t)
	for {
		b, err := r.Read(rctx, w.base, 1<<20)
		if err == nil && bytes.HasPrefix(w.data, b) {
			break
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("read once a store is back: %d bytes, %v", len(b), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
