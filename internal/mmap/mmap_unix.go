//go:build unix

package mmap

import (
	"os"

	"golang.org/x/sys/unix"
)

func mapFile(f *os.File, size int) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
}

func unmap(b []byte) error { return unix.Munmap(b) }

func adviseSequential(b []byte) {
	if len(b) > 0 {
		_ = unix.Madvise(b, unix.MADV_SEQUENTIAL)
	}
}

var pageSize = int64(unix.Getpagesize())

// releasePages drops the page-table entries of data[a:b] (whole pages only) of a read-only
// shared file mapping; the kernel keeps the pages in its cache and faults them back in on access.
// The mapping starts on a page boundary, so offsets into it round to pages as addresses do.
func releasePages(data []byte, a, b int64) {
	a = (a + pageSize - 1) / pageSize * pageSize
	b = b / pageSize * pageSize
	if b > a {
		_ = unix.Madvise(data[a:b], unix.MADV_DONTNEED)
	}
}
