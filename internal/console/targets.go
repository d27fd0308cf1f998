package console

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
)

// targetGroup is one entry of Prometheus's HTTP service discovery (http_sd_configs).
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// targets lists every node that serves metrics as Prometheus scrape targets, labelled with
// its role and ID, so that a Prometheus pointed at the console follows the cluster as nodes
// come, go and change ports.
func targets(c Cluster) []targetGroup {
	out := []targetGroup{}
	for _, n := range c.Nodes {
		if n.Metrics == "" {
			continue
		}
		out = append(out, targetGroup{Targets: []string{n.Metrics},
			Labels: map[string]string{"role": n.Role, "node": n.ID}})
	}
	slices.SortFunc(out, func(a, b targetGroup) int {
		return cmp.Or(cmp.Compare(a.Labels["role"], b.Labels["role"]), cmp.Compare(a.Labels["node"], b.Labels["node"]))
	})
	return out
}

// serveTargets answers Prometheus's HTTP service discovery. An unreachable control plane is
// an error (Prometheus then keeps the targets it had) rather than an empty list.
func (s *Server) serveTargets(w http.ResponseWriter, r *http.Request) {
	c, _, err := s.snapshot(r.Context())
	if err != nil {
		http.Error(w, "the control plane does not answer: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	b, err := json.Marshal(targets(c))
	if err != nil {
		http.Error(w, "cannot encode the targets", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
