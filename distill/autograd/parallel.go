package autograd

import (
	"sync"
	"sync/atomic"
)

// parallelFor calls fn(worker, i) exactly once for every i in [0, n), on up to threads
// goroutines (the caller's included); worker is in [0, threads) and lets fn use per-worker
// scratch space. Tasks are handed out dynamically, so fn's result must depend on i only:
// that is what keeps every kernel deterministic whatever the thread count.
func parallelFor(threads, n int, fn func(worker, i int)) {
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	run := func(w int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(w, i)
		}
	}
	var wg sync.WaitGroup
	wg.Add(threads - 1)
	for w := 1; w < threads; w++ {
		go func() {
			defer wg.Done()
			run(w)
		}()
	}
	run(0)
	wg.Wait()
}

// parallelRange splits [0, n) into fixed chunks of size chunk (the last may be shorter) and
// calls fn(worker, lo, hi) for each, in parallel. The chunking depends on n and chunk only.
func parallelRange(threads, n, chunk int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	chunk = max(chunk, 1)
	parallelFor(threads, (n+chunk-1)/chunk, func(w, c int) {
		lo := c * chunk
		fn(w, lo, min(lo+chunk, n))
	})
}

// elemChunk is the number of elements per task of elementwise kernels: large enough that the
// goroutine hand-off is negligible.
const elemChunk = 1 << 14

// rowChunk returns a chunk size in rows so that each task covers about elemChunk elements.
func rowChunk(cols int) int {
	return max(1, elemChunk/max(cols, 1))
}
