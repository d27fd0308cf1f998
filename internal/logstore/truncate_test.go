package logstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"strata/internal/quorum"
	"strata/internal/redo"
	"strata/internal/segfile"
)

// blockingRemoveFS is a file system whose Remove waits until release is closed, after saying
// on entered that it was called.
type blockingRemoveFS struct {
	vfs.FS
	entered chan struct{}
	release chan struct{}
}

func (fs *blockingRemoveFS) Remove(name string) error {
	select {
	case fs.entered <- struct{}{}:
	default:
	}
	<-fs.release
	return fs.FS.Remove(name)
}

// TestTruncateDoesNotStallAppends: while Truncate removes segment files (here, a removal that
// does not return), the store serves status calls and takes and syncs appends, and reads
// below the new first LSN already fail with ErrTruncated.
func TestTruncateDoesNotStallAppends(t *testing.T) {
	mem := vfs.NewMem()
	s := open(t, mem, 1<<10, nil)
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	appendGroups(t, s, 1, 1, 30, 150)
	s.Close()

	fs := &blockingRemoveFS{FS: mem, entered: make(chan struct{}, 1), release: make(chan struct{})}
	s = open(t, fs, 1<<10, nil)
	released := false
	release := func() {
		if !released {
			released = true
			close(fs.release)
		}
	}
	defer func() { release(); s.Close() }()
	end := s.Status().End
	truncated := make(chan error, 1)
	go func() { truncated <- s.Truncate(end - 200) }()
	select {
	case <-fs.entered:
	case err := <-truncated:
		t.Fatalf("Truncate returned without removing a file: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Truncate did not start removing files within 10s")
	}

	done := make(chan error, 1)
	go func() {
		st := s.Status()
		if st.First <= redo.StartLSN {
			done <- errors.New("first LSN did not move")
			return
		}
		if _, err := s.Read(context.Background(), redo.StartLSN, 10, end); !errors.Is(err, ErrTruncated) {
			done <- err
			return
		}
		appendGroups(t, s, 1, 31, 5, 150)
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("status, read or append waited for Truncate's file removal")
	}
	release()
	if err := <-truncated; err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.Durable <= end {
		t.Fatalf("after truncate: %+v", st)
	}
}

// TestTruncateRetiresReaders: a reader that looked a segment up before Truncate dropped it does
// not open the removed file again (which would keep its blocks until the process exits); Read
// answers ErrTruncated.
func TestTruncateRetiresReaders(t *testing.T) {
	s := open(t, vfs.NewMem(), 1<<10, nil)
	defer s.Close()
	adopt(t, s, 1, []quorum.Term{{Epoch: 1, Start: redo.StartLSN}})
	appendGroups(t, s, 1, 1, 30, 150)
	s.segMu.RLock()
	first := s.segs[0]
	s.segMu.RUnlock()
	p := make([]byte, 8)
	if err := first.readAt(s.fs, p, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Truncate(s.Status().End - 200); err != nil {
		t.Fatal(err)
	}
	if err := first.readAt(s.fs, p, 0); !errors.Is(err, segfile.ErrRetired) {
		t.Fatalf("read of a truncated segment found before the truncation: %v", err)
	}
}
