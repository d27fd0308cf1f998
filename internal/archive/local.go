package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Modes of what the local backend creates.
const (
	dirMode  os.FileMode = 0o700
	fileMode os.FileMode = 0o600
)

// tmpPrefix starts the names of the local backend's temporary files; CheckKey refuses keys
// with a segment starting with ".", so no key names one, and List skips them.
const tmpPrefix = ".tmp-"

// Local is a Backend over a directory: the object under key "a/b/c" is the file a/b/c below
// the root. A Put writes a temporary file in the object's directory, syncs it, renames it over
// the object and syncs the directory. Since a key's segments are directories, one key cannot
// be both an object and the beginning of another ("a" and "a/b"): the second Put fails.
type Local struct {
	root string
}

// NewLocal returns the backend over the directory root, which it creates (mode 0700) if
// missing.
func NewLocal(root string) (*Local, error) {
	if root == "" {
		return nil, fmt.Errorf("archive: local: empty directory name")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("archive: local %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("archive: local %s: %w", abs, fullErr(err))
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("archive: local %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("archive: local %s: not a directory", abs)
	}
	return &Local{root: abs}, nil
}

// String implements Backend: the root as a file URL.
func (l *Local) String() string {
	return "file://" + filepath.ToSlash(l.root)
}

// Root returns the directory the backend keeps its objects in.
func (l *Local) Root() string {
	return l.root
}

// path returns the file of key, which CheckKey accepted.
func (l *Local) path(key string) string {
	return filepath.Join(l.root, filepath.FromSlash(key))
}

// Put implements Backend.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	path := l.path(key)
	dir := filepath.Dir(path)
	f, err := l.createTemp(dir)
	if err != nil {
		return fullErr(err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.CopyN(f, ctxReader{ctx, r}, size)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: reader ended after %d bytes, size is %d", errInput, n, size)
		}
		return fullErr(err)
	}
	var extra [1]byte
	if m, _ := io.ReadFull(r, extra[:]); m > 0 {
		return fmt.Errorf("%w: reader has more than size %d bytes", errInput, size)
	}
	if err := f.Sync(); err != nil {
		return fullErr(err)
	}
	if err := f.Close(); err != nil {
		return fullErr(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return fullErr(syncDir(dir))
}

// createTemp creates a temporary file in dir, creating dir and its missing parents below the
// root. A concurrent Delete may remove an empty directory between the two steps: it retries.
func (l *Local) createTemp(dir string) (*os.File, error) {
	var err error
	for range 3 {
		if err = l.mkdirs(dir); err != nil {
			return nil, err
		}
		var f *os.File
		f, err = os.CreateTemp(dir, tmpPrefix+"*")
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, err
}

// mkdirs creates dir and its missing parents below the root (mode 0700), syncing the parent
// of each directory it creates.
func (l *Local) mkdirs(dir string) error {
	if dir == l.root {
		return nil
	}
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s: %w", dir, syscall.ENOTDIR)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if err := l.mkdirs(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, dirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

// Get implements Backend.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(key))
	if err != nil {
		return nil, notFound(key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return f, nil
}

// Stat implements Backend.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(l.path(key))
	if err != nil {
		return Info{}, notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements Backend. It walks the directories below the prefix's last "/", each in key
// order, holding one directory's names at a time.
func (l *Local) List(ctx context.Context, prefix string, fn func(Info) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	dirKey, namePrefix := "", prefix
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		dirKey, namePrefix = prefix[:i+1], prefix[i+1:]
	}
	return l.walk(ctx, dirKey, namePrefix, fn)
}

// walk lists the objects in the directory of dirKey ("" or ending in "/") and below, whose
// names there start with namePrefix.
func (l *Local) walk(ctx context.Context, dirKey, namePrefix string, fn func(Info) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	entries, err := os.ReadDir(filepath.Join(l.root, filepath.FromSlash(dirKey)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	// Key order: every key below directory "d" starts with "d/", so a directory sorts as
	// its name followed by "/".
	sortName := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return cmp.Compare(sortName(a), sortName(b)) })
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, namePrefix) || strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			if err := l.walk(ctx, dirKey+name+"/", "", fn); err != nil {
				return err
			}
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(Info{Key: dirKey + name, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Backend. It also removes the directories the object leaves empty.
func (l *Local) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	path := l.path(key)
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		return nil // keys below it, no object
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	if err := syncDir(dir); err != nil {
		return err
	}
	// Empty directories are left by nothing else; removing them is tidiness, not
	// durability, and fails harmlessly when a Put has just filled one.
	for dir != l.root && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
	return nil
}

// syncDir makes the entries of dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// notFound turns an error opening key's file into one wrapping ErrNotFound if the file or a
// directory on its path is missing, or a directory is a file.
func notFound(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return err
}

// fullErr wraps err with ErrFull if it says the file system has no room.
func fullErr(err error) error {
	if err != nil && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}

// ctxReader fails its reads once ctx is done, so a long copy can be cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
