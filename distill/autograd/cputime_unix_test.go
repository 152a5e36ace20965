//go:build unix

package autograd

import "syscall"

// cpuSeconds returns the user+system CPU time of this process so far: benchmarks report work
// per CPU-second too, which stays meaningful on a machine shared with other jobs.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
