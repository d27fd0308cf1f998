// Package meta is Strata's control plane: an etcd cluster (embedded in `strata meta` by
// default, or an external one) that holds the cluster's truth, and a client for it.
//
// Keys, all under a cluster prefix (default "/strata/"):
//
//	epoch                  the writer epoch, a decimal counter; a new read-write node bumps it
//	                       with a compare-and-swap before it recovers the log, and Log Stores
//	                       refuse appends from older epochs (fencing)
//	members/<role>/<id>    a node the cluster should have (JSON Member), written by whoever
//	                       starts it (`strata up`, an operator); no lease: it outlives the node
//	live/<role>/<id>       a running node's status (JSON Node), under a lease that the node
//	                       keeps alive; it disappears a few seconds after the node dies
//	writer                 who took the current epoch and when (JSON Writer), written with the
//	                       epoch by ClaimEpoch
//	switchover             a planned change of writer (JSON Switchover), `strata ctl failover`
//	placement              segment placement of the Page Stores (JSON placement.Placement)
//
// A node is "up" when its live key exists, "down" when only its member key does.
package meta

import (
	"errors"
	"path"
	"strings"
)

// Roles of nodes.
const (
	RoleMeta      = "meta"
	RoleLogStore  = "logstore"
	RolePageStore = "pagestore"
	RoleRW        = "rw"
	RoleRO        = "ro"
	RoleProxy     = "proxy"
	RoleBranch    = "branch" // a branch's writer (docs/history.md)
)

// States a node can be in, as ctl status shows them.
const (
	StateUp       = "up"
	StateDown     = "down"
	StateStarting = "starting"
	// StateUnhealthy: the node runs but does not serve (e.g. it cannot accept connections).
	StateUnhealthy = "unhealthy"
	// StateFailing: the process runs but cannot write its disk (e.g. it is full). A Page Store
	// heals by itself once it can; a Log Store exits to be restarted.
	StateFailing = "failing"
)

// DefaultPrefix is the key prefix of a cluster's keys.
const DefaultPrefix = "/strata/"

// ErrEpochRace is returned when another writer bumped the epoch at the same time.
var ErrEpochRace = errors.New("meta: the epoch changed concurrently")

type keys struct{ prefix string }

func newKeys(prefix string) keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return keys{prefix}
}

func (k keys) epoch() string      { return k.prefix + "epoch" }
func (k keys) placement() string  { return k.prefix + "placement" }
func (k keys) writer() string     { return k.prefix + "writer" }
func (k keys) switchover() string { return k.prefix + "switchover" }
func (k keys) members() string    { return k.prefix + "members/" }
func (k keys) live() string       { return k.prefix + "live/" }
func (k keys) member(role, id string) string {
	return k.members() + path.Join(role, id)
}
func (k keys) liveNode(role, id string) string { return k.live() + path.Join(role, id) }

// validName checks a role or node ID used in a key.
func validName(what, s string) error {
	if s == "" || strings.ContainsAny(s, "/\x00") || len(s) > 128 {
		return errors.New("meta: invalid " + what + " " + `"` + s + `"`)
	}
	return nil
}
