package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Store keeps framed objects in a Backend: what Put writes, Get checks. It is safe for
// concurrent use; it adds no locking of its own, so two Puts of one key race as they do in the
// backend (one of them wins whole).
type Store struct {
	b Backend
}

// NewStore returns a Store over b.
func NewStore(b Backend) *Store {
	return &Store{b: b}
}

// Backend returns the backend the store keeps its objects in, for tools and tests that need
// the raw objects.
func (s *Store) Backend() Backend {
	return s.b
}

// String describes the store's backend, without secrets.
func (s *Store) String() string {
	return s.b.String()
}

// Put stores the size bytes that r yields under key, framed. It streams r: memory use does not
// grow with size. It fails, storing nothing new, if r yields an error or a number of bytes
// other than size.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("archive: put %s: negative size %d", key, size)
	}
	if err := s.b.Put(ctx, key, newFramer(r, size), size+Overhead); err != nil {
		return fmt.Errorf("archive: put %s in %s: %w", key, s.b, err)
	}
	return nil
}

// Get returns a reader of the payload stored under key. The header is checked before Get
// returns; the length and CRC as the reader reaches the payload's end. A damaged object makes
// the reader (or Get) fail with an error wrapping ErrDamaged, never io.EOF, so read to io.EOF
// (io.Copy, io.ReadAll) before trusting what was read. A missing object is an error wrapping
// ErrNotFound. The caller closes the reader.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	rc, err := s.b.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("archive: get %s from %s: %w", key, s.b, err)
	}
	size, err := readHeader(rc, key)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return newVerifier(rc, key, size), nil
}

// GetAll returns the payload stored under key, which must be at most limit bytes (an error
// otherwise, before reading it), checked whole.
func (s *Store) GetAll(ctx context.Context, key string, limit int64) ([]byte, error) {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	v := rc.(*verifier)
	if v.size > limit {
		// A damaged length field can claim any size: tell that from an object too large.
		if info, err := s.b.Stat(ctx, key); err == nil && info.Size != v.size+Overhead {
			return nil, damaged(key, "header says %d payload bytes, the object has %d bytes (frame included)",
				v.size, info.Size)
		}
		return nil, fmt.Errorf("archive: get %s: %d bytes, more than the %d allowed", key, v.size, limit)
	}
	buf := make([]byte, v.size)
	if _, err := io.ReadFull(v, buf); err != nil {
		return nil, err
	}
	// The last read checked the trailer; this confirms the reader is at its end.
	if n, err := v.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		if err == nil {
			err = damaged(key, "%d more bytes after the payload", n)
		}
		return nil, err
	}
	return buf, nil
}

// Stat describes the object stored under key: its Size is the payload's length. An object too
// short to hold a frame is an error wrapping ErrDamaged; one whose header is wrong is found
// only by Get.
func (s *Store) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, err
	}
	info, err := s.b.Stat(ctx, key)
	if err != nil {
		return Info{}, fmt.Errorf("archive: stat %s in %s: %w", key, s.b, err)
	}
	if info.Size < Overhead {
		return Info{}, damaged(key, "%d bytes, shorter than the %d-byte frame", info.Size, Overhead)
	}
	info.Size -= Overhead
	return info, nil
}

// List calls fn for each object whose key starts with prefix, in key order, with the payload's
// length as Size (-1 for an object too short to hold a frame). It stops at the first error fn
// returns and returns that error as it is.
func (s *Store) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	var fnErr error
	err := s.b.List(ctx, prefix, func(info Info) error {
		if info.Size < Overhead {
			info.Size = -1
		} else {
			info.Size -= Overhead
		}
		fnErr = fn(info)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("archive: list %q in %s: %w", prefix, s.b, err)
	}
	return nil
}

// Delete removes the object stored under key. Deleting a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := s.b.Delete(ctx, key); err != nil {
		return fmt.Errorf("archive: delete %s from %s: %w", key, s.b, err)
	}
	return nil
}
