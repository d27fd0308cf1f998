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
	Name     string    `json:"name"`
	Timeline uint64    `json:"timeline"`
	At       time.Time `json:"at"`                 // the moment asked for
	AtLSN    uint64    `json:"at_lsn,omitempty"`   // or the log position asked for
	Snapshot string    `json:"snapshot,omitempty"` // or the snapshot asked for
	LSN      uint64    `json:"lsn,omitempty"`      // the branch point, once fixed
	Error    string    `json:"error,omitempty"`    // why the branch point could not be fixed
	Created  time.Time `json:"created"`
}

// Pending says whether the writer has yet to fix the branch point.
func (b Branch) Pending() bool { return b.LSN == 0 && b.Error == "" }

// State describes the branch for people: ready, pending, or void with the reason.
func (b Branch) State() string { return recordState(b.LSN, b.Error) }

// ErrInUse is returned when deleting something another record depends on.
var ErrInUse = errors.New("meta: in use")

func (k keys) branches() string          { return k.prefix + "branches/" }
func (k keys) branch(name string) string { return k.branches() + name }
func (k keys) timelineSeq() string       { return k.prefix + "timeline-seq" }

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
		cur.LSN, cur.Error = b.LSN, b.Error
		return true
	})
}

// DeleteBranch deletes the branch record (ErrNotFound when there is none).
func (c *Client) DeleteBranch(ctx context.Context, name string) error {
	if err := ValidSnapshotName(name); err != nil {
		return fmt.Errorf("meta: branch name: %w", err)
	}
	r, err := c.c.Delete(ctx, c.k.branch(name))
	if err != nil {
		return fmt.Errorf("meta: delete branch %s: %w", name, err)
	}
	if r.Deleted == 0 {
		return fmt.Errorf("%w: branch %s", ErrNotFound, name)
	}
	return nil
}
