//go:build unix

package archive

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestLocalModes: whatever the umask, the local backend creates its root and directories 0700
// and its files 0600, and leaves no temporary file behind.
func TestLocalModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	root := filepath.Join(t.TempDir(), "archive")
	b, err := NewLocal(root)
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(b)
	put(t, s, "a/b/c", []byte("data"))
	_ = s.Put(testCtx(t), "a/b/short", strings.NewReader("x"), 2) // fails: leaves nothing
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fileMode
		if d.IsDir() {
			want = dirMode
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		if strings.HasPrefix(d.Name(), ".") {
			t.Errorf("%s: left behind", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLocalTempHidden: a temporary file left by a crash is not listed, and a key cannot name
// one.
func TestLocalTempHidden(t *testing.T) {
	b, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(b)
	put(t, s, "seg/1", []byte("x"))
	if err := os.WriteFile(filepath.Join(b.Root(), "seg", tmpPrefix+"123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, s, ""); len(got) != 1 || got[0] != "seg/1=1" {
		t.Fatalf("list: %v", got)
	}
	if _, err := s.Get(testCtx(t), "seg/"+tmpPrefix+"123"); !errors.Is(err, ErrBadKey) {
		t.Fatalf("get of a temporary file: %v", err)
	}
}

// TestLocalFull: a file system with no room (ENOSPC, EDQUOT) is an error wrapping ErrFull
// and the system's error; other errors are not.
func TestLocalFull(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		err := fullErr(&fs.PathError{Op: "write", Path: "/x", Err: errno})
		if !errors.Is(err, ErrFull) || !errors.Is(err, errno) {
			t.Errorf("%v: %v", errno, err)
		}
	}
	if err := fullErr(&fs.PathError{Op: "write", Path: "/x", Err: syscall.EIO}); errors.Is(err, ErrFull) {
		t.Errorf("EIO: %v", err)
	}
	if fullErr(nil) != nil {
		t.Error("nil error")
	}
}

// TestLocalStreams: a 12 MiB object goes in and out of the local backend without being held in
// memory (the allocations of a put and a get stay under 2 MiB).
func TestLocalStreams(t *testing.T) {
	b, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(b)
	ctx := testCtx(t)
	const n = 12 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := s.Put(ctx, "big", &patternReader{n: n}, n); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, rc, n)
	rc.Close()
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
		t.Fatalf("put and get of %d bytes allocated %d bytes", n, alloc)
	}
}

// TestLocalKeyDirectoryClash: on the local backend a key cannot be both an object and a
// directory of other keys; the second Put fails and leaves the first object whole.
func TestLocalKeyDirectoryClash(t *testing.T) {
	b, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(b)
	ctx := testCtx(t)
	put(t, s, "a", []byte("file"))
	if err := s.Put(ctx, "a/b", strings.NewReader("x"), 1); err == nil {
		t.Fatal("put a/b over the object a succeeded")
	}
	put(t, s, "c/d", []byte("x"))
	if err := s.Put(ctx, "c", strings.NewReader("x"), 1); err == nil {
		t.Fatal("put c over the directory c succeeded")
	}
	if got := listKeys(t, s, ""); strings.Join(got, " ") != "a=4 c/d=1" {
		t.Fatalf("list: %v", got)
	}
}
