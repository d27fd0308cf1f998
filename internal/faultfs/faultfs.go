// Package faultfs provides pebble errorfs injectors that tests use to make a store's file
// system fail as a real disk does.
package faultfs

import (
	"os"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// DiskFull is an errorfs injector: while On, every write, sync and preallocation fails with
// ENOSPC, as on a full disk; reads and everything else go through.
type DiskFull struct{ On atomic.Bool }

// String implements errorfs.Injector.
func (d *DiskFull) String() string { return "disk full" }

// MaybeError implements errorfs.Injector.
func (d *DiskFull) MaybeError(op errorfs.Op) error {
	if !d.On.Load() {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData,
		errorfs.OpFileSyncTo, errorfs.OpFilePreallocate:
		return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
	}
	return nil
}
