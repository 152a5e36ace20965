//go:build !unix

package tokenizer

import "time"

// processCPUTime is unavailable here; benchmarks then report no CPU-time figure.
func processCPUTime() time.Duration { return 0 }
