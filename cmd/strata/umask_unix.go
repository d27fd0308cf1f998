//go:build unix

package main

import "syscall"

// privateUmask makes every file and directory this process (and every node it starts, which
// inherits the mask) creates readable by its owner only: the data directories hold rows,
// password hashes and the cluster secret. Explicit modes at creation (internal/privfs) say the
// same; the mask also covers what etcd, pebble and the TLS files create.
func privateUmask() { syscall.Umask(0o077) }
