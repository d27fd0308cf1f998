package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Branch is a writable database made from the main one's state at a moment (docs/history.md):
// timeline Timeline, whose log starts at the branch point LSN. Creating one records the
// moment (or a snapshot); the main database's writer then fixes the branch point, a group
// end, and holds its Page Stores' horizon at or below it as long as the branch lives.
type Branch struct {
	Name     string `json:"name"`
	Timeline uint64 `json:"timeline"`
	// Base is the timeline the branch was made from (0: the first main database's). After a
	// point-in-time restore the main database is a branch of the timeline before it.
	Base     uint64    `json:"base,omitempty"`
	At       time.Time `json:"at"`                 // the moment asked for
	AtLSN    uint64    `json:"at_lsn,omitempty"`   // or the log position asked for
	Snapshot string    `json:"snapshot,omitempty"` // or the snapshot asked for
	// From is the branch it is made from ("": the main database); that branch's writer fixes
	// its point.
	From    string    `json:"from,omitempty"`
	LSN     uint64    `json:"lsn,omitempty"`   // the branch point, once fixed
	Error   string    `json:"error,omitempty"` // why the branch point could not be fixed
	Created time.Time `json:"created"`
	// Restore marks the branch a point-in-time restore makes: it has no writer of its own,
	// and becomes the main database (SwapMain) once its point is fixed.
	Restore bool `json:"restore,omitempty"`
	// Retired marks a branch deleted while another timeline is made from it (the main
	// database after a restore): its record moves out of the branches (under retired/<timeline>,
	// so that its name is free again), it has no writer, but the Page Stores keep its store,
	// which its children read below their branch points.
	Retired bool `json:"retired,omitempty"`
	// Archive, when set, says the timeline was made from the archive: its point was older
	// than what the Page Stores keep, so its store shares no page with its base's; its log
	// starts where a base of the archive was taken (or at the log's first position) and its
	// writer first copies the archived log from there to the branch point.
	Archive *ArchiveStart `json:"archive,omitempty"`
}

// ArchiveStart is where a timeline made from the archive starts (docs/history.md, "Branches
// and restores from the archive").
type ArchiveStart struct {
	// Start is where its log starts: the base's position, or the log's first.
	Start uint64 `json:"start"`
	// BaseTimeline is the timeline of the archive's base at Start; Base says there is one (else
	// the timeline starts from the log's first position, with no pages).
	BaseTimeline uint64 `json:"base_timeline,omitempty"`
	Base         bool   `json:"base,omitempty"`
	// Log is the archived log from Start to the branch point, each timeline's part in order.
	Log []ArchiveSegment `json:"log,omitempty"`
}

// ArchiveSegment is the part [Start, End) of timeline Timeline's archived log.
type ArchiveSegment struct {
	Timeline uint64 `json:"timeline"`
	Start    uint64 `json:"start"`
	End      uint64 `json:"end"`
}

// Pending says whether the writer has yet to fix the branch point.
func (b Branch) Pending() bool { return b.LSN == 0 && b.Error == "" }

// State describes the branch for people: ready, pending, or void with the reason.
func (b Branch) State() string {
	if b.Restore && b.Error == "" {
		return "restoring"
	}
	return recordState(b.LSN, b.Error)
}

// Serves says whether the branch has a writer of its own: its point is fixed, and it is
// neither a restore in the making nor retired.
func (b Branch) Serves() bool { return b.LSN != 0 && !b.Restore && !b.Retired }

// ChildOf says whether the branch reads timeline tl's pages below its branch point: it was
// made from tl (and is not tl itself), and not from the archive.
func (b Branch) ChildOf(tl uint64) bool { return b.Base == tl && b.Timeline != tl && b.Archive == nil }

// ErrInUse is returned when deleting something another record depends on.
var ErrInUse = errors.New("meta: in use")

func (k keys) branches() string          { return k.prefix + "branches/" }
func (k keys) branch(name string) string { return k.branches() + name }
func (k keys) timelineSeq() string       { return k.prefix + "timeline-seq" }
func (k keys) retired() string           { return k.prefix + "retired/" }
func (k keys) retiredTimeline(tl uint64) string {
	return k.retired() + strconv.FormatUint(tl, 10)
}

// CreateBranch records a new branch with the next timeline number (set in the returned
// record); ErrExists if the name is taken (by a branch). Names follow snapshot names' rule.
func (c *Client) CreateBranch(ctx context.Context, b Branch) (Branch, error) {
	if err := ValidSnapshotName(b.Name); err != nil {
		return b, fmt.Errorf("meta: branch name: %w", err)
	}
	for {
		r, err := c.c.Get(ctx, c.k.timelineSeq())
		if err != nil {
			return b, fmt.Errorf("meta: read the timeline sequence: %w", err)
		}
		var seq uint64
		cmp := clientv3.Compare(clientv3.CreateRevision(c.k.timelineSeq()), "=", 0)
		if len(r.Kvs) > 0 {
			if seq, err = strconv.ParseUint(string(r.Kvs[0].Value), 10, 64); err != nil {
				return b, fmt.Errorf("meta: malformed timeline sequence: %w", err)
			}
			cmp = clientv3.Compare(clientv3.ModRevision(c.k.timelineSeq()), "=", r.Kvs[0].ModRevision)
		}
		b.Timeline = seq + 1
		val, err := json.Marshal(b)
		if err != nil {
			return b, err
		}
		key := c.k.branch(b.Name)
		t, err := c.c.Txn(ctx).If(cmp, clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(c.k.timelineSeq(), strconv.FormatUint(b.Timeline, 10)), clientv3.OpPut(key, string(val))).
			Else(clientv3.OpGet(key)).Commit()
		if err != nil {
			return b, fmt.Errorf("meta: create branch %s: %w", b.Name, err)
		}
		if t.Succeeded {
			return b, nil
		}
		if len(t.Responses) > 0 && len(t.Responses[0].GetResponseRange().Kvs) > 0 {
			return b, fmt.Errorf("%w: branch %s", ErrExists, b.Name)
		}
		// The sequence moved under us: another branch was created. Again.
	}
}

// Branch returns the branch name (ErrNotFound when there is none).
func (c *Client) Branch(ctx context.Context, name string) (Branch, error) {
	if err := ValidSnapshotName(name); err != nil {
		return Branch{}, fmt.Errorf("meta: branch name: %w", err)
	}
	var b Branch
	return b, c.getJSON(ctx, c.k.branch(name), &b)
}

// Branches returns every branch, by timeline.
func (c *Client) Branches(ctx context.Context) ([]Branch, error) {
	r, err := c.c.Get(ctx, c.k.branches(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("meta: read branches: %w", err)
	}
	out := make([]Branch, 0, len(r.Kvs))
	for _, kv := range r.Kvs {
		var b Branch
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			return nil, fmt.Errorf("meta: malformed %s: %w", kv.Key, err)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timeline < out[j].Timeline })
	return out, nil
}

// FixBranch records the branch point (or the error) the writer fixed for a pending branch; it
// does nothing if the branch was deleted or fixed meanwhile.
func (c *Client) FixBranch(ctx context.Context, b Branch) error {
	return fixPending(ctx, c, c.k.branch(b.Name), func(cur *Branch) bool {
		if !cur.Pending() {
			return false
		}
		cur.LSN, cur.Error, cur.Base, cur.Archive = b.LSN, b.Error, b.Base, b.Archive
		return true
	})
}

// DeleteBranch deletes the branch record (ErrNotFound when there is none). A branch that
// another timeline was made from (the main database after a restore, or a branch of it) is
// retired instead: its record moves under retired/<timeline>, so its writer stops, it is no
// longer listed and its name is free, but its store stays, since the other timeline reads its
// pages below the branch point; retired says so.
func (c *Client) DeleteBranch(ctx context.Context, name string) (retired bool, err error) {
	if err := ValidSnapshotName(name); err != nil {
		return false, fmt.Errorf("meta: branch name: %w", err)
	}
	for range 8 {
		key := c.k.branch(name)
		r, err := c.c.Get(ctx, key)
		if err != nil {
			return false, fmt.Errorf("meta: read branch %s: %w", name, err)
		}
		if len(r.Kvs) == 0 {
			return false, fmt.Errorf("%w: branch %s", ErrNotFound, name)
		}
		var b Branch
		if err := json.Unmarshal(r.Kvs[0].Value, &b); err != nil {
			return false, fmt.Errorf("meta: malformed %s: %w", key, err)
		}
		children, rev, err := c.childrenOf(ctx, b.Timeline)
		if err != nil {
			return false, err
		}
		unchanged := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", r.Kvs[0].ModRevision),
			clientv3.Compare(clientv3.ModRevision(c.k.main()), "=", rev)}
		ops := []clientv3.Op{clientv3.OpDelete(key)}
		if children {
			b.Retired = true
			val, err := json.Marshal(b)
			if err != nil {
				return false, err
			}
			ops = append(ops, clientv3.OpPut(c.k.retiredTimeline(b.Timeline), string(val)))
		}
		t, err := c.c.Txn(ctx).If(unchanged...).Then(ops...).Commit()
		if err != nil {
			return false, fmt.Errorf("meta: delete branch %s: %w", name, err)
		}
		if t.Succeeded {
			if !children {
				return false, c.collectRetired(ctx, b.Base, b.Timeline)
			}
			return true, nil
		}
	}
	return false, fmt.Errorf("meta: delete branch %s: the branches kept changing", name)
}

// collectRetired deletes the retired timeline tl (the base of a timeline just deleted, gone)
// once no timeline is made from it any more, and so on up its bases: its store then goes from
// the Page Stores and its log from the Log Stores.
func (c *Client) collectRetired(ctx context.Context, tl, gone uint64) error {
	for range 1000 {
		if tl == gone {
			return nil
		}
		key := c.k.retiredTimeline(tl)
		r, err := c.c.Get(ctx, key)
		if err != nil || len(r.Kvs) == 0 {
			return err // not retired: a live branch or the main database's
		}
		var b Branch
		if err := json.Unmarshal(r.Kvs[0].Value, &b); err != nil {
			return fmt.Errorf("meta: malformed %s: %w", key, err)
		}
		children, mainRev, err := c.childrenOf(ctx, tl)
		if err != nil || children {
			return err
		}
		t, err := c.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", r.Kvs[0].ModRevision),
			clientv3.Compare(clientv3.ModRevision(c.k.main()), "=", mainRev)).
			Then(clientv3.OpDelete(key)).Commit()
		if err != nil || !t.Succeeded {
			return err
		}
		gone, tl = tl, b.Base
	}
	return nil
}

// childrenOf says whether the main database or a branch was made from timeline tl, with the
// main record's revision (0: none) read.
func (c *Client) childrenOf(ctx context.Context, tl uint64) (bool, int64, error) {
	m, rev, err := c.main(ctx)
	if err != nil {
		return false, 0, err
	}
	if m.ChildOf(tl) {
		return true, rev, nil
	}
	bs, err := c.Timelines(ctx)
	if err != nil {
		return false, 0, err
	}
	for _, o := range bs {
		if o.ChildOf(tl) {
			return true, rev, nil
		}
	}
	return false, rev, nil
}
