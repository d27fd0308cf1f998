package supervisor

import "syscall"

// childProcAttr puts a node in its own process group, so that Ctrl-C reaches the supervisor
// only (it stops the nodes in order), and has the kernel tell the node to stop if its
// supervisor dies.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
