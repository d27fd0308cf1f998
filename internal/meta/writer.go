package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Writer records which node took the current writer epoch, and when.
type Writer struct {
	ID    string    `json:"id"`
	Epoch uint64    `json:"epoch"`
	At    time.Time `json:"at"`
}

// Switchover is a planned change of writer: the writer of Epoch steps down and Target ("":
// the most caught-up read-only node) takes over.
type Switchover struct {
	Epoch  uint64    `json:"epoch"`
	Target string    `json:"target,omitempty"`
	At     time.Time `json:"at"`
}

// ErrNotFound is returned when a key is absent.
var ErrNotFound = errors.New("meta: not found")

// ClaimEpoch takes the epoch after seen for node id, only if the epoch is still seen: of the
// nodes that saw the same epoch, exactly one wins (the others get ErrEpochRace). It records
// the winner (see Writer) in the same transaction and returns the new epoch.
func (c *Client) ClaimEpoch(ctx context.Context, seen uint64, id string) (uint64, error) {
	if err := validName("node ID", id); err != nil {
		return 0, err
	}
	cur, rev, err := c.epoch(ctx)
	if err != nil {
		return 0, err
	}
	if cur != seen {
		return 0, fmt.Errorf("%w: it is %d, not %d", ErrEpochRace, cur, seen)
	}
	next := seen + 1
	w, err := json.Marshal(Writer{ID: id, Epoch: next, At: time.Now().UTC()})
	if err != nil {
		return 0, err
	}
	key := c.k.epoch()
	cmp := clientv3.Compare(clientv3.ModRevision(key), "=", rev)
	if rev == 0 {
		cmp = clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	}
	r, err := c.c.Txn(ctx).If(cmp).Then(
		clientv3.OpPut(key, strconv.FormatUint(next, 10)),
		clientv3.OpPut(c.k.writer(), string(w)),
	).Commit()
	if err != nil {
		return 0, fmt.Errorf("meta: claim epoch %d: %w", next, err)
	}
	if !r.Succeeded {
		return 0, fmt.Errorf("%w: claim epoch %d", ErrEpochRace, next)
	}
	return next, nil
}

// Writer returns the record of the last ClaimEpoch (ErrNotFound before any).
func (c *Client) Writer(ctx context.Context) (Writer, error) {
	var w Writer
	return w, c.getJSON(ctx, c.k.writer(), &w)
}

// RequestSwitchover records a planned switchover.
func (c *Client) RequestSwitchover(ctx context.Context, s Switchover) error {
	if s.Target != "" {
		if err := validName("node ID", s.Target); err != nil {
			return err
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := c.c.Put(ctx, c.k.switchover(), string(b)); err != nil {
		return fmt.Errorf("meta: request a switchover: %w", err)
	}
	return nil
}

// PendingSwitchover returns the recorded switchover (ErrNotFound when there is none). It is
// pending while its epoch is the current one.
func (c *Client) PendingSwitchover(ctx context.Context) (Switchover, error) {
	var s Switchover
	return s, c.getJSON(ctx, c.k.switchover(), &s)
}

func (c *Client) getJSON(ctx context.Context, key string, v any) error {
	r, err := c.c.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("meta: read %s: %w", key, err)
	}
	if len(r.Kvs) == 0 {
		return ErrNotFound
	}
	if err := json.Unmarshal(r.Kvs[0].Value, v); err != nil {
		return fmt.Errorf("meta: malformed %s: %w", key, err)
	}
	return nil
}
