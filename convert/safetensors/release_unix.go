//go:build unix

package safetensors

import "golang.org/x/sys/unix"

var pageSize = int64(unix.Getpagesize())

// releasePages drops the page-table entries of data[a:b] (whole pages only) from a read-only
// file mapping; the kernel keeps the pages in its cache and faults them back in on access.
func releasePages(data []byte, a, b int64) {
	a = (a + pageSize - 1) / pageSize * pageSize
	b = b / pageSize * pageSize
	if b <= a || b > int64(len(data)) {
		return
	}
	_ = unix.Madvise(data[a:b], unix.MADV_DONTNEED)
}
