//go:build unix

package privfs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestWrap: through Wrap(vfs.Default), whatever the umask, new directories are 0700 and new
// files (Create, OpenReadWrite, Lock) 0600; Tighten narrows a 0755 directory to 0700; other
// file systems are left as they are.
func TestWrap(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	fs := Wrap(vfs.Default)
	sub := filepath.Join(dir, "a", "b")
	if err := fs.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(filepath.Join(sub, "created"), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	f, err = fs.OpenReadWrite(filepath.Join(sub, "opened"), vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	l, err := fs.Lock(filepath.Join(sub, "LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	for path, want := range map[string]os.FileMode{
		filepath.Join(dir, "a"): DirMode, sub: DirMode,
		filepath.Join(sub, "created"): FileMode, filepath.Join(sub, "opened"): FileMode, filepath.Join(sub, "LOCK"): FileMode,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	wide := filepath.Join(dir, "wide")
	if err := os.Mkdir(wide, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Tighten(fs, wide); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(wide); fi.Mode().Perm() != DirMode {
		t.Fatalf("tightened directory: %v", fi.Mode().Perm())
	}
	if mem := vfs.NewMem(); Wrap(mem) != mem || Tighten(mem, "x") != nil {
		t.Fatal("a memory file system is not left alone")
	}
}
