//go:build !unix

package main

// privateUmask does nothing where there is no umask; the stores still create their files
// owner-only where the system has such modes (internal/privfs).
func privateUmask() {}
