// Package privfs keeps a store's files private to the user that runs it: directories 0700,
// files 0600. The strata binary also sets its umask to 077 (cmd/strata), which covers every
// file it creates, etcd's and pebble's included; this package gives the stores the same modes
// when they run inside another process (tests, tools), and tightens a data directory that an
// older build created with wider modes.
package privfs

import (
	"fmt"
	"io"
	"os"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Modes of what the stores create on disk.
const (
	DirMode  os.FileMode = 0o700
	FileMode os.FileMode = 0o600
)

// Wrap returns fs such that what it creates is private: directories DirMode, files FileMode.
// Only the operating system's file system (vfs.Default) has modes; any other fs is returned as
// it is.
func Wrap(fs vfs.FS) vfs.FS {
	if fs != vfs.Default {
		return fs
	}
	return privateFS{fs}
}

// privateFS is the OS file system, with the modes of the files and directories it creates
// narrowed after creation. With the process umask at 077 (the strata binary) they are created
// so already.
type privateFS struct{ vfs.FS }

// Create implements vfs.FS.
func (p privateFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := p.FS.Create(name, category)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(name, FileMode); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("privfs: %w", err)
	}
	return f, nil
}

// OpenReadWrite implements vfs.FS; it creates a missing file.
func (p privateFS) OpenReadWrite(name string, category vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := p.FS.OpenReadWrite(name, category, opts...)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(name, FileMode); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("privfs: %w", err)
	}
	return f, nil
}

// Lock implements vfs.FS; it creates a missing lock file.
func (p privateFS) Lock(name string) (io.Closer, error) {
	l, err := p.FS.Lock(name)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(name, FileMode); err != nil {
		_ = l.Close()
		return nil, fmt.Errorf("privfs: %w", err)
	}
	return l, nil
}

// MkdirAll implements vfs.FS: the directories it creates are DirMode at most.
func (p privateFS) MkdirAll(dir string, perm os.FileMode) error {
	return p.FS.MkdirAll(dir, perm&DirMode)
}

// Unwrap returns the wrapped file system.
func (p privateFS) Unwrap() vfs.FS { return p.FS }

// Tighten makes dir, which must exist, DirMode when fs is the operating system's file system,
// so that the files a data directory of an older build holds (0644 under 0755) are out of
// other users' reach: they cannot enter the directory. Other file systems are left alone.
func Tighten(fs vfs.FS, dir string) error {
	if fs != vfs.Default {
		if u, ok := fs.(privateFS); !ok || u.FS != vfs.Default {
			return nil
		}
	}
	return TightenDir(dir)
}

// TightenDir makes the directory dir DirMode if it is wider (it must exist).
func TightenDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("privfs: %w", err)
	}
	if fi.Mode().Perm()&^DirMode == 0 {
		return nil
	}
	if err := os.Chmod(dir, DirMode); err != nil {
		return fmt.Errorf("privfs: %w", err)
	}
	return nil
}

// MkdirAll creates dir and its missing parents DirMode on the operating system's file system
// and tightens dir itself if it existed with wider modes.
func MkdirAll(dir string) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	return TightenDir(dir)
}
