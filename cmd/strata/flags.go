package main

import "strings"

// splitEndpoints splits a comma-separated list (of host:port endpoints, segments…), dropping
// empty entries.
func splitEndpoints(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
