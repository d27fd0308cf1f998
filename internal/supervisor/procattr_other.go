//go:build !linux

package supervisor

import "syscall"

// childProcAttr puts a node in its own process group, so that Ctrl-C reaches the supervisor
// only (it stops the nodes in order). Only Linux can also stop a node whose supervisor died.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
