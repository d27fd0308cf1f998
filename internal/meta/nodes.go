package meta

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"strata/internal/retry"
)

// Member is a node the cluster should have.
type Member struct {
	Role string `json:"role"`
	ID   string `json:"id"`
	Addr string `json:"addr,omitempty"`
}

// Node is a node's status: what a running node publishes, or a member's last known address
// with state "down".
type Node struct {
	Role string `json:"role"`
	ID   string `json:"id"`
	Addr string `json:"addr"`
	// Metrics is where the node serves Prometheus metrics (host:port, path /metrics); "" when
	// it serves none.
	Metrics string `json:"metrics,omitempty"`
	PID     int    `json:"pid"`
	State   string `json:"state"`
	// Log positions the node knows (0: not applicable to its role).
	Durable   uint64 `json:"durable,omitempty"`
	Applied   uint64 `json:"applied,omitempty"`
	Persisted uint64 `json:"persisted,omitempty"`
	Epoch     uint64 `json:"epoch,omitempty"`
	// Horizon is a read-only node's oldest read view: the writer's purge and the Page
	// Stores' compaction keep what it needs.
	Horizon uint64 `json:"horizon,omitempty"`
	// Pinned is the oldest position a read-only node reads the past at (its AS OF views,
	// docs/history.md): the writer keeps the Page Stores' horizon at or below it.
	Pinned uint64 `json:"pinned,omitempty"`
	// LagMs is how far a read-only node's view is behind the log, in milliseconds.
	LagMs float64 `json:"lag_ms,omitempty"`
	// Gen counts the times a read-only node had to be acknowledged anew (after it could
	// not publish its horizon in time); it is part of its ReaderKey.
	Gen uint64 `json:"gen,omitempty"`
	// Acks, on the writer, says for each read-only node instance (ReaderKey) from which LSN
	// on its reported horizon is honoured: that node serves only snapshots at or past it.
	Acks map[string]uint64 `json:"acks,omitempty"`
	// Archived is where the writer's copy of the log in the archive ends (0: no archive), and
	// ArchiveError why it cannot upload now, if it cannot (docs/history.md).
	Archived     uint64 `json:"archived,omitempty"`
	ArchiveError string `json:"archive_error,omitempty"`
	// Timeline is the timeline a compute node serves (docs/history.md).
	Timeline uint64    `json:"timeline,omitempty"`
	Updated  time.Time `json:"updated"`
}

// ReaderKey names one run of a read-only node in the writer's Acks: a restarted node, or one
// that lost its acknowledgement (a new Gen), is a new reader, which must be acknowledged
// again.
func (n Node) ReaderKey() string { return fmt.Sprintf("%s/%d/%d", n.ID, n.PID, n.Gen) }

// HeartbeatTimeout is how old a node's last published status may grow before the node is
// taken as down although its live key is still there: a running node publishes every
// second, and its live key outlives a dead node by up to its 5 s lease.
const HeartbeatTimeout = 3 * time.Second

// IsDown says whether n is to be taken as down at now: it has no live key (state "down"), or
// its last status is older than HeartbeatTimeout. `strata ctl status` and the web console
// both decide with it.
func (n Node) IsDown(now time.Time) bool {
	return n.State == StateDown || (!n.Updated.IsZero() && now.Sub(n.Updated) > HeartbeatTimeout)
}

// PutMember records a member.
func (c *Client) PutMember(ctx context.Context, m Member) error {
	if err := validName("role", m.Role); err != nil {
		return err
	}
	if err := validName("node ID", m.ID); err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := c.c.Put(ctx, c.k.member(m.Role, m.ID), string(b)); err != nil {
		return fmt.Errorf("meta: record member %s/%s: %w", m.Role, m.ID, err)
	}
	return nil
}

// Members returns the recorded members of role, sorted by ID.
func (c *Client) Members(ctx context.Context, role string) ([]Member, error) {
	r, err := c.c.Get(ctx, c.k.members(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("meta: list members: %w", err)
	}
	var out []Member
	for _, kv := range r.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			c.log.Warn("meta: malformed member", "key", string(kv.Key), "err", err)
			continue
		}
		if m.Role == role {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteMember forgets a member.
func (c *Client) DeleteMember(ctx context.Context, role, id string) error {
	if _, err := c.c.Delete(ctx, c.k.member(role, id)); err != nil {
		return fmt.Errorf("meta: delete member %s/%s: %w", role, id, err)
	}
	return nil
}

// otherCompute maps each compute role to the other one.
var otherCompute = map[string]string{RoleRW: RoleRO, RoleRO: RoleRW}

var roleOrder = map[string]int{RoleMeta: 0, RoleLogStore: 1, RolePageStore: 2, RoleRW: 3, RoleRO: 4, RoleProxy: 5}

// Nodes returns every member and every live node, sorted by role and ID: live nodes with the
// status they publish, members without a live node as "down".
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	r, err := c.c.Txn(ctx).Then(
		clientv3.OpGet(c.k.members(), clientv3.WithPrefix()),
		clientv3.OpGet(c.k.live(), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("meta: list nodes: %w", err)
	}
	byKey := map[string]Node{}
	for _, kv := range r.Responses[0].GetResponseRange().Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			c.log.Warn("meta: malformed member", "key", string(kv.Key), "err", err)
			continue
		}
		byKey[m.Role+"/"+m.ID] = Node{Role: m.Role, ID: m.ID, Addr: m.Addr, State: StateDown}
	}
	for _, kv := range r.Responses[1].GetResponseRange().Kvs {
		var n Node
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			c.log.Warn("meta: malformed node status", "key", string(kv.Key), "err", err)
			continue
		}
		if n.State == "" {
			n.State = StateUp
		}
		byKey[n.Role+"/"+n.ID] = n
	}
	// A compute node changes role with failover: a member recorded as one role that runs as
	// the other is shown once, as it runs.
	for k, n := range byKey {
		if n.State != StateDown || n.PID != 0 {
			continue
		}
		if other, ok := otherCompute[n.Role]; ok {
			if o, ok := byKey[other+"/"+n.ID]; ok && o.State != StateDown {
				delete(byKey, k)
			}
		}
	}
	out := make([]Node, 0, len(byKey))
	for _, n := range byKey {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Node) int {
		ra, oka := roleOrder[a.Role]
		rb, okb := roleOrder[b.Role]
		if !oka {
			ra = len(roleOrder)
		}
		if !okb {
			rb = len(roleOrder)
		}
		return cmp.Or(cmp.Compare(ra, rb), strings.Compare(a.Role, b.Role), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// Registration keeps a node's live key alive; it re-registers after etcd comes back.
type Registration struct {
	c      *Client
	key    string
	ttl    time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	node  Node
	lease clientv3.LeaseID
}

// Register publishes n as live under a lease of ttl (at least a second) and keeps it alive
// until Close. Update publishes new status.
func (c *Client) Register(ctx context.Context, n Node, ttl time.Duration) (*Registration, error) {
	if err := validName("role", n.Role); err != nil {
		return nil, err
	}
	if err := validName("node ID", n.ID); err != nil {
		return nil, err
	}
	ttl = max(ttl, time.Second)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &Registration{c: c, key: c.k.liveNode(n.Role, n.ID), ttl: ttl, cancel: cancel, done: make(chan struct{}), node: n}
	if err := r.register(ctx); err != nil {
		cancel()
		return nil, err
	}
	go r.keepAlive(rctx)
	return r, nil
}

func (r *Registration) register(ctx context.Context) error {
	g, err := r.c.c.Grant(ctx, int64(r.ttl/time.Second))
	if err != nil {
		return fmt.Errorf("meta: lease for %s: %w", r.key, err)
	}
	r.mu.Lock()
	r.lease = g.ID
	r.mu.Unlock()
	return r.put(ctx)
}

func (r *Registration) put(ctx context.Context) error {
	r.mu.Lock()
	n, lease := r.node, r.lease
	r.mu.Unlock()
	n.Updated = time.Now().UTC()
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if _, err := r.c.c.Put(ctx, r.key, string(b), clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("meta: publish %s: %w", r.key, err)
	}
	return nil
}

func (r *Registration) keepAlive(ctx context.Context) {
	defer close(r.done)
	backoff := retry.NewBackoff(100*time.Millisecond, 2*time.Second)
	for ctx.Err() == nil {
		r.mu.Lock()
		lease := r.lease
		r.mu.Unlock()
		ch, err := r.c.c.KeepAlive(ctx, lease)
		if err == nil {
			for range ch { // drained until the lease is lost or ctx ends
				backoff.Reset()
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The lease expired or etcd went away: register again when it answers.
		if !backoff.Wait(ctx) {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, r.ttl)
		if err := r.register(cctx); err != nil {
			r.c.log.Debug("meta: re-register", "key", r.key, "err", err)
		}
		cancel()
	}
}

// Update publishes new status for the node (its role and ID cannot change).
func (r *Registration) Update(ctx context.Context, n Node) error {
	r.mu.Lock()
	n.Role, n.ID = r.node.Role, r.node.ID
	r.node = n
	r.mu.Unlock()
	return r.put(ctx)
}

// Close stops keeping the node alive and deletes its live key.
func (r *Registration) Close(ctx context.Context) error {
	r.cancel()
	<-r.done
	r.mu.Lock()
	lease := r.lease
	r.mu.Unlock()
	if _, err := r.c.c.Revoke(ctx, lease); err != nil {
		return fmt.Errorf("meta: revoke %s: %w", r.key, err)
	}
	return nil
}
