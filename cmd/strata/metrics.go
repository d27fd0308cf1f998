package main

import "github.com/spf13/pflag"

// defaultMetricsAddr is where a node serves /metrics unless told otherwise: a free loopback
// port, published in the control plane (`strata ctl status` lists it).
const defaultMetricsAddr = "127.0.0.1:0"

func addMetricsFlag(fs *pflag.FlagSet, addr *string) {
	fs.StringVar(addr, "metrics-addr", defaultMetricsAddr,
		"address to serve Prometheus metrics on, at /metrics (port 0: any free port; empty: none); beyond loopback a scrape must carry the cluster secret as a bearer token")
}

// defaultDiskCacheMB is the default size of the read-write node's second-tier page cache.
const defaultDiskCacheMB = 1024

func addDiskCacheFlag(fs *pflag.FlagSet, mb *int) {
	fs.IntVar(mb, "disk-cache-mb", defaultDiskCacheMB,
		"size in MiB of the second-tier page cache of the read-write node (or of --single's process): a file on local disk behind the buffer pool that keeps the pages it evicts (0: none)")
}
