// Package atomicfile writes files so that readers see either the old file or the complete new
// one: data goes to a temporary file in the target's folder, renamed over the target on Commit.
package atomicfile

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
)

// File is a file being written atomically. Write to it, then call Commit to publish it or Abort
// to remove it. Abort after Commit is a no-op, so `defer f.Abort()` is the usual pattern.
type File struct {
	*bufio.Writer
	f      *os.File
	path   string
	tmp    string
	closed bool
}

// Create starts writing path. The folder must exist and be writable.
//
// The temporary file is named ".NAME.tmp-PID-RANDOM" beside path (NAME is path's base name and
// PID this process's id). Before creating it, Create removes the stale temporary files a
// killed earlier run for the same path left behind: see RemoveStale.
func Create(path string) (*File, error) {
	dir := filepath.Dir(path)
	RemoveStale(path)
	f, err := os.CreateTemp(dir, tempPrefix(path, os.Getpid())+"*")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", path, err)
	}
	track(f.Name())
	return &File{Writer: bufio.NewWriterSize(f, 1<<20), f: f, path: path, tmp: f.Name()}, nil
}

// Name returns the final path.
func (a *File) Name() string { return a.path }

// File returns the underlying temporary file, for callers that seek or use WriteAt. Flush the
// buffered writer first.
func (a *File) File() *os.File { return a.f }

// Commit flushes, syncs and renames the temporary file to the final path.
func (a *File) Commit() error {
	if a.closed {
		return fmt.Errorf("%s: already closed", a.path)
	}
	a.closed = true
	err := a.Writer.Flush()
	if err == nil {
		err = a.f.Sync()
	}
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(a.tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(a.tmp, a.path)
	}
	untrack(a.tmp)
	if err != nil {
		os.Remove(a.tmp)
		return fmt.Errorf("writing %s: %w", a.path, err)
	}
	return nil
}

// Abort discards the temporary file. It is safe to call more than once and after Commit.
func (a *File) Abort() {
	if a.closed {
		return
	}
	a.closed = true
	a.f.Close()
	os.Remove(a.tmp)
	untrack(a.tmp)
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}
