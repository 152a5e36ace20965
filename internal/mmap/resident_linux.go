package mmap

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"unsafe"
)

// Resident returns how many bytes of the mapping that holds b[0] are resident in this process
// (the mapping's Rss in /proc/self/smaps), for tests and measurements of page release.
func Resident(b []byte) (int64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("mmap: resident: empty slice")
	}
	addr := uint64(uintptr(unsafe.Pointer(&b[0])))
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("mmap: resident: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Bytes()
		if lo, hi, ok := smapsRange(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if in && bytes.HasPrefix(line, []byte("Rss:")) {
			fields := bytes.Fields(line[len("Rss:"):])
			if len(fields) != 2 || string(fields[1]) != "kB" {
				return 0, fmt.Errorf("mmap: resident: /proc/self/smaps: unexpected line %q", line)
			}
			kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("mmap: resident: /proc/self/smaps: %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("mmap: resident: /proc/self/smaps: %w", err)
	}
	return 0, fmt.Errorf("mmap: resident: no mapping holds address %#x", addr)
}

// smapsRange parses the "lo-hi perms ..." header line of a mapping in /proc/self/smaps.
func smapsRange(line []byte) (lo, hi uint64, ok bool) {
	r, _, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		return 0, 0, false
	}
	a, b, ok := bytes.Cut(r, []byte("-"))
	if !ok {
		return 0, 0, false
	}
	lo, err1 := strconv.ParseUint(string(a), 16, 64)
	hi, err2 := strconv.ParseUint(string(b), 16, 64)
	return lo, hi, err1 == nil && err2 == nil
}
