//go:build unix

package quantize

import (
	"syscall"
	"time"
)

// cpuTime returns the user+system CPU time of the process so far, so that benchmarks can report
// throughput per CPU-second even on a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
