package main

import "github.com/spf13/pflag"

// defaultMetricsAddr is where a node serves /metrics unless told otherwise: a free loopback
// port, published in the control plane (`strata ctl status` lists it).
const defaultMetricsAddr = "127.0.0.1:0"

func addMetricsFlag(fs *pflag.FlagSet, addr *string) {
	fs.StringVar(addr, "metrics-addr", defaultMetricsAddr,
		"address to serve Prometheus metrics on, at /metrics (port 0: any free port; empty: none); beyond loopback a scrape must carry the cluster secret as a bearer token")
}
