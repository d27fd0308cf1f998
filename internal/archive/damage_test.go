package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
	"testing"
)

// rawObject returns the object stored under key as the backend holds it.
func rawObject(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	rc, err := s.Backend().Get(testCtx(t), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// putRaw stores raw under key through the backend, bypassing the frame.
func putRaw(t *testing.T, s *Store, key string, raw []byte) {
	t.Helper()
	if err := s.Backend().Put(testCtx(t), key, bytes.NewReader(raw), int64(len(raw))); err != nil {
		t.Fatal(err)
	}
}

// flip returns a mutation that changes the byte at off (from the end if negative).
func flip(off int) func([]byte) []byte {
	return func(b []byte) []byte {
		if off < 0 {
			off += len(b)
		}
		b[off] ^= 0x5a
		return b
	}
}

// addLength returns a mutation that adds d to the header's payload length.
func addLength(d int64) func([]byte) []byte {
	return func(b []byte) []byte {
		n := binary.BigEndian.Uint64(b[8:headerLen])
		binary.BigEndian.PutUint64(b[8:headerLen], uint64(int64(n)+d))
		return b
	}
}

// damages are ways an object can be damaged, each caught by one check of the frame; want is
// a part of the error message.
var damages = []struct {
	name   string
	mutate func([]byte) []byte
	want   string
}{
	{"first payload byte", flip(headerLen), "CRC32C"},
	{"middle payload byte", func(b []byte) []byte { return flip(len(b) / 2)(b) }, "CRC32C"},
	{"last payload byte", flip(-trailerLen - 1), "CRC32C"},
	{"trailer byte", flip(-1), "CRC32C"},
	{"magic", flip(0), "bad magic"},
	{"version", flip(4), "version"},
	{"reserved header byte", flip(6), "reserved"},
	{"length one more", addLength(1), "trailer is 3 bytes"},
	{"length one less", addLength(-1), "longer than"},
	{"length far more", flip(9), "payload ends after"},
	{"length out of range", flip(8), "out of range"},
	{"truncated by one byte", func(b []byte) []byte { return b[:len(b)-1] }, "trailer is 3 bytes"},
	{"trailer cut off", func(b []byte) []byte { return b[:len(b)-trailerLen] }, "trailer is 0 bytes"},
	{"truncated in the payload", func(b []byte) []byte { return b[:headerLen+7] }, "payload ends after 7 bytes"},
	{"truncated in the header", func(b []byte) []byte { return b[:headerLen-1] }, "shorter than the 16-byte header"},
	{"empty", func(b []byte) []byte { return b[:0] }, "shorter than the 16-byte header"},
	{"one byte appended", func(b []byte) []byte { return append(b, 0) }, "longer than"},
	{"trailer appended twice", func(b []byte) []byte { return append(b, b[len(b)-trailerLen:]...) }, "longer than"},
}

// TestDamage: an object changed in one byte (header, payload or trailer), truncated, or
// extended, through the backend, fails Get's reader and GetAll with ErrDamaged naming the key
// and what differs, never io.EOF; reading exactly the payload's length fails too. A payload
// of 200 KiB is read in several reads.
func TestDamage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		ctx := testCtx(t)
		for _, size := range []int{64, 200 << 10} {
			payload := bytes.Repeat([]byte("0123456789abcdef"), size/16)
			key := fmt.Sprintf("obj/%d", size)
			put(t, s, key, payload)
			good := rawObject(t, s, key)
			if len(good) != size+Overhead {
				t.Fatalf("raw object is %d bytes, want %d", len(good), size+Overhead)
			}
			for _, d := range damages {
				bad := d.mutate(bytes.Clone(good))
				putRaw(t, s, key, bad)
				what := fmt.Sprintf("%d bytes, %s", size, d.name)
				checkDamaged(t, what, d.want, key, func() error {
					rc, err := s.Get(ctx, key)
					if err != nil {
						return err
					}
					defer rc.Close()
					_, err = io.ReadAll(rc)
					return err
				})
				if len(bad) >= headerLen && bytes.Equal(bad[8:headerLen], good[8:headerLen]) {
					// The reader checks the end as it yields the last byte the header
					// announces: a caller that reads just that many bytes is told too.
					checkDamaged(t, what+" (exact read)", d.want, key, func() error {
						rc, err := s.Get(ctx, key)
						if err != nil {
							return err
						}
						defer rc.Close()
						_, err = io.ReadFull(rc, make([]byte, size))
						return err
					})
				}
				checkDamaged(t, what+" (GetAll)", "", key, func() error {
					_, err := s.GetAll(ctx, key, int64(size))
					return err
				})
			}
			// Put back whole, it reads again.
			putRaw(t, s, key, good)
			if got, err := s.GetAll(ctx, key, int64(size)); err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("restored object: %v", err)
			}
		}
	})
}

// crc32c is the CRC32C of b.
func crc32c(b []byte) uint32 {
	return crc32.Checksum(b, castagnoli)
}

// checkDamaged checks that read fails with ErrDamaged, with key and want in its message.
func checkDamaged(t *testing.T, what, want, key string, read func() error) {
	t.Helper()
	err := read()
	switch {
	case err == nil:
		t.Errorf("%s: read without error", what)
	case !errors.Is(err, ErrDamaged):
		t.Errorf("%s: %v, want ErrDamaged", what, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		t.Errorf("%s: %v wraps EOF", what, err)
	case !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), want):
		t.Errorf("%s: %q, want the key %q and %q", what, err, key, want)
	}
}

// TestDamageMessage: a CRC mismatch names both CRCs, computed and recorded.
func TestDamageMessage(t *testing.T) {
	s := backends[0].open(t)
	ctx := testCtx(t)
	put(t, s, "k", []byte("payload"))
	raw := rawObject(t, s, "k")
	binary.BigEndian.PutUint32(raw[len(raw)-trailerLen:], 0xdeadbeef)
	putRaw(t, s, "k", raw)
	_, err := s.GetAll(ctx, "k", 100)
	if err == nil || !strings.Contains(err.Error(), "trailer says deadbeef") ||
		!strings.Contains(err.Error(), fmt.Sprintf("is %08x", crc32c([]byte("payload")))) {
		t.Fatalf("CRC mismatch message: %v", err)
	}
	// Stat tells an object too short for a frame.
	putRaw(t, s, "short", []byte("tiny"))
	if _, err := s.Stat(ctx, "short"); !errors.Is(err, ErrDamaged) {
		t.Fatalf("stat of a 4-byte object: %v", err)
	}
	var sizes []int64
	if err := s.List(ctx, "", func(i Info) error { sizes = append(sizes, i.Size); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sizes) != "[7 -1]" {
		t.Fatalf("list sizes %v, want [7 -1]", sizes)
	}
}
