package console

import (
	"context"

	"strata/internal/meta"
	"strata/internal/placement"
)

// Cluster is what the control plane says at one moment: every node with the status it
// publishes (members without a live node as "down"), the writer epoch and the placement.
type Cluster struct {
	Epoch     uint64
	Nodes     []meta.Node
	Placement placement.Placement // zero when none is recorded
}

// Source gives the console the cluster's state. MetaSource reads it from the control plane;
// tests give a fake.
type Source interface {
	Snapshot(ctx context.Context) (Cluster, error)
}

// MetaSource reads the cluster's state from the control plane.
type MetaSource struct{ Client *meta.Client }

// Snapshot reads the nodes, the epoch and the placement.
func (s MetaSource) Snapshot(ctx context.Context) (Cluster, error) {
	nodes, err := s.Client.Nodes(ctx)
	if err != nil {
		return Cluster{}, err
	}
	epoch, err := s.Client.Epoch(ctx)
	if err != nil {
		return Cluster{}, err
	}
	pl, _, err := s.Client.Placement(ctx)
	if err != nil {
		return Cluster{}, err
	}
	return Cluster{Epoch: epoch, Nodes: nodes, Placement: pl}, nil
}
