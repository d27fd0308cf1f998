package archive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage/memstore"
)

// flaky is a backend whose Puts fail while down is set.
type flaky struct {
	Backend
	down atomic.Bool
}

func (f *flaky) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if f.down.Load() {
		return errors.New("flaky: the store is unreachable")
	}
	return f.Backend.Put(ctx, key, r, size)
}

// appendGroups appends n groups of random sizes (some larger than a chunk) to log.
func appendGroups(t *testing.T, log *memstore.Log, rng *rand.Rand, n int) {
	t.Helper()
	for i := range n {
		g := redo.NewGroup()
		for range 1 + rng.IntN(4) {
			g.Insert(page.ID(2+rng.IntN(20)), 0, bytes.Repeat([]byte{byte(i)}, 1+rng.IntN(3000)))
		}
		g.Commit(uint64(i), int64(1_700_000_000_000_000+i))
		if _, _, err := log.Append(g.Bytes(), true); err != nil {
			t.Fatal(err)
		}
	}
}

func waitArchived(t *testing.T, a *LogArchiver, lsn page.LSN) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.Archived() < lsn {
		if time.Now().After(deadline) {
			t.Fatalf("archived %d, want %d (err %v)", a.Archived(), lsn, a.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLogArchiver: the log is archived as contiguous chunks that each end at a group end
// (cut by size, or by age when the log goes quiet), read back byte for byte; an archiver
// started again goes on where the archive ends; an unreachable store holds the archived end
// back, with an error to report, until it is reachable again; a damaged or missing chunk is
// an error.
func TestLogArchiver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	local, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	back := &flaky{Backend: local}
	st := NewStore(back)
	log := memstore.NewLog()
	rng := rand.New(rand.NewPCG(5, 6))
	opts := LogArchiverOptions{Store: st, Log: log, ChunkBytes: 8 << 10, ChunkDelay: 50 * time.Millisecond, Logger: discardLogger()}
	start := func() (*LogArchiver, context.CancelFunc, chan error) {
		a, err := NewLogArchiver(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		actx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(actx) }()
		return a, stop, done
	}
	a, stop, done := start()
	appendGroups(t, log, rng, 60)
	waitArchived(t, a, log.Durable())
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}

	// Started again, it goes on; a quiet log is archived after the delay.
	a, stop, done = start()
	if a.Archived() != log.Durable() {
		t.Fatalf("a new archiver starts at %d, the archive ends at %d", a.Archived(), log.Durable())
	}
	appendGroups(t, log, rng, 3)
	waitArchived(t, a, log.Durable())

	// Unreachable: the end stays, the error says why; then it catches up.
	back.down.Store(true)
	before := a.Archived()
	appendGroups(t, log, rng, 20)
	time.Sleep(300 * time.Millisecond)
	if a.Archived() != before || a.Err() == nil {
		t.Fatalf("while the store is down: archived %d (was %d), err %v", a.Archived(), before, a.Err())
	}
	back.down.Store(false)
	waitArchived(t, a, log.Durable())
	if a.Err() != nil {
		t.Fatalf("after the store came back: %v", a.Err())
	}
	stop()
	<-done

	chunks, err := st.LogChunks(ctx, 0)
	if err != nil || len(chunks) < 5 {
		t.Fatalf("chunks: %d, %v", len(chunks), err)
	}
	for _, c := range chunks {
		b, err := st.GetAll(ctx, c.Key, int64(c.End-c.Start))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := redo.Scan(b, nil); err != nil || n != len(b) {
			t.Fatalf("chunk %s does not end at a group end: %d of %d, %v", c.Key, n, len(b), err)
		}
	}
	got, err := st.ReadLog(ctx, 0, redo.StartLSN, log.Durable())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, log.Bytes()) {
		t.Fatal("the archived log differs from the log")
	}
	if _, err := st.ReadLog(ctx, 0, redo.StartLSN, log.Durable()+1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("reading past the archive: %v", err)
	}

	// A damaged chunk, then a missing one.
	mid := chunks[len(chunks)/2]
	raw, err := local.Get(ctx, mid.Key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(raw)
	raw.Close()
	b[len(b)/2] ^= 1
	if err := local.Put(ctx, mid.Key, bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ReadLog(ctx, 0, redo.StartLSN, log.Durable()); !errors.Is(err, ErrDamaged) {
		t.Fatalf("a damaged chunk: %v", err)
	}
	if err := local.Delete(ctx, mid.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := st.LogChunks(ctx, 0); err == nil {
		t.Fatal("a hole in the archived log went unnoticed")
	}
	if _, err := NewLogArchiver(ctx, opts); err == nil {
		t.Fatal("an archiver started over an archive with a hole")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// rpcLog answers a read whose wait ended as a remote read does: with an error of its own, not
// the context's.
type rpcLog struct{ *memstore.Log }

func (l rpcLog) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	b, err := l.Log.Read(ctx, from, max)
	if err != nil && ctx.Err() != nil {
		return nil, errors.New("rpc error: code = DeadlineExceeded desc = context deadline exceeded")
	}
	return b, err
}

// A quiet log read remotely (the archiver behind the writer's buffer) is still archived once
// its pending bytes are due: the end of a wait is not taken for a failure to read.
func TestLogArchiverRemoteWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	local, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	log := memstore.NewLog()
	a, err := NewLogArchiver(ctx, LogArchiverOptions{Store: NewStore(local), Log: rpcLog{log}, ChunkBytes: 1 << 20,
		ChunkDelay: 50 * time.Millisecond, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.Run(ctx) }()
	appendGroups(t, log, rand.New(rand.NewPCG(7, 8)), 10)
	waitArchived(t, a, log.Durable())
	if err := a.Err(); err != nil {
		t.Fatalf("the end of a wait was reported: %v", err)
	}
}
