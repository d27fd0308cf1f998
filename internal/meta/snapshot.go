package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Snapshot is a named moment of the database that the Page Stores keep until it is deleted,
// whatever the history window (docs/history.md). Taking one records the moment; the writer
// then fixes its log position (LSN, 0 until then) and holds the Page Stores' compaction
// horizon at or below it.
type Snapshot struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`            // the moment asked for
	LSN  uint64    `json:"lsn,omitempty"` // the log position as of At, once the writer fixed it
	// Error, when set, says why the writer could not fix the position (the snapshot is void).
	Error string `json:"error,omitempty"`
	// Timeline is the timeline LSN is a position of: the main database's when the writer
	// fixed it (a restore makes another timeline the main database, docs/history.md).
	Timeline uint64 `json:"timeline,omitempty"`
}

// Pending says whether the writer has yet to fix the snapshot's position.
func (s Snapshot) Pending() bool { return s.LSN == 0 && s.Error == "" }

// State describes the snapshot for people: ready, pending, or void with the reason.
func (s Snapshot) State() string { return recordState(s.LSN, s.Error) }

// recordState is the State of a snapshot or branch: its position, or why it has none.
func recordState(lsn uint64, void string) string {
	switch {
	case void != "":
		return "void: " + void
	case lsn == 0:
		return "pending"
	}
	return "ready"
}

// ErrExists is returned when creating something whose name is taken.
var ErrExists = errors.New("meta: already exists")

// snapshotName is what a snapshot name may be: a letter first (a moment or a log position
// given to AS OF starts with a digit), then letters, digits, '_', '-' and '.'.
var snapshotName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// ValidSnapshotName checks a snapshot name.
func ValidSnapshotName(name string) error {
	if !snapshotName.MatchString(name) {
		return fmt.Errorf("meta: snapshot name %q: a letter, then up to 63 letters, digits, '_', '-' or '.'", name)
	}
	return nil
}

func (k keys) snapshots() string           { return k.prefix + "snapshots/" }
func (k keys) snapshot(name string) string { return k.snapshots() + name }

// CreateSnapshot records a new snapshot (ErrExists if the name is taken).
func (c *Client) CreateSnapshot(ctx context.Context, s Snapshot) error {
	if err := ValidSnapshotName(s.Name); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	key := c.k.snapshot(s.Name)
	r, err := c.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(b))).Commit()
	if err != nil {
		return fmt.Errorf("meta: create snapshot %s: %w", s.Name, err)
	}
	if !r.Succeeded {
		return fmt.Errorf("%w: snapshot %s", ErrExists, s.Name)
	}
	return nil
}

// Snapshot returns the snapshot name (ErrNotFound when there is none).
func (c *Client) Snapshot(ctx context.Context, name string) (Snapshot, error) {
	if err := ValidSnapshotName(name); err != nil {
		return Snapshot{}, err
	}
	var s Snapshot
	return s, c.getJSON(ctx, c.k.snapshot(name), &s)
}

// Snapshots returns every snapshot, oldest moment first.
func (c *Client) Snapshots(ctx context.Context) ([]Snapshot, error) {
	r, err := c.c.Get(ctx, c.k.snapshots(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("meta: read snapshots: %w", err)
	}
	out := make([]Snapshot, 0, len(r.Kvs))
	for _, kv := range r.Kvs {
		var s Snapshot
		if err := json.Unmarshal(kv.Value, &s); err != nil {
			return nil, fmt.Errorf("meta: malformed %s: %w", kv.Key, err)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// FixSnapshot records the position (or the error) the writer fixed for a pending snapshot;
// it does nothing if the snapshot was deleted or fixed meanwhile.
func (c *Client) FixSnapshot(ctx context.Context, s Snapshot) error {
	return fixPending(ctx, c, c.k.snapshot(s.Name), func(cur *Snapshot) bool {
		if !cur.Pending() {
			return false
		}
		cur.LSN, cur.Error, cur.Timeline = s.LSN, s.Error, s.Timeline
		return true
	})
}

// fixPending changes the record under key with fix, if fix says it should (the record is
// still pending), unless the record is gone or changed meanwhile: a compare-and-swap on its
// revision, so a record deleted or fixed by another writer stays as it is.
func fixPending[T any](ctx context.Context, c *Client, key string, fix func(*T) bool) error {
	r, err := c.c.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("meta: read %s: %w", key, err)
	}
	if len(r.Kvs) == 0 {
		return nil
	}
	var cur T
	if err := json.Unmarshal(r.Kvs[0].Value, &cur); err != nil {
		return fmt.Errorf("meta: malformed %s: %w", key, err)
	}
	if !fix(&cur) {
		return nil
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return err
	}
	_, err = c.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", r.Kvs[0].ModRevision)).
		Then(clientv3.OpPut(key, string(b))).Commit()
	if err != nil {
		return fmt.Errorf("meta: fix %s: %w", key, err)
	}
	return nil
}

// DeleteSnapshot deletes the snapshot name (ErrNotFound when there is none; ErrInUse while
// a branch made at it waits for its branch point).
func (c *Client) DeleteSnapshot(ctx context.Context, name string) error {
	if err := ValidSnapshotName(name); err != nil {
		return err
	}
	branches, err := c.Branches(ctx)
	if err != nil {
		return err
	}
	for _, b := range branches {
		if b.Snapshot == name && b.Pending() {
			return fmt.Errorf("%w: snapshot %s: branch %s is being made at it", ErrInUse, name, b.Name)
		}
	}
	r, err := c.c.Delete(ctx, c.k.snapshot(name))
	if err != nil {
		return fmt.Errorf("meta: delete snapshot %s: %w", name, err)
	}
	if r.Deleted == 0 {
		return fmt.Errorf("%w: snapshot %s", ErrNotFound, name)
	}
	return nil
}
