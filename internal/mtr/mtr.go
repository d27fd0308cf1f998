// Package mtr provides mini-transactions: a group of redo records applied to pages in the
// buffer pool as they are generated and appended to the log as one atomic group. The caller
// holds the engine's writer lock for the whole mini-transaction, so the LSN of every record is
// known when it is made (the log end plus its offset in the group) and pages are stamped with
// exactly the LSN a replaying node will give them.
package mtr

import (
	"context"
	"fmt"

	"strata/internal/bufpool"
	"strata/internal/page"
	"strata/internal/redo"
	"strata/internal/storage"
)

// Mtr is one mini-transaction.
type Mtr struct {
	ctx   context.Context
	pool  *bufpool.Pool
	log   storage.Log
	g     *redo.Group
	base  page.LSN // LSN of the group's first byte not yet appended
	dirty map[page.ID]struct{}
	// SpillPages is the number of distinct pages changed after which Spill appends the records
	// so far (as an incomplete group) so that those pages can be evicted.
	SpillPages int
	spilled    bool
}

// Begin starts a mini-transaction at the current end of the log. The caller must hold the
// writer lock until Finish or Abort.
func Begin(ctx context.Context, pool *bufpool.Pool, log storage.Log) *Mtr {
	return &Mtr{ctx: ctx, pool: pool, log: log, g: redo.NewGroup(), base: log.End(),
		dirty: map[page.ID]struct{}{}, SpillPages: pool.Size() / 4}
}

// Context returns the mini-transaction's context.
func (m *Mtr) Context() context.Context { return m.ctx }

// Pool returns the buffer pool.
func (m *Mtr) Pool() *bufpool.Pool { return m.pool }

// Group returns the redo group being built; callers add a record with it and pass the result
// to Apply.
func (m *Mtr) Group() *redo.Group { return m.g }

// Apply applies rec, just added to the group, to the exclusively latched frame f.
func (m *Mtr) Apply(f *bufpool.Frame, rec redo.Record) error {
	lsn := m.base + page.LSN(m.g.Len()-rec.Size())
	if err := redo.Apply(&f.Page, lsn, rec); err != nil {
		return err
	}
	m.dirty[rec.Page] = struct{}{}
	return nil
}

// Get returns page id from the pool, latched in mode.
func (m *Mtr) Get(id page.ID, mode bufpool.Mode) (*bufpool.Frame, error) {
	return m.pool.Get(m.ctx, id, mode)
}

// Release unlatches a frame.
func (m *Mtr) Release(f *bufpool.Frame, mode bufpool.Mode) { m.pool.Release(f, mode) }

// Alloc returns a new page, exclusively latched and uninitialised (the caller records its
// initialisation), taking it from the free list or past the high-water mark.
func (m *Mtr) Alloc() (*bufpool.Frame, error) {
	mf, err := m.Get(page.MetaID, bufpool.Exclusive)
	if err != nil {
		return nil, err
	}
	defer m.Release(mf, bufpool.Exclusive)
	meta := mf.Page.Meta()
	var f *bufpool.Frame
	if meta.FreeHead != page.Invalid {
		f, err = m.Get(meta.FreeHead, bufpool.Exclusive)
		if err != nil {
			return nil, err
		}
		if f.Page.Type() != page.TypeFree {
			m.Release(f, bufpool.Exclusive)
			return nil, fmt.Errorf("mtr: free list head %d is a %s page", meta.FreeHead, f.Page.Type())
		}
		meta.FreeHead = f.Page.Next()
		meta.FreeCount--
	} else {
		id := meta.NextPage
		f, err = m.pool.New(m.ctx, id)
		if err != nil {
			return nil, err
		}
		meta.NextPage++
	}
	if err := m.Apply(mf, m.g.Meta(meta)); err != nil {
		m.Release(f, bufpool.Exclusive)
		return nil, err
	}
	return f, nil
}

// Free puts the exclusively latched page f on the free list. The caller still releases f.
func (m *Mtr) Free(f *bufpool.Frame) error {
	mf, err := m.Get(page.MetaID, bufpool.Exclusive)
	if err != nil {
		return err
	}
	defer m.Release(mf, bufpool.Exclusive)
	meta := mf.Page.Meta()
	id := f.ID()
	if err := m.Apply(f, m.g.Free(id, meta.FreeHead)); err != nil {
		return err
	}
	meta.FreeHead = id
	meta.FreeCount++
	return m.Apply(mf, m.g.Meta(meta))
}

// Commit adds a transaction's commit record, with its commit time in µs since the Unix epoch.
func (m *Mtr) Commit(txn uint64, at int64) { m.g.Commit(txn, at) }

// Base returns the LSN at which the group (or the part of it not yet spilled) starts.
func (m *Mtr) Base() page.LSN { return m.base }

// Spill appends the records so far as an incomplete group when many pages have changed, and
// waits until they are durable, so that a large transaction never needs more of the buffer
// pool than it has. Call it only between operations, with no page latched.
func (m *Mtr) Spill() error {
	if len(m.dirty) < m.SpillPages || m.g.Empty() {
		return nil
	}
	b := m.g.Partial()
	start, end, err := m.log.Append(b, false)
	if err != nil {
		return err
	}
	if start != m.base {
		return fmt.Errorf("mtr: log appended at %d, expected %d: another writer", start, m.base)
	}
	m.base = end
	m.g.Reset()
	clear(m.dirty)
	m.spilled = true
	return m.log.WaitDurable(m.ctx, end)
}

// Finish appends the group to the log and returns the LSN after it. An empty group appends
// nothing and returns the current end.
func (m *Mtr) Finish() (page.LSN, error) {
	if m.g.Empty() {
		if !m.spilled {
			return m.base, nil
		}
		m.g.End() // the spilled records still need their group end
	}
	start, end, err := m.log.Append(m.g.Bytes(), true)
	if err != nil {
		return 0, err
	}
	if start != m.base {
		return 0, fmt.Errorf("mtr: log appended at %d, expected %d: another writer", start, m.base)
	}
	return end, nil
}

// Empty reports whether nothing has been recorded.
func (m *Mtr) Empty() bool { return m.g.Empty() && !m.spilled }

// Bootstrap creates the meta page of a new database; the first allocation gets page 2.
func (m *Mtr) Bootstrap() error {
	f, err := m.pool.New(m.ctx, page.MetaID)
	if err != nil {
		return err
	}
	defer m.Release(f, bufpool.Exclusive)
	return m.Apply(f, m.g.Meta(page.Meta{Magic: page.MetaMagic, NextPage: page.MetaID + 1}))
}
