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
