//go:build !unix

package autograd

// cpuSeconds is not available on this platform.
func cpuSeconds() float64 { return 0 }
