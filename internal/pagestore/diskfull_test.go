package pagestore

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"strata/internal/faultfs"
	"strata/internal/redo"
)

// waitFails waits until pebble has failed n background writes in a row.
func waitFails(t *testing.T, s *Store, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, "failed background writes", func() bool {
		s.health.mu.Lock()
		defer s.health.mu.Unlock()
		return s.health.fails >= n
	})
}

// TestDiskFullHealsInPlace: with the disk full (every write and sync fails with ENOSPC) the
// store goes on consuming into memory and serving, reports itself failing (DiskErr), does not
// advance Persisted, paces pebble's retries and logs them once (not thousands of lines a
// second); once space is back it persists everything and reports itself sound again.
func TestDiskFullHealsInPlace(t *testing.T) {
	full := &faultfs.DiskFull{}
	fs := errorfs.Wrap(vfs.NewMem(), full)
	log := newFakeLog()
	w := newWorkload(t, 1, log, 20)
	var logs lockedBuffer
	s := openStore(t, fs, log, func(o *Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	s.Start()
	w.groups(50)
	log.makeDurable()
	waitPersisted(t, s, log.end())
	before := s.Persisted()

	full.On.Store(true)
	w.groups(50)
	log.makeDurable()
	waitFor(t, 30*time.Second, "consumed", func() bool { return s.Consumed() >= log.end() })
	waitFails(t, s, 5)
	if s.DiskErr() == nil || !errors.Is(s.DiskErr(), syscall.ENOSPC) {
		t.Fatalf("DiskErr on a full disk: %v", s.DiskErr())
	}
	if s.Persisted() != before {
		t.Fatalf("persisted moved from %d to %d on a full disk", before, s.Persisted())
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n > 2 {
		t.Fatalf("%d error lines for one full disk:\n%s", n, logs.String())
	}
	w.check(t, s, w.lsns(20, redo.StartLSN, log.end()), false) // served from memory

	full.On.Store(false)
	waitPersisted(t, s, log.end())
	waitFor(t, 30*time.Second, "DiskErr cleared", func() bool { return s.DiskErr() == nil })
	w.check(t, s, w.lsns(20, redo.StartLSN, log.end()), false)
}

// TestDiskFullClose: a store on a full disk can be closed (it does not wait for a flush that
// cannot happen), and opened again once space is back it consumes again what it had not
// persisted.
func TestDiskFullClose(t *testing.T) {
	full := &faultfs.DiskFull{}
	fs := errorfs.Wrap(vfs.NewMem(), full)
	log := newFakeLog()
	w := newWorkload(t, 2, log, 20)
	s, err := Open(context.Background(), Options{FS: fs, Dir: "ps", Log: log, Logger: discard, CompactInterval: -1,
		FlushInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	w.groups(30)
	log.makeDurable()
	waitPersisted(t, s, log.end())
	full.On.Store(true)
	w.groups(30)
	log.makeDurable()
	waitFor(t, 30*time.Second, "consumed", func() bool { return s.Consumed() >= log.end() })
	waitFails(t, s, 2)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case <-closed:
	case <-time.After(60 * time.Second):
		t.Fatal("Close on a full disk did not return")
	}
	full.On.Store(false)
	s2 := openStore(t, fs, log, nil)
	s2.Start()
	waitPersisted(t, s2, log.end())
	w.check(t, s2, w.lsns(20, redo.StartLSN, log.end()), false)
}
