package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// singleDataDir checks that dir is the data directory of a --single database (it holds
// wal/), so that the offline tools (check, log dump) open only what they understand and
// never create files in a directory they do not own: a cluster's data directory, a missing
// directory or any other is refused with a message that says why.
func singleDataDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist", dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	for _, marker := range []string{clusterFile, "meta"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return fmt.Errorf("%s is a cluster's data directory (strata up): its trees are on its Page Stores, "+
				"and this command reads a --single data directory", dir)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "wal")); err != nil || !st.IsDir() {
		return fmt.Errorf("%s is not a Strata data directory (it has no wal/)", dir)
	}
	return nil
}
