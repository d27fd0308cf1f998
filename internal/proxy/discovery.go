package proxy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"strata/internal/meta"
)

// Node is a compute node the proxy can send statements to.
type Node struct {
	ID   string
	Addr string // its MySQL address
	// Applied is the LSN it has applied (an RO's read view) as last published.
	Applied uint64
	// Epoch is the writer epoch of an RW.
	Epoch uint64
}

// Topology is the compute nodes that are up: the RW (none when RW is nil) and the ROs.
type Topology struct {
	RW  *Node
	ROs []Node
}

// Discovery tells the proxy which compute nodes are up.
type Discovery interface {
	Topology(ctx context.Context) (Topology, error)
}

// MetaDiscovery finds the nodes in the control plane: the RW is the node of role rw that is
// not down (the highest epoch if several still show), the ROs are the nodes of role ro that
// are not down.
type MetaDiscovery struct {
	Client *meta.Client
	// Now is the clock that decides which nodes are down (nil: time.Now).
	Now func() time.Time
}

// Topology implements Discovery.
func (m MetaDiscovery) Topology(ctx context.Context) (Topology, error) {
	nodes, err := m.Client.Nodes(ctx)
	if err != nil {
		return Topology{}, fmt.Errorf("proxy: read the nodes from the control plane: %w", err)
	}
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	return topologyOf(nodes, now), nil
}

// topologyOf picks the RW and the ROs among nodes.
func topologyOf(nodes []meta.Node, now time.Time) Topology {
	var t Topology
	for _, n := range nodes {
		if n.IsDown(now) || n.Addr == "" {
			continue
		}
		switch n.Role {
		case meta.RoleRW:
			// An unhealthy RW (failing to accept for a while) is still the only writer.
			if n.State != meta.StateUp && n.State != meta.StateUnhealthy {
				continue
			}
			if t.RW == nil || n.Epoch > t.RW.Epoch {
				t.RW = &Node{ID: n.ID, Addr: n.Addr, Applied: n.Applied, Epoch: n.Epoch}
			}
		case meta.RoleRO:
			if n.State != meta.StateUp {
				continue
			}
			t.ROs = append(t.ROs, Node{ID: n.ID, Addr: n.Addr, Applied: n.Applied, Epoch: n.Epoch})
		}
	}
	return t
}

// StaticDiscovery is a topology set by its owner (tests, or a proxy in front of fixed
// nodes). It is safe for concurrent use.
type StaticDiscovery struct {
	mu sync.Mutex
	t  Topology
}

// Set replaces the topology.
func (s *StaticDiscovery) Set(t Topology) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.t = t.clone()
}

// Topology implements Discovery.
func (s *StaticDiscovery) Topology(context.Context) (Topology, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.t.clone(), nil
}

func (t Topology) clone() Topology {
	c := Topology{ROs: slices.Clone(t.ROs)}
	if t.RW != nil {
		rw := *t.RW
		c.RW = &rw
	}
	return c
}

// sameNodes reports whether two topologies name the same nodes at the same addresses.
func (t Topology) sameNodes(o Topology) bool {
	if (t.RW == nil) != (o.RW == nil) || t.RW != nil && (t.RW.ID != o.RW.ID || t.RW.Addr != o.RW.Addr || t.RW.Epoch != o.RW.Epoch) {
		return false
	}
	if len(t.ROs) != len(o.ROs) {
		return false
	}
	for i := range t.ROs {
		if t.ROs[i].ID != o.ROs[i].ID || t.ROs[i].Addr != o.ROs[i].Addr {
			return false
		}
	}
	return true
}
