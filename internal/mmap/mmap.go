// Package mmap maps files read-only into memory so that large model files can be read without
// copying them onto the heap.
package mmap

import (
	"fmt"
	"os"
)

// File is a read-only memory map of a whole file.
type File struct {
	data []byte
	f    *os.File
}

// Open maps the file at path read-only. An empty file maps to an empty slice.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := fi.Size()
	if size == 0 {
		return &File{f: f}, nil
	}
	if int64(int(size)) != size {
		f.Close()
		return nil, fmt.Errorf("%s: file too large to map (%d bytes)", path, size)
	}
	data, err := mapFile(f, int(size))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	return &File{data: data, f: f}, nil
}

// Bytes returns the mapped contents. The slice is valid until Close and must not be written.
func (m *File) Bytes() []byte { return m.data }

// Len returns the file's size in bytes.
func (m *File) Len() int { return len(m.data) }

// Close unmaps the file. Slices obtained from Bytes must not be used afterwards.
func (m *File) Close() error {
	if m == nil || m.f == nil {
		return nil
	}
	var err error
	if m.data != nil {
		err = unmap(m.data)
		m.data = nil
	}
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	m.f = nil
	return err
}

// Advise hints that the mapping will be read sequentially (a no-op where unsupported).
func (m *File) Advise() { adviseSequential(m.data) }

// Release drops the process's resident pages of bytes [off, end) of the file (whole pages
// inside the range only), so that streaming through a large file does not grow the resident
// set: the kernel keeps the pages in its cache, and the data stay readable (an access faults
// them back in). Out-of-range bounds are clipped; it is a no-op where unsupported.
func (m *File) Release(off, end int64) {
	if m == nil {
		return
	}
	off, end = max(off, 0), min(end, int64(len(m.data)))
	if off < end {
		releasePages(m.data, off, end)
	}
}
