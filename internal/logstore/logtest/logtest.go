// Package logtest has helpers for tests of the Log Store and its clients: valid redo groups of
// a chosen size.
package logtest

import (
	"bytes"

	"strata/internal/page"
	"strata/internal/redo"
)

// Group returns a complete redo group: one insert record with a cell of pad bytes (filled from
// txn) on page pg, then a commit record of txn, whose time is derived from txn so that the same
// arguments give the same bytes.
func Group(pg page.ID, txn uint64, pad int) []byte {
	g := redo.NewGroup()
	g.Insert(pg, 0, bytes.Repeat([]byte{byte(txn)}, pad))
	g.Commit(txn, baseTime+int64(txn))
	return bytes.Clone(g.Bytes())
}

// baseTime is the commit time of transaction 0 (µs since the Unix epoch: November 2023).
const baseTime = 1_700_000_000_000_000

// Partial returns records of a group that goes on: one insert of pad bytes, no group end.
func Partial(pg page.ID, txn uint64, pad int) []byte {
	g := redo.NewGroup()
	g.Insert(pg, 0, bytes.Repeat([]byte{byte(txn)}, pad))
	return bytes.Clone(g.Partial())
}

// Commits returns the transactions of the commit records in b, a log prefix of whole records,
// in order; it stops at the first record it cannot decode.
func Commits(b []byte) []uint64 {
	var out []uint64
	for off := 0; off < len(b); {
		r, n, err := redo.Decode(b[off:])
		if err != nil {
			break
		}
		if r.Type == redo.TCommit {
			if txn, err := redo.CommitTxn(r); err == nil {
				out = append(out, txn)
			}
		}
		off += n
	}
	return out
}
