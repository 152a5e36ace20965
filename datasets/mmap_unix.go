//go:build unix

package datasets

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole file at path copy-on-write and returns its bytes and a function that
// unmaps them. The bytes must not be used after unmap.
func mapFile(path string) (data []byte, unmap func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %w", err)
	}
	size := st.Size()
	if size == 0 {
		return nil, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("datasets: %s: file of %d bytes is too large to map", path, size)
	}
	// A private, writable mapping: decoders that write into their input (arrow-go swaps
	// byte order in place) touch private copies of pages, never the file, and never fault.
	data, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil, fmt.Errorf("datasets: %s: mmap: %w", path, err)
	}
	return data, func() error { return unix.Munmap(data) }, nil
}
