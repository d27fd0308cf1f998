package console

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"strata/internal/meta"
	"strata/internal/placement"
)

// View is what the console shows: the page renders it and /api/cluster serves it as JSON.
type View struct {
	Time  time.Time `json:"time"`
	Error string    `json:"error,omitempty"` // the control plane could not be read: the rest is older
	Epoch uint64    `json:"epoch"`
	// Durable is the cluster's durable LSN: the read-write node's, or (none up) the highest
	// any node publishes.
	Durable  uint64       `json:"durable"`
	Up       int          `json:"up"`
	Down     int          `json:"down"`
	Nodes    []NodeView   `json:"nodes"`
	Segments SegmentsView `json:"segments"`
	Series   Series       `json:"series"`
	// ScrapeErrors names the nodes whose metrics the last scrape could not read.
	ScrapeErrors map[string]string `json:"scrape_errors,omitempty"`
}

// NodeView is one node as the console shows it.
type NodeView struct {
	Role    string `json:"role"`
	ID      string `json:"id"`
	Addr    string `json:"addr"`
	Metrics string `json:"metrics,omitempty"`
	PID     int    `json:"pid"`
	// State is the published state, or "down" when meta.Node.IsDown says so.
	State     string `json:"state"`
	Down      bool   `json:"down"`
	Epoch     uint64 `json:"epoch,omitempty"`
	Durable   uint64 `json:"durable,omitempty"`
	Applied   uint64 `json:"applied,omitempty"`
	Persisted uint64 `json:"persisted,omitempty"`
	// Lag is how far, in log bytes, a store trails the cluster's durable LSN: a Log Store's
	// own durable end, a Page Store's consumed LSN. Nil for other roles and down nodes.
	Lag *uint64 `json:"lag,omitempty"`
	// PersistLag is how far a Page Store's persisted LSN trails the durable LSN.
	PersistLag *uint64 `json:"persist_lag,omitempty"`
	// HeartbeatAge is the age of the node's last published status in seconds; nil: none.
	HeartbeatAge *float64 `json:"heartbeat_age,omitempty"`
	Segments     string   `json:"segments,omitempty"` // a Page Store's, as in SegmentsView
}

// SegmentsView is the placement, by Page Store.
type SegmentsView struct {
	SegmentPages uint64          `json:"segment_pages"`
	Stores       []StoreSegments `json:"stores"`
}

// StoreSegments is what the placement gives one Page Store. Lists of segments are ranges:
// "0-3,7".
type StoreSegments struct {
	ID        string `json:"id"`
	Default   bool   `json:"default"` // it holds every segment the placement does not list
	Listed    string `json:"listed"`
	NListed   int    `json:"n_listed"`
	MovingIn  string `json:"moving_in,omitempty"`
	MovingOut string `json:"moving_out,omitempty"`
}

// Summary is one line for the Page Store's row: "every unlisted + 3 listed".
func (s StoreSegments) Summary() string {
	var parts []string
	if s.Default {
		parts = append(parts, "every unlisted")
	}
	if s.NListed > 0 || !s.Default {
		parts = append(parts, strconv.Itoa(s.NListed)+" listed")
	}
	out := strings.Join(parts, " + ")
	if s.MovingIn != "" {
		out += ", moving in " + s.MovingIn
	}
	if s.MovingOut != "" {
		out += ", moving out " + s.MovingOut
	}
	return out
}

// buildView derives what the console shows from a snapshot of the cluster at now.
func buildView(c Cluster, now time.Time) View {
	v := View{Time: now, Epoch: c.Epoch, Nodes: make([]NodeView, 0, len(c.Nodes))}
	v.Segments = segmentsView(c.Placement)
	segs := map[string]string{}
	for _, s := range v.Segments.Stores {
		segs[s.ID] = s.Summary()
	}
	var rwDurable, maxDurable uint64
	for _, n := range c.Nodes {
		if n.IsDown(now) {
			continue
		}
		maxDurable = max(maxDurable, n.Durable)
		if n.Role == meta.RoleRW {
			rwDurable = max(rwDurable, n.Durable)
		}
	}
	v.Durable = rwDurable
	if v.Durable == 0 {
		v.Durable = maxDurable
	}
	for _, n := range c.Nodes {
		nv := NodeView{Role: n.Role, ID: n.ID, Addr: n.Addr, Metrics: n.Metrics, PID: n.PID, State: n.State,
			Down: n.IsDown(now), Epoch: n.Epoch, Durable: n.Durable, Applied: n.Applied, Persisted: n.Persisted}
		if nv.Down {
			nv.State = meta.StateDown
			v.Down++
		} else {
			v.Up++
		}
		if !n.Updated.IsZero() {
			age := max(0, now.Sub(n.Updated).Seconds())
			nv.HeartbeatAge = &age
		}
		if !nv.Down && v.Durable > 0 {
			switch n.Role {
			case meta.RoleLogStore:
				nv.Lag = lag(v.Durable, n.Durable)
			case meta.RolePageStore:
				nv.Lag = lag(v.Durable, n.Applied)
				nv.PersistLag = lag(v.Durable, n.Persisted)
			}
		}
		if n.Role == meta.RolePageStore {
			nv.Segments = segs[n.ID]
		}
		v.Nodes = append(v.Nodes, nv)
	}
	return v
}

// lag is how far pos trails durable (0 when it is ahead: a store may know more than the
// node that published the durable LSN).
func lag(durable, pos uint64) *uint64 {
	l := uint64(0)
	if durable > pos {
		l = durable - pos
	}
	return &l
}

// segmentsView lists what the placement gives each Page Store it names.
func segmentsView(p placement.Placement) SegmentsView {
	sv := SegmentsView{SegmentPages: p.SegmentPages, Stores: []StoreSegments{}}
	if p.SegmentPages == 0 {
		return sv
	}
	listed, in, out := map[string][]uint64{}, map[string][]uint64{}, map[string][]uint64{}
	for seg, r := range p.Segments {
		for _, id := range r {
			listed[id] = append(listed[id], seg)
		}
	}
	for seg, m := range p.Moving {
		in[m.To] = append(in[m.To], seg)
		out[m.From] = append(out[m.From], seg)
	}
	ids := p.Stores()
	for id := range out { // a store moved off every segment is still shown
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		sv.Stores = append(sv.Stores, StoreSegments{ID: id, Default: slices.Contains(p.Default, id),
			Listed: ranges(listed[id]), NListed: len(listed[id]), MovingIn: ranges(in[id]), MovingOut: ranges(out[id])})
	}
	return sv
}

// ranges writes segment numbers as sorted ranges: "0-3,7".
func ranges(segs []uint64) string {
	segs = slices.Clone(segs)
	slices.Sort(segs)
	segs = slices.Compact(segs)
	var b strings.Builder
	for i := 0; i < len(segs); {
		j := i
		for j+1 < len(segs) && segs[j+1] == segs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j == i {
			fmt.Fprint(&b, segs[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", segs[i], segs[j])
		}
		i = j + 1
	}
	return b.String()
}
