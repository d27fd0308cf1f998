package archive

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// pattern is the byte at offset i of the test objects made by patternReader.
func pattern(i int64) byte {
	return byte((uint64(i) * 0x9E3779B97F4A7C15) >> 56)
}

// patternReader yields n bytes of pattern, from nothing held in memory.
type patternReader struct{ off, n int64 }

// Read implements io.Reader.
func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		b[i] = pattern(p.off + int64(i))
	}
	p.off += int64(len(b))
	return len(b), nil
}

// checkPattern reads r to its end and checks that it yields the n bytes of pattern.
func checkPattern(t *testing.T, r io.Reader, n int64) {
	t.Helper()
	buf := make([]byte, 64<<10)
	var off int64
	for {
		m, err := r.Read(buf)
		for i := range m {
			if buf[i] != pattern(off+int64(i)) {
				t.Fatalf("byte %d is %#x, want %#x", off+int64(i), buf[i], pattern(off+int64(i)))
			}
		}
		off += int64(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", off, err)
		}
	}
	if off != n {
		t.Fatalf("read %d bytes, want %d", off, n)
	}
}

// put stores data under key, failing the test on error.
func put(t *testing.T, s *Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(testCtx(t), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// TestRoundTrip: an empty, a small and a 12 MiB object (streamed in and out; in parts on S3)
// read back as written, through Get and GetAll; Stat gives the payload's length.
func TestRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := testCtx(t)
		for _, n := range []int64{0, 1, 100, 12<<20 + 3} {
			key := fmt.Sprintf("seg/%08d", n)
			if err := s.Put(ctx, key, &patternReader{n: n}, n); err != nil {
				t.Fatalf("put %d bytes: %v", n, err)
			}
			rc, err := s.Get(ctx, key)
			if err != nil {
				t.Fatalf("get %d bytes: %v", n, err)
			}
			checkPattern(t, rc, n)
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			info, err := s.Stat(ctx, key)
			if err != nil || info.Size != n || info.Key != key || info.ModTime.IsZero() {
				t.Fatalf("stat %s: %+v, %v; want size %d", key, info, err, n)
			}
			if n > 1<<20 {
				if _, err := s.GetAll(ctx, key, n-1); err == nil || errors.Is(err, ErrDamaged) {
					t.Fatalf("GetAll over its max: %v, want a size error", err)
				}
			}
			data, err := s.GetAll(ctx, key, n)
			if err != nil {
				t.Fatalf("GetAll %d bytes: %v", n, err)
			}
			checkPattern(t, bytes.NewReader(data), n)
		}
		// The backends store an empty raw object too (the Store never writes one).
		putRaw(t, s, "raw/empty", nil)
		if info, err := s.Backend().Stat(ctx, "raw/empty"); err != nil || info.Size != 0 {
			t.Fatalf("raw empty object: %+v, %v", info, err)
		}
	})
}

// TestNotFound: Get, GetAll and Stat of a missing key fail with ErrNotFound; Delete of one
// succeeds.
func TestNotFound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := testCtx(t)
		put(t, s, "a/b", []byte("x"))
		for _, key := range []string{"missing", "a", "a/b/c", "a/bb"} {
			if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("get %s: %v, want ErrNotFound", key, err)
			}
			if _, err := s.GetAll(ctx, key, 10); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetAll %s: %v, want ErrNotFound", key, err)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, ErrNotFound) {
				t.Errorf("stat %s: %v, want ErrNotFound", key, err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Errorf("delete missing %s: %v", key, err)
			}
		}
		if got, err := s.GetAll(ctx, "a/b", 10); err != nil || string(got) != "x" {
			t.Fatalf("a/b after deleting its neighbours: %q, %v", got, err)
		}
	})
}

// TestOverwrite: a second Put of a key replaces the object, longer or shorter.
func TestOverwrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := testCtx(t)
		for _, v := range []string{"first version", "second, longer version", "3rd"} {
			put(t, s, "k", []byte(v))
			got, err := s.GetAll(ctx, "k", 100)
			if err != nil || string(got) != v {
				t.Fatalf("after put %q: %q, %v", v, got, err)
			}
		}
	})
}

// listKeys returns the keys and sizes that List gives for prefix.
func listKeys(t *testing.T, s *Store, prefix string) []string {
	t.Helper()
	var got []string
	err := s.List(testCtx(t), prefix, func(info Info) error {
		got = append(got, fmt.Sprintf("%s=%d", info.Key, info.Size))
		return nil
	})
	if err != nil {
		t.Fatalf("list %q: %v", prefix, err)
	}
	return got
}

// TestList: List gives the objects under a prefix in bytewise key order, nested keys
// included, with their payload lengths, and stops at fn's error.
func TestList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		// Put out of order; "a-c" < "a/b" < "a0" bytewise, which a plain directory walk
		// would not give.
		keys := []string{"b", "a0", "a/c/d", "a-c", "a/b", "ab", "a/c0", "a/c/e/f", "seg/0002", "seg/0010", "seg/0001"}
		for i, k := range keys {
			put(t, s, k, bytes.Repeat([]byte{'x'}, i))
		}
		sizes := map[string]int{}
		for i, k := range keys {
			sizes[k] = i
		}
		want := func(ks ...string) []string {
			var out []string
			for _, k := range ks {
				out = append(out, fmt.Sprintf("%s=%d", k, sizes[k]))
			}
			return out
		}
		all := slices.Clone(keys)
		slices.Sort(all)
		for _, c := range []struct {
			prefix string
			want   []string
		}{
			{"", want(all...)},
			{"a", want("a-c", "a/b", "a/c/d", "a/c/e/f", "a/c0", "a0", "ab")},
			{"a/", want("a/b", "a/c/d", "a/c/e/f", "a/c0")},
			{"a/c", want("a/c/d", "a/c/e/f", "a/c0")},
			{"a/c/", want("a/c/d", "a/c/e/f")},
			{"seg/000", want("seg/0001", "seg/0002")},
			{"seg/", want("seg/0001", "seg/0002", "seg/0010")},
			{"zzz", nil},
			{"nodir/", nil},
			{"b/", nil},
		} {
			if got := listKeys(t, s, c.prefix); !slices.Equal(got, c.want) {
				t.Errorf("list %q:\n got %v\nwant %v", c.prefix, got, c.want)
			}
		}
		stop := errors.New("stop")
		var seen []string
		err := s.List(testCtx(t), "", func(info Info) error {
			seen = append(seen, info.Key)
			if len(seen) == 3 {
				return stop
			}
			return nil
		})
		if err != stop || !slices.Equal(seen, all[:3]) {
			t.Fatalf("list stopped by fn: %v, saw %v", err, seen)
		}
	})
}

// TestDelete: a deleted object is gone from Get, Stat and List; its neighbours stay; it can
// be written again.
func TestDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := testCtx(t)
		put(t, s, "d/x/1", []byte("one"))
		put(t, s, "d/y", []byte("two"))
		if err := s.Delete(ctx, "d/x/1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "d/x/1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
		if _, err := s.Stat(ctx, "d/x/1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("stat deleted: %v", err)
		}
		if got := listKeys(t, s, ""); !slices.Equal(got, []string{"d/y=3"}) {
			t.Fatalf("list after delete: %v", got)
		}
		// The key's directory went with it (local): "d/x" can be an object now.
		put(t, s, "d/x", []byte("three"))
	})
}

// TestPutInputMismatch: a reader that yields fewer or more bytes than the size, or fails,
// stores nothing, and an object already there stays whole.
func TestPutInputMismatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := testCtx(t)
		put(t, s, "old", []byte("old contents"))
		for name, c := range map[string]struct {
			r    func() io.Reader
			size int64
		}{
			"short": {func() io.Reader { return strings.NewReader("abc") }, 4},
			"long":  {func() io.Reader { return strings.NewReader("abcde") }, 4},
			"failing": {func() io.Reader {
				return io.MultiReader(strings.NewReader("abc"), iotestErrReader{})
			}, 10},
		} {
			for _, key := range []string{"new-" + name, "old"} {
				if err := s.Put(ctx, key, c.r(), c.size); err == nil {
					t.Errorf("%s put of %s succeeded", name, key)
				}
			}
			if _, err := s.Stat(ctx, "new-"+name); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s put stored something: %v", name, err)
			}
		}
		if got, err := s.GetAll(ctx, "old", 100); err != nil || string(got) != "old contents" {
			t.Fatalf("old object after failed puts: %q, %v", got, err)
		}
		if got := listKeys(t, s, ""); !slices.Equal(got, []string{"old=12"}) {
			t.Fatalf("list after failed puts: %v", got)
		}
	})
}

// iotestErrReader fails every read.
type iotestErrReader struct{}

// Read implements io.Reader.
func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestBadKeys: keys that are not clean relative paths are refused by the Store and by both
// backends' raw calls, before anything is stored.
func TestBadKeys(t *testing.T) {
	bad := []string{"", "/abs", "a//b", "a/", "../up", "a/../../up", "a/..", ".", "./a", "a/./b",
		".hidden", "a/.tmp-x", "nul\x00byte", "tab\tkey", "\xff\xfe", strings.Repeat("k", MaxKeyLen+1)}
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := testCtx(t)
		for _, key := range bad {
			checks := map[string]error{
				"put":         s.Put(ctx, key, strings.NewReader("x"), 1),
				"backend put": s.Backend().Put(ctx, key, strings.NewReader("x"), 1),
				"delete":      s.Delete(ctx, key),
			}
			_, checks["get"] = s.Get(ctx, key)
			_, checks["backend get"] = s.Backend().Get(ctx, key)
			_, checks["stat"] = s.Stat(ctx, key)
			_, checks["backend stat"] = s.Backend().Stat(ctx, key)
			for op, err := range checks {
				if !errors.Is(err, ErrBadKey) {
					t.Errorf("%s %q: %v, want ErrBadKey", op, key, err)
				}
			}
		}
		for _, prefix := range []string{"../", "a/../", "/x", "a//", "x\x00"} {
			if err := s.List(ctx, prefix, func(Info) error { return nil }); !errors.Is(err, ErrBadKey) {
				t.Errorf("list %q: %v, want ErrBadKey", prefix, err)
			}
		}
		if got := listKeys(t, s, ""); len(got) != 0 {
			t.Fatalf("bad keys stored: %v", got)
		}
	})
	for _, key := range []string{"a", "seg/00000001", "a-b_c.d/e f/ü", strings.Repeat("k", MaxKeyLen)} {
		if err := CheckKey(key); err != nil {
			t.Errorf("CheckKey(%q): %v", key, err)
		}
	}
}
