package pageserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"strata/internal/page"
	"strata/internal/pageclient"
	"strata/internal/pageserver/pstest"
	"strata/internal/pagestore"
	"strata/internal/storage"
	"strata/internal/storage/memstore"
)

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

// truncatedLog is a log of which nothing below first can be read any more.
type truncatedLog struct {
	*memstore.Log
	first page.LSN
}

func (l truncatedLog) Read(ctx context.Context, from page.LSN, max int) ([]byte, error) {
	if from < l.first {
		return nil, fmt.Errorf("read from %d: the log starts at %d", from, l.first)
	}
	return l.Log.Read(ctx, from, max)
}

// TestDamagedSSTable flips a byte in the middle of the largest sstable of one of three
// replicas and restarts it: its reads fail (never a wrong page) and name the file in its log,
// the client answers every read correctly from the others, and the replica rebuilds itself
// from the log and then answers correctly too.
func TestDamagedSSTable(t *testing.T) { testDamagedSSTable(t, false) }

// TestDamagedSSTableLogTruncated is TestDamagedSSTable when the log no longer holds its
// beginning: the damaged replica fills itself from its peers instead, and then answers like
// them from the position it copied at (below it, ErrCompacted, and the client reads the
// others).
func TestDamagedSSTableLogTruncated(t *testing.T) { testDamagedSSTable(t, true) }

func testDamagedSSTable(t *testing.T, truncated bool) {
	w := newWorkload(t, 1500)
	end := w.Log.End()
	dir := t.TempDir()
	opts := pagestore.Options{Dir: dir, Log: w.Log, Logger: pstest.Discard, CompactInterval: -1, ImageEvery: 8}
	st, err := pagestore.Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	st.Start()
	(&pstest.Replica{Store: st}).WaitConsumed(t, end)
	if err := st.Close(); err != nil { // flushes: the versions are in sstables
		t.Fatal(err)
	}
	victim, size := "", int64(0)
	names, _ := os.ReadDir(dir)
	for _, e := range names {
		if fi, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".sst") && fi.Size() > size {
			victim, size = e.Name(), fi.Size()
		}
	}
	if victim == "" {
		t.Fatalf("no sstable in %s", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, victim))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, victim), b, 0o644); err != nil {
		t.Fatal(err)
	}

	var logs syncBuffer
	a := pstest.StartReplica(t, w.Log, secret, nil)
	c := pstest.StartReplica(t, w.Log, secret, nil)
	a.WaitConsumed(t, end)
	c.WaitConsumed(t, end)
	var damagedLog storage.LogReader = w.Log
	var source pagestore.SegmentSource
	if truncated {
		damagedLog = truncatedLog{Log: w.Log, first: end}
		peers, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{}, Secret: secret, Logger: pstest.Discard})
		if err != nil {
			t.Fatal(err)
		}
		defer peers.Close()
		both := func(context.Context) ([]string, error) { return []string{a.Addr, c.Addr}, nil }
		source = pageclient.Peers{Client: peers, Rest: both,
			Replicas: func(ctx context.Context, _ uint64) ([]string, error) { return both(ctx) }}
	}
	damaged := pstest.StartReplica(t, damagedLog, secret, func(o *pagestore.Options) {
		o.Dir, o.ImageEvery, o.Source = dir, 8, source
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ref := a.Store
	lsns := w.LSNs(15)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The damaged replica itself: an error or the right page, never a wrong one.
	refused := 0
	for _, lsn := range lsns {
		for _, id := range w.IDs {
			var want, got page.Page
			werr := ref.GetPage(ctx, id, lsn, &want)
			err := damaged.Store.GetPage(ctx, id, lsn, &got)
			switch {
			case errors.Is(err, pagestore.ErrDamaged):
				refused++
			case truncated && (errors.Is(err, pagestore.ErrNotOwned) || errors.Is(err, storage.ErrCompacted)):
				// Already wiped: refilling from the peers, or refilled as of the log's end.
			case errors.Is(werr, storage.ErrPageNotFound) && errors.Is(err, storage.ErrPageNotFound):
			case err != nil || werr != nil:
				t.Fatalf("GetPage(%d, %d): %v (reference: %v)", id, lsn, err, werr)
			case got != want:
				t.Fatalf("GetPage(%d, %d): the damaged replica served a wrong page", id, lsn)
			}
		}
	}
	l := logs.String()
	t.Logf("%s (%d bytes): %d reads refused", victim, size, refused)
	if refused == 0 && !strings.Contains(l, "damaged file") {
		t.Fatalf("the damage was not detected; logs:\n%s", l)
	}
	if !strings.Contains(l, "damaged file") || !strings.Contains(l, strings.TrimSuffix(victim, ".sst")) {
		t.Fatalf("the damaged file %s is not reported; logs:\n%s", victim, l)
	}

	// Through the client over the three replicas: every read right.
	cl, err := pageclient.New(pageclient.Options{Placement: pageclient.Static{Default: []string{damaged.Addr, a.Addr, c.Addr}},
		SegmentPages: 4, Secret: secret, Logger: pstest.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	readAll := func() {
		t.Helper()
		for _, lsn := range lsns {
			for _, id := range w.IDs {
				var want, got page.Page
				werr := ref.GetPage(ctx, id, lsn, &want)
				err := cl.GetPage(ctx, id, lsn, &got)
				switch {
				case errors.Is(werr, storage.ErrPageNotFound):
					if !errors.Is(err, storage.ErrPageNotFound) {
						t.Fatalf("GetPage(%d, %d) = %v, want ErrPageNotFound", id, lsn, err)
					}
				case werr != nil || err != nil:
					t.Fatalf("GetPage(%d, %d): %v (reference: %v)", id, lsn, err, werr)
				case got != want:
					t.Fatalf("GetPage(%d, %d): wrong page through the client", id, lsn)
				}
			}
		}
	}
	readAll()

	// The replica rebuilds from the log (or its peers), then serves every page right.
	deadline := time.Now().Add(30 * time.Second)
	for damaged.Store.Rebuilds() == 0 || damaged.Store.Consumed() < end || damaged.Store.CopyingRest() {
		if time.Now().After(deadline) {
			t.Fatalf("no rebuild: rebuilds %d, consumed %d of %d, damage %v; logs:\n%s",
				damaged.Store.Rebuilds(), damaged.Store.Consumed(), end, damaged.Store.Damaged(), logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, lsn := range lsns {
		for _, id := range w.IDs {
			var want, got page.Page
			werr := ref.GetPage(ctx, id, lsn, &want)
			err := damaged.Store.GetPage(ctx, id, lsn, &got)
			if errors.Is(werr, storage.ErrPageNotFound) && errors.Is(err, storage.ErrPageNotFound) {
				continue
			}
			if truncated && lsn < end {
				if !errors.Is(err, storage.ErrCompacted) {
					t.Fatalf("after filling from peers as of %d, GetPage(%d, %d) = %v, want ErrCompacted", end, id, lsn, err)
				}
				continue
			}
			if err != nil || werr != nil || got != want {
				t.Fatalf("after the rebuild, GetPage(%d, %d): %v (reference %v), same page %v", id, lsn, err, werr, got == want)
			}
		}
	}
	readAll()
	if !truncated {
		return
	}
	// The log goes on: the filled replica applies it on top of the copied pages.
	if err := w.Groups(300); err != nil {
		t.Fatal(err)
	}
	newEnd := w.Log.End()
	a.WaitConsumed(t, newEnd)
	damaged.WaitConsumed(t, newEnd)
	checked := 0
	for _, lsn := range w.LSNs(200) {
		if lsn <= end {
			continue
		}
		checked++
		for _, id := range w.IDs {
			var want, got page.Page
			werr := ref.GetPage(ctx, id, lsn, &want)
			err := damaged.Store.GetPage(ctx, id, lsn, &got)
			if err != nil || werr != nil || got != want {
				t.Fatalf("after more log, GetPage(%d, %d): %v (reference %v), same page %v", id, lsn, err, werr, got == want)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no position after the copy was checked")
	}
}
