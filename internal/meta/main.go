package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"strata/internal/redo"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The main database is a timeline like a branch's (docs/history.md): the first one is
// timeline 0, whose log starts at the beginning; a point-in-time restore makes a branch of it
// the main database (SwapMain). The key "main" holds the main database's timeline as a Branch
// record without a name; while it is absent the main database is timeline 0. The main
// database's writer, read-only nodes, proxy and failover keep the cluster's own keys (epoch,
// writer, live/…) whichever timeline it is.

func (k keys) main() string { return k.prefix + "main" }

// Main returns the main database's timeline: Timeline 0 with no branch point until a restore.
func (c *Client) Main(ctx context.Context) (Branch, error) {
	b, _, err := c.main(ctx)
	return b, err
}

func (c *Client) main(ctx context.Context) (Branch, int64, error) {
	r, err := c.c.Get(ctx, c.k.main())
	if err != nil {
		return Branch{}, 0, fmt.Errorf("meta: read the main timeline: %w", err)
	}
	if len(r.Kvs) == 0 {
		return Branch{}, 0, nil
	}
	var b Branch
	if err := json.Unmarshal(r.Kvs[0].Value, &b); err != nil {
		return Branch{}, 0, fmt.Errorf("meta: malformed %s: %w", r.Kvs[0].Key, err)
	}
	return b, r.Kvs[0].ModRevision, nil
}

// Timelines returns every timeline the Page Stores serve: the main database's and every
// branch's (retired ones included, pending ones not), parents before children.
func (c *Client) Timelines(ctx context.Context) ([]Branch, error) {
	m, err := c.Main(ctx)
	if err != nil {
		return nil, err
	}
	bs, err := c.Branches(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.c.Get(ctx, c.k.retired(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("meta: read the retired timelines: %w", err)
	}
	out := make([]Branch, 0, len(bs)+len(r.Kvs)+1)
	if m.Timeline != 0 {
		out = append(out, m)
	}
	for _, kv := range r.Kvs {
		var b Branch
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			return nil, fmt.Errorf("meta: malformed %s: %w", kv.Key, err)
		}
		out = append(out, b)
	}
	for _, b := range bs {
		if b.LSN != 0 {
			out = append(out, b)
		}
	}
	// A timeline is made from an older one: its number is higher.
	sort.Slice(out, func(i, j int) bool { return out[i].Timeline < out[j].Timeline })
	return out, nil
}

// ErrNotReady is returned by SwapMain for a restore whose point is not fixed.
var ErrNotReady = errors.New("meta: not ready")

// SwapMain makes the restore branch name the main database and keeps the main database as it
// was as branch prev, in one transaction: either both happen or neither. The previous main
// database's writer epoch becomes prev's, so that prev's writer fences it out of its log; the
// main database's writer and read-only nodes see the new main timeline and move to it.
func (c *Client) SwapMain(ctx context.Context, name, prev string) (Branch, error) {
	if err := ValidSnapshotName(prev); err != nil {
		return Branch{}, fmt.Errorf("meta: branch name: %w", err)
	}
	key := c.k.branch(name)
	r, err := c.c.Get(ctx, key)
	if err != nil {
		return Branch{}, fmt.Errorf("meta: read branch %s: %w", name, err)
	}
	if len(r.Kvs) == 0 {
		return Branch{}, fmt.Errorf("%w: restore %s", ErrNotFound, name)
	}
	var rb Branch
	if err := json.Unmarshal(r.Kvs[0].Value, &rb); err != nil {
		return Branch{}, fmt.Errorf("meta: malformed %s: %w", key, err)
	}
	switch {
	case !rb.Restore:
		return Branch{}, fmt.Errorf("meta: branch %s is not a restore", name)
	case rb.Error != "":
		return Branch{}, fmt.Errorf("meta: restore %s is void: %s", name, rb.Error)
	case rb.LSN == 0:
		return Branch{}, fmt.Errorf("%w: restore %s has no point yet", ErrNotReady, name)
	}
	old, mainRev, err := c.main(ctx)
	if err != nil {
		return Branch{}, err
	}
	if rb.Base != old.Timeline {
		return Branch{}, fmt.Errorf("meta: restore %s was made from timeline %d, the main database is timeline %d now", name, rb.Base, old.Timeline)
	}
	epoch, epochRev, err := c.epoch(ctx)
	if err != nil {
		return Branch{}, err
	}
	prevRec := old
	prevRec.Name, prevRec.Created = prev, rb.Created
	if prevRec.LSN == 0 { // the first main database: its log starts at the beginning
		prevRec.LSN = uint64(redo.StartLSN)
	}
	nm := rb
	nm.Name, nm.Restore = "", false
	pv, err := json.Marshal(prevRec)
	if err != nil {
		return Branch{}, err
	}
	mv, err := json.Marshal(nm)
	if err != nil {
		return Branch{}, err
	}
	pk := c.k.branch(prev)
	branchEpoch := c.ForBranch(prev).k.epoch()
	t, err := c.c.Txn(ctx).If(
		clientv3.Compare(clientv3.ModRevision(key), "=", r.Kvs[0].ModRevision),
		clientv3.Compare(clientv3.ModRevision(c.k.main()), "=", mainRev),
		clientv3.Compare(clientv3.ModRevision(c.k.epoch()), "=", epochRev),
		clientv3.Compare(clientv3.CreateRevision(pk), "=", 0),
	).Then(
		clientv3.OpPut(c.k.main(), string(mv)),
		clientv3.OpPut(pk, string(pv)),
		clientv3.OpPut(branchEpoch, strconv.FormatUint(epoch, 10)),
		clientv3.OpDelete(key),
	).Else(clientv3.OpGet(pk)).Commit()
	if err != nil {
		return Branch{}, fmt.Errorf("meta: make restore %s the main database: %w", name, err)
	}
	if !t.Succeeded {
		if len(t.Responses) > 0 && len(t.Responses[0].GetResponseRange().Kvs) > 0 {
			return Branch{}, fmt.Errorf("%w: branch %s", ErrExists, prev)
		}
		return Branch{}, fmt.Errorf("meta: make restore %s the main database: the control plane changed meanwhile; try again", name)
	}
	return nm, nil
}

// InHistory says whether position lsn of timeline of is part of timeline tl's history: tl is
// of, or tl was made (through its bases) from of at a branch point at or above lsn.
// timelines are the records of Timelines.
func InHistory(lsn, of, tl uint64, timelines []Branch) bool {
	limit := uint64(math.MaxUint64)
	for range len(timelines) + 1 {
		if tl == of {
			return lsn <= limit
		}
		i := slices.IndexFunc(timelines, func(b Branch) bool { return b.Timeline == tl && b.Timeline != b.Base })
		if i < 0 {
			return false
		}
		limit = min(limit, timelines[i].LSN)
		tl = timelines[i].Base
	}
	return false
}
