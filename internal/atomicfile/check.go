package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckWritable reports, before any work is done, whether Create(path) can succeed and its
// Commit replace path: path's folder exists and is writable (a probe file is created and
// removed), and path is not an existing folder. The error names path and the problem.
func CheckWritable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("output %s is a folder; give a file name", path)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("output %s: folder %s does not exist", path, dir)
	case err != nil:
		return fmt.Errorf("output %s: %w", path, err)
	case !st.IsDir():
		return fmt.Errorf("output %s: %s is not a folder", path, dir)
	}
	if err := probe(dir); err != nil {
		return fmt.Errorf("output %s: folder %s is not writable: %w", path, dir, err)
	}
	return nil
}

// CheckDir reports, before any work is done, whether files can be written into the folder dir,
// creating it (and missing parents) if need be: dir is a writable folder, or it does not exist
// and its nearest existing ancestor is a writable folder. The error names dir and the problem.
func CheckDir(dir string) error {
	p := filepath.Clean(dir)
	for {
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			if p == filepath.Clean(dir) {
				return fmt.Errorf("output folder %s is a file", dir)
			}
			return fmt.Errorf("output folder %s: %s is a file", dir, p)
		case err == nil:
			if err := probe(p); err != nil {
				return fmt.Errorf("output folder %s: %s is not writable: %w", dir, p, err)
			}
			return nil
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
			return fmt.Errorf("output folder %s: %w", dir, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("output folder %s: no existing parent folder", dir)
		}
		p = parent
	}
}

// probe creates and removes a file in dir, the one sure test that dir is writable (permission
// bits say nothing of read-only mounts, ACLs or quotas).
func probe(dir string) error {
	f, err := os.CreateTemp(dir, ".mcompress-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
