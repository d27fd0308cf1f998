// Package storage defines the interfaces between the compute engine and the services that keep
// its data: the redo log (durable, ordered bytes addressed by LSN) and the page source (any page
// as of any log position). The wal and pagestore packages implement them in one process; the
// network services implement the same interfaces across machines.
package storage

import (
	"context"
	"errors"

	"strata/internal/page"
)

// ErrClosed is returned by operations on a closed log or page store.
var ErrClosed = errors.New("storage: closed")

// ErrCompacted is returned by GetPage for a position below the source's retention horizon:
// the versions needed to rebuild the page exactly there may have been folded away. A reader
// that needs the page's current version (the read-write node's buffer pool) reads again at a
// newer position.
var ErrCompacted = errors.New("storage: position below the retention horizon")

// ErrTruncated is wrapped by a log read below the log's first retained LSN: the bytes are
// gone, and a follower that needed them starts again from the pages (a re-sync).
var ErrTruncated = errors.New("storage: LSN below the first retained LSN")

// ErrPageNotFound is returned by GetPage for a page that has no version at the asked position.
var ErrPageNotFound = errors.New("storage: page not found")

// ErrStalled is wrapped by a WaitDurable error when the log could not make the bytes durable
// in time (a replicated log without a quorum) but keeps them: they become durable by
// themselves when the log recovers, so the caller's pages still match the log and a later
// WaitDurable may succeed.
var ErrStalled = errors.New("storage: log stalled")

// LogReader reads durable redo. Page Stores and read-only nodes consume the log through it.
type LogReader interface {
	// Read returns durable log bytes starting at from, at most max of them. It blocks until at
	// least one byte at or after from is durable, or ctx ends. The bytes may end inside a record;
	// the caller keeps the incomplete tail and reads on. Reading below the log's first retained
	// LSN is an error.
	Read(ctx context.Context, from page.LSN, max int) ([]byte, error)
	// Durable returns the LSN up to which the log is durable (exclusive).
	Durable() page.LSN
}

// Log is the redo log as the read-write node sees it.
type Log interface {
	LogReader
	// Append adds sealed redo records and returns the LSN of their first byte and the LSN just
	// after them. complete says whether the bytes end at a group end; a large group may be
	// appended in several pieces, all but the last with complete false. Appends are ordered:
	// the caller serialises them.
	Append(b []byte, complete bool) (start, end page.LSN, err error)
	// End returns the LSN after the last appended byte: where the next record will start.
	End() page.LSN
	// WaitDurable blocks until every byte below lsn is durable, or ctx ends.
	WaitDurable(ctx context.Context, lsn page.LSN) error
	// Truncate discards log below before, where the storage allows: only what every Page Store
	// replica has persisted may be discarded.
	Truncate(before page.LSN) error
	Close() error
}

// PageSource returns pages as of a log position.
type PageSource interface {
	// GetPage fills dst with page id with every record whose LSN is below lsn applied, waiting
	// until the source has consumed the log up to lsn. dst is sealed (checksum set).
	GetPage(ctx context.Context, id page.ID, lsn page.LSN, dst *page.Page) error
}
