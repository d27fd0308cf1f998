package engine

import (
	"bytes"
	"encoding/binary"
	"math"

	"strata/internal/page"
)

// Versions are stored as separate B+tree entries: the user key followed by the bitwise
// complement of the version's stamp, big-endian, so a key's versions sort newest first. The
// stamp is the LSN at which the committing group starts; a snapshot at LSN X (always a group
// end) sees exactly the versions whose stamp is below X.

const stampLen = 8

// mvccKey appends the versioned key of user key k at stamp to dst.
func mvccKey(dst, k []byte, stamp page.LSN) []byte {
	dst = append(dst, k...)
	return binary.BigEndian.AppendUint64(dst, ^uint64(stamp))
}

// splitKey returns a versioned key's user key and stamp.
func splitKey(k []byte) ([]byte, page.LSN) {
	if len(k) < stampLen {
		return k, 0
	}
	n := len(k) - stampLen
	return k[:n], page.LSN(^binary.BigEndian.Uint64(k[n:]))
}

// compareVersioned orders versioned keys: by user key, then newest stamp first.
func compareVersioned(a, b []byte) int {
	if len(a) < stampLen || len(b) < stampLen {
		return bytes.Compare(a, b)
	}
	if c := bytes.Compare(a[:len(a)-stampLen], b[:len(b)-stampLen]); c != 0 {
		return c
	}
	return bytes.Compare(a[len(a)-stampLen:], b[len(b)-stampLen:])
}

// seekVisible returns the versioned key at which the version of k visible at snapshot snap (or
// an older one) starts: the first version with stamp < snap.
func seekVisible(dst, k []byte, snap page.LSN) []byte {
	if snap == 0 {
		return mvccKey(dst, k, 0) // nothing is visible; callers check stamps anyway
	}
	return mvccKey(dst, k, snap-1)
}

// firstVersion is the smallest versioned key of user key k (its newest possible version).
func firstVersion(dst, k []byte) []byte { return mvccKey(dst, k, math.MaxUint64) }

// Value kinds, the first byte of a stored version.
const (
	kindPut       = 0
	kindTombstone = 1
)
