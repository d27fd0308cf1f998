package faultfs

import (
	"errors"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

func TestDiskFull(t *testing.T) {
	var full DiskFull
	fs := errorfs.Wrap(vfs.NewMem(), &full)
	f, err := fs.Create("a", vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatalf("write before the disk is full: %v", err)
	}
	full.On.Store(true)
	if _, err := f.Write([]byte("y")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v", err)
	}
	if err := f.Sync(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("sync on a full disk: %v", err)
	}
	full.On.Store(false)
	if err := f.Sync(); err != nil {
		t.Fatalf("sync after space returned: %v", err)
	}
}
