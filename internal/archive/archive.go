// Package archive provides the object store the history archive is kept in: a local directory
// by default, any S3-API endpoint in production; every object carries its length and a
// CRC32C, so a damaged object is an error, never data.
//
// A Backend stores raw objects under keys (Local, S3). A Store, over a Backend, frames every
// object it writes (docs/archive.md) and checks the frame when it reads one back: Get yields
// the payload and fails with ErrDamaged, instead of io.EOF, when the object is short, long, or
// its header or CRC is wrong. Open makes a Store from a spec string: a path, file:///path, or
// s3://host:port/bucket.
package archive

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors that the Store and the backends wrap; test for them with errors.Is.
var (
	// ErrNotFound: no object has the key.
	ErrNotFound = errors.New("archive: object not found")
	// ErrDamaged: an object read back is not what was written (length, header or CRC).
	ErrDamaged = errors.New("archive: object damaged")
	// ErrBadKey: the key is not a clean relative path (see CheckKey).
	ErrBadKey = errors.New("archive: bad key")
	// ErrFull: the local file system has no room (ENOSPC, EDQUOT), or the S3 endpoint
	// says its storage is full.
	ErrFull = errors.New("archive: storage full")
	// ErrNoBucket: the S3 bucket does not exist (and was not to be created).
	ErrNoBucket = errors.New("archive: bucket does not exist")
	// ErrUnreachable: the S3 endpoint could not be reached (refused, unresolved, or no
	// answer before the context's deadline).
	ErrUnreachable = errors.New("archive: endpoint unreachable")
	// ErrBadSpec: the spec string given to Open is not one it knows.
	ErrBadSpec = errors.New("archive: bad spec")
)

// Info describes one stored object.
type Info struct {
	// Key names the object.
	Key string
	// Size is its length in bytes: the raw length from a Backend, the payload's length
	// from a Store (-1 when the object is too short to hold a frame).
	Size int64
	// ModTime is when it was last written, as the backend records it.
	ModTime time.Time
}

// Backend stores raw objects under keys. Its implementations are safe for concurrent use.
// Keys are checked with CheckKey. A Put replaces the object atomically: a reader sees the
// old object or the new one, never a part.
type Backend interface {
	// Put stores the size bytes that r yields under key. It fails, storing nothing, if r
	// yields an error or a different number of bytes.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get returns a reader of the object's bytes, or an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object, or returns an error wrapping ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// List calls fn for each object whose key starts with prefix, in key order (bytewise).
	// It stops at the first error fn returns and returns that error.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Delete removes the object. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// String describes the backend for messages and logs, without secrets.
	String() string
}
