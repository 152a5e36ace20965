//go:build !linux

package mmap

import "errors"

// Resident returns how many bytes of the mapping that holds b[0] are resident in this process;
// it is only implemented on Linux (from /proc/self/smaps).
func Resident(b []byte) (int64, error) {
	return 0, errors.New("mmap: resident: not supported on this system")
}
