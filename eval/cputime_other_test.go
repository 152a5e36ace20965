//go:build !unix

package eval

import "time"

// cpuTime is not available here; benchmarks then report no CPU-time rate.
func cpuTime() time.Duration { return 0 }
