package distill

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// parallelChunks calls fn(lo, hi) for the fixed chunks [0, chunk), [chunk, 2·chunk), … of
// [0, n) on up to threads goroutines (0: GOMAXPROCS). The chunking depends on n and chunk only
// and fn must write disjoint outputs per chunk, so results do not depend on the thread count.
func parallelChunks(threads, n, chunk int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	chunk = max(chunk, 1)
	tasks := (n + chunk - 1) / chunk
	threads = min(threads, tasks)
	if threads <= 1 {
		for lo := 0; lo < n; lo += chunk {
			fn(lo, min(lo+chunk, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	work := func() {
		for {
			t := int(next.Add(1) - 1)
			if t >= tasks {
				return
			}
			lo := t * chunk
			fn(lo, min(lo+chunk, n))
		}
	}
	wg.Add(threads - 1)
	for w := 1; w < threads; w++ {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}
