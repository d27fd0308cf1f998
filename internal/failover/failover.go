package failover

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Roles and states as the control plane names them (see internal/meta).
const (
	RoleRW  = "rw"
	RoleRO  = "ro"
	StateUp = "up"
)

// Node is what the decisions need of a node's published status.
type Node struct {
	ID      string
	Role    string
	State   string
	Down    bool      // taken as down by the control plane (no live key, or a stale status)
	Epoch   uint64    // a writer's epoch
	Applied uint64    // a read-only node's view
	Updated time.Time // when the node last published its status
	// Refused: the node's MySQL address refused a connection when it was last probed (its
	// process is gone, or it no longer serves). Probed only for a writer whose status is
	// older than the watcher's QuickLease.
	Refused bool
}

// Request is a planned switchover: the writer of Epoch hands over to Target ("" : the best
// candidate).
type Request struct {
	Epoch  uint64
	Target string
}

// Snapshot is the control plane as one read saw it.
type Snapshot struct {
	Now   time.Time
	Epoch uint64 // the current writer epoch
	Nodes []Node
	// Request is the pending planned switchover, if any.
	Request *Request
	// Holder is who took the current epoch and when (zero: unknown).
	Holder Holder
	// Blind is how long the node went without a successful read of the control plane
	// before this one (0 for the first): the control plane was stalled, slow or unreachable.
	Blind time.Duration
}

// Action is what a watcher does next.
type Action int

// Actions.
const (
	Wait  Action = iota // keep serving reads
	Claim               // try to take the epoch after Decision.Epoch and become the writer
)

// Decision is a watcher's answer: the action, the epoch it saw (a claim succeeds only while
// the epoch is still that one), and why.
type Decision struct {
	Action Action
	Epoch  uint64
	Why    string
}

func (d Decision) String() string {
	if d.Action == Claim {
		return fmt.Sprintf("claim epoch=%d: %s", d.Epoch, d.Why)
	}
	return "wait: " + d.Why
}

// Watcher runs on a read-only node and decides when it takes over as the writer. Lease is how
// long the writer's heartbeat may be silent before the writer is taken as lost.
type Watcher struct {
	Self  string
	Lease time.Duration
	// QuickLease (0: none) is how long the writer's heartbeat may be silent before the writer
	// is taken as lost when its address also refuses connections: a writer whose process
	// died is replaced without waiting for the whole lease. A writer that is paused or cut
	// off (its address does not refuse) still gets the whole lease.
	QuickLease time.Duration
	// Grace is how long after another node took the current epoch it may take to recover
	// the log and publish itself as the writer; meanwhile this node waits.
	Grace time.Duration
	// lastRW is when a writer at the current epoch was last seen alive; zero until the
	// first observation, which counts as seeing one (a node just started gives the writer a
	// full lease).
	lastRW time.Time
}

// Observe takes a snapshot and decides. The lease runs from the writer's last published
// status (a writer at the current epoch or a later one), or from when this node began to serve.
func (w *Watcher) Observe(s Snapshot) Decision {
	if s.Blind >= w.Lease/2 {
		// This node could not read the control plane for a while, and the writer could not
		// publish there either: a full lease from now, so that a control plane that stalls
		// does not fail over a writer that is alive.
		w.lastRW = maxTime(w.lastRW, s.Now)
	}
	self, ok := find(s.Nodes, RoleRO, w.Self)
	if !ok || self.Down || self.State != StateUp {
		w.lastRW = s.Now
		return Decision{Action: Wait, Epoch: s.Epoch, Why: "this node does not serve"}
	}
	if w.lastRW.IsZero() {
		w.lastRW = s.Now
	}
	var rw Node
	alive, refused := false, false
	for _, n := range s.Nodes {
		if n.Role != RoleRW || n.Epoch < s.Epoch || n.Updated.IsZero() {
			continue // a writer of an older epoch is fenced at the Log Stores: it cannot commit
		}
		w.lastRW = maxTime(w.lastRW, n.Updated)
		silent := s.Now.Sub(n.Updated)
		dead := n.Refused && w.QuickLease > 0 && silent >= w.QuickLease
		if !n.Down && silent < w.Lease && !dead {
			rw, alive = n, true
		}
		refused = refused || dead
	}
	planned := s.Request != nil && s.Request.Epoch == s.Epoch
	if h := s.Holder; !alive && h.ID != "" && h.ID != w.Self && h.Epoch == s.Epoch && s.Now.Sub(h.At) < w.Grace && !published(s.Nodes, h) {
		return Decision{Action: Wait, Epoch: s.Epoch, Why: fmt.Sprintf("%s took epoch %d %v ago and may be recovering", h.ID, h.Epoch, s.Now.Sub(h.At))}
	}
	if alive {
		if planned {
			return Decision{Action: Wait, Epoch: s.Epoch, Why: fmt.Sprintf("switchover requested: writer %s is handing over", rw.ID)}
		}
		return Decision{Action: Wait, Epoch: s.Epoch, Why: fmt.Sprintf("writer %s is alive at epoch %d", rw.ID, rw.Epoch)}
	}
	best, ok := Best(s.Nodes)
	if planned {
		target := s.Request.Target
		if target == "" && ok {
			target = best.ID
		}
		if target != w.Self {
			return Decision{Action: Wait, Epoch: s.Epoch, Why: fmt.Sprintf("switchover to %s", target)}
		}
		return Decision{Action: Claim, Epoch: s.Epoch, Why: "switchover to this node"}
	}
	silent := s.Now.Sub(w.lastRW)
	if silent < w.Lease && !(refused && silent >= w.QuickLease) {
		return Decision{Action: Wait, Epoch: s.Epoch, Why: fmt.Sprintf("no writer for %v, lease %v", silent, w.Lease)}
	}
	if !ok || best.ID != w.Self {
		return Decision{Action: Wait, Epoch: s.Epoch, Why: fmt.Sprintf("writer lost; %s is the best candidate", best.ID)}
	}
	how := "lost"
	if silent < w.Lease {
		how = "gone (its address refuses connections)"
	}
	return Decision{Action: Claim, Epoch: s.Epoch, Why: fmt.Sprintf("writer %s for %v; this node is the most caught up at %d", how, silent, self.Applied)}
}

// Best returns the read-only node to promote: serving, the highest view, ties to the lowest
// ID.
func Best(nodes []Node) (Node, bool) {
	var c []Node
	for _, n := range nodes {
		if n.Role == RoleRO && !n.Down && n.State == StateUp {
			c = append(c, n)
		}
	}
	if len(c) == 0 {
		return Node{}, false
	}
	slices.SortFunc(c, func(a, b Node) int { return cmp.Or(cmp.Compare(b.Applied, a.Applied), cmp.Compare(a.ID, b.ID)) })
	return c[0], true
}

// published reports whether the holder of an epoch has published itself as the writer at it:
// it recovered the log, and the lease, not the grace, tells whether it is still there.
func published(nodes []Node, h Holder) bool {
	for _, n := range nodes {
		if n.Role == RoleRW && n.ID == h.ID && n.Epoch >= h.Epoch && !n.Updated.IsZero() && !n.Updated.Before(h.At) {
			return true
		}
	}
	return false
}

func find(nodes []Node, role, id string) (Node, bool) {
	for _, n := range nodes {
		if n.Role == role && n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Start is what a node started as the writer does.
type Start int

// Starts.
const (
	RunRW  Start = iota // take a new epoch and write
	JoinRO              // another writer holds the current epoch: follow it as a read-only node
)

// Holder is the record of who took the current epoch and when (see meta.Writer).
type Holder struct {
	ID    string
	Epoch uint64
	At    time.Time
}

// StartRole decides for node self, started to be the writer: it writes only when no other
// node holds the current epoch. Another node holds it when it runs as the writer at that
// epoch (or later), or when it took the epoch less than grace ago and may still be recovering
// the log before it publishes itself as the writer.
func StartRole(self string, s Snapshot, grace time.Duration) (Start, string) {
	h := s.Holder
	for _, n := range s.Nodes {
		if n.Role == RoleRW && n.ID != self && !n.Down && n.Epoch >= s.Epoch && s.Epoch > 0 {
			return JoinRO, fmt.Sprintf("%s writes at epoch %d", n.ID, n.Epoch)
		}
	}
	if h.ID != "" && h.ID != self && h.Epoch == s.Epoch && s.Now.Sub(h.At) < grace {
		return JoinRO, fmt.Sprintf("%s took epoch %d %v ago", h.ID, h.Epoch, s.Now.Sub(h.At))
	}
	return RunRW, "no other writer"
}
