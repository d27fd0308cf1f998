// Package redo provides Strata's redo log records: their encoding with a length and a CRC32C,
// mini-transaction groups that apply atomically, and Apply, the one deterministic function by
// which every node (read-write, read-only, Page Store) changes a page. The LSN of a record is
// its byte position in the log.
package redo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"strata/internal/page"
)

// Type is a record type.
type Type uint8

// Record types. Every type except Commit names exactly one page.
const (
	TInit     Type = 1  // clear the page and give it a type, level and owner
	TInsert   Type = 2  // insert a cell at a slot
	TDelete   Type = 3  // delete the cell at a slot
	TReplace  Type = 4  // replace the cell at a slot
	TTruncate Type = 5  // delete every cell from a slot on (the left half of a split)
	TAppend   Type = 6  // append cells at the end (the right half of a split, a merge)
	TLinks    Type = 7  // set the left and right sibling links
	TNext     Type = 8  // set the leftmost child or next page
	TMeta     Type = 9  // set the allocation state of the meta page
	TOverflow Type = 10 // initialise an overflow page with its data and next page
	TFree     Type = 11 // initialise a free page on the free list
	TCommit   Type = 12 // a transaction commits (no page)
	TEnd      Type = 13 // ends a group whose other records were appended earlier (no page)
	// TAbort voids an incomplete group: its writer failed before ending it, and a new writer
	// recovering the log kept its records (they may have been consumed) and appended this
	// record, naming the LSN where the void group starts. Every record from there to the
	// abort record is as if it had never been written. No page.
	TAbort Type = 14
	// TInsertDelta inserts at a slot a cell made from another cell of the page, its base,
	// by a delta (delta.go): the new version of an updated row, logged as its changes.
	TInsertDelta Type = 15
	maxType           = TInsertDelta
)

var typeNames = [...]string{"", "init", "insert", "delete", "replace", "truncate", "append",
	"links", "next", "meta", "overflow", "free", "commit", "end", "abort", "insert-delta"}

func (t Type) String() string {
	if t >= 1 && t <= maxType {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// FlagGroupEnd marks the last record of a mini-transaction group.
const FlagGroupEnd = 1

// HeaderSize is the size of a record header: length u16, its complement u16, crc u32, type u8,
// flags u8, page u64. The complement makes a damaged length an error rather than a record that
// seems to run past the end of the log (which would read as a torn tail and hide what
// follows). The CRC32C covers the length and everything after the CRC.
const HeaderSize = 18

// MaxRecord bounds a record's encoded size.
const MaxRecord = 1<<16 - 1

// StartLSN is the LSN of the first record of a new log.
const StartLSN page.LSN = 64

// ErrCorrupt is returned for bytes that are not a valid record.
var ErrCorrupt = errors.New("redo: corrupt record")

// ErrShort is returned when the bytes end inside a record (an incomplete tail).
var ErrShort = errors.New("redo: incomplete record")

// Record is a decoded record; Payload aliases the bytes it was decoded from.
type Record struct {
	Type    Type
	Flags   uint8
	Page    page.ID
	Payload []byte
}

// GroupEnd reports whether the record ends a group.
func (r Record) GroupEnd() bool { return r.Flags&FlagGroupEnd != 0 }

// Size returns the encoded size of the record.
func (r Record) Size() int { return HeaderSize + len(r.Payload) }

func (r Record) String() string {
	return fmt.Sprintf("%s page=%d len=%d end=%v", r.Type, r.Page, len(r.Payload), r.GroupEnd())
}

var le = binary.LittleEndian

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Decode decodes the record at the start of b and returns it with its encoded size. It returns
// ErrShort when b ends inside the record and ErrCorrupt (wrapped) for anything invalid.
func Decode(b []byte) (Record, int, error) {
	if len(b) < 4 {
		return Record{}, 0, ErrShort
	}
	n := int(le.Uint16(b))
	if le.Uint16(b[2:]) != ^uint16(n) {
		return Record{}, 0, fmt.Errorf("%w: length field %#08x damaged", ErrCorrupt, le.Uint32(b))
	}
	if n < HeaderSize {
		return Record{}, 0, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	if len(b) < n {
		return Record{}, 0, ErrShort
	}
	if got, want := le.Uint32(b[4:]), recordCRC(b[:n]); got != want {
		return Record{}, 0, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorrupt, got, want)
	}
	r := Record{Type: Type(b[8]), Flags: b[9], Page: page.ID(le.Uint64(b[10:])), Payload: b[HeaderSize:n]}
	if r.Type < 1 || r.Type > maxType {
		return Record{}, 0, fmt.Errorf("%w: type %d", ErrCorrupt, b[8])
	}
	if r.Flags&^FlagGroupEnd != 0 {
		return Record{}, 0, fmt.Errorf("%w: flags %#x", ErrCorrupt, r.Flags)
	}
	if r.Type.PageLess() != (r.Page == page.Invalid) {
		return Record{}, 0, fmt.Errorf("%w: %s record names page %d", ErrCorrupt, r.Type, r.Page)
	}
	return r, n, nil
}

// Scan walks the records in b, calling fn with each record and its offset in b, and returns
// the offset just past the last complete group: the prefix of b that can be kept. It stops at
// the first incomplete or corrupt record, returning ErrCorrupt (wrapped, with the offset) for
// corruption and nil for a clean or merely incomplete tail. fn may be nil; an error from fn
// stops the scan and is returned.
func Scan(b []byte, fn func(off int, r Record) error) (end int, err error) {
	off := 0
	for off < len(b) {
		r, n, err := Decode(b[off:])
		if err != nil {
			if errors.Is(err, ErrShort) {
				return end, nil
			}
			return end, fmt.Errorf("at offset %d: %w", off, err)
		}
		if fn != nil {
			if err := fn(off, r); err != nil {
				return end, err
			}
		}
		off += n
		if r.GroupEnd() {
			end = off
		}
	}
	return end, nil
}

// recordCRC computes the CRC32C of an encoded record: its length field and everything after
// the CRC field.
func recordCRC(b []byte) uint32 {
	return crc32.Update(crc32.Checksum(b[:4], castagnoli), castagnoli, b[8:])
}

func putLength(b []byte, n int) {
	le.PutUint16(b, uint16(n))
	le.PutUint16(b[2:], ^uint16(n))
}

func recordLen(b []byte) int { return int(le.Uint16(b)) }

// PageLess reports whether records of type t name no page (and so change none).
func (t Type) PageLess() bool { return t == TCommit || t == TEnd || t == TAbort }
