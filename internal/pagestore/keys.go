package pagestore

import (
	"encoding/binary"
	"fmt"
	"math"

	"strata/internal/page"
)

// Key layout. Every version of a page is stored under a kind byte, the page ID big-endian and
// the LSN big-endian, so that a page's versions of one kind are contiguous and ordered by LSN:
//
//	'd' id lsn -> the raw redo record at lsn (length and CRC included)
//	'i' id lsn -> a sealed page image as of just after the record at lsn
//
// The time index (history.go) maps commit times to positions:
//
//	't' micros -> the position after the commit record (its group's end), as 8 bytes
//
// with micros the commit time (µs since the Unix epoch) big-endian. Metadata lives under 'm'.
const (
	kindDelta byte = 'd'
	kindImage byte = 'i'
	kindMeta  byte = 'm'
	kindTime  byte = 't'
)

// versionKeyLen is the length of a delta or image key.
const versionKeyLen = 1 + 8 + 8

var (
	// persistedKey holds the consume position: every record below it is in the store. It is
	// written in the same batch as the records it covers.
	persistedKey = []byte{kindMeta, 'p', 'e', 'r', 's', 'i', 's', 't', 'e', 'd'}
	// floorKey holds the compaction floor: the highest horizon a compaction has started with.
	// Versions needed only below it may be gone, so GetPage refuses positions below it.
	floorKey = []byte{kindMeta, 'f', 'l', 'o', 'o', 'r'}
	// groupEndKey holds the position after the last group-end record consumed: a void group
	// (redo.TAbort) cannot start before it, and segments are copied as of such a position.
	groupEndKey = []byte{kindMeta, 'g', 'r', 'o', 'u', 'p'}
	// branchTimesKey holds, in a branch store whose time index starts with its first commit
	// after the branch point, that branch point (see history.go): the store has consumed its
	// log from there, and compaction keeps the index's first entry.
	branchTimesKey = []byte{kindMeta, 'b', 't', 'i', 'm', 'e', 's'}
)

var be = binary.BigEndian

// versionKey returns the key of the version of kind for page id at lsn.
func versionKey(kind byte, id page.ID, lsn page.LSN) []byte {
	return appendVersionKey(make([]byte, 0, versionKeyLen+1), kind, id, lsn)
}

func appendVersionKey(dst []byte, kind byte, id page.ID, lsn page.LSN) []byte {
	dst = append(dst, kind)
	dst = be.AppendUint64(dst, uint64(id))
	return be.AppendUint64(dst, uint64(lsn))
}

// pageUpper returns a key above every version of kind for page id and below those of the next
// page (an exclusive upper bound).
func pageUpper(kind byte, id page.ID) []byte {
	return append(versionKey(kind, id, math.MaxUint64), 0)
}

// parseVersionKey splits a delta or image key.
func parseVersionKey(k []byte) (kind byte, id page.ID, lsn page.LSN, err error) {
	if len(k) != versionKeyLen || (k[0] != kindDelta && k[0] != kindImage) {
		return 0, 0, 0, fmt.Errorf("pagestore: malformed key %x", k)
	}
	return k[0], page.ID(be.Uint64(k[1:])), page.LSN(be.Uint64(k[9:])), nil
}

func encodeLSN(lsn page.LSN) []byte { return be.AppendUint64(nil, uint64(lsn)) }

func decodeLSN(b []byte) (page.LSN, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("pagestore: malformed position value of %d bytes", len(b))
	}
	return page.LSN(be.Uint64(b)), nil
}
