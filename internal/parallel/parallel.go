// Package parallel runs loops over goroutines so that their results do not depend on how many
// goroutines run them or how those are scheduled.
//
// The determinism contract, stated once for every package that uses these helpers: the work
// is cut into items or ranges that depend only on the loop's inputs (n, and a chunk size or a
// part count the caller fixes), never on the thread count or on timing; fn writes only to
// outputs owned by its item or range (per-index results, per-worker scratch that it resets);
// and anything combined across items (a sum, a concatenation, the first error) is combined by
// the caller afterwards, in index order. Under those rules a loop's output is bit-identical for
// any thread count, including one. The worker index passed to fn exists only to choose scratch
// space: which worker gets which item varies from run to run.
//
// A float reduction split differently gives different bits, so a caller that sums per-range
// partial results must fix the ranges from its inputs (Range with a constant chunk, or Split
// with a part count that does not come from the thread count).
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Workers resolves a thread count: threads itself when positive, else runtime.GOMAXPROCS(0).
func Workers(threads int) int {
	if threads > 0 {
		return threads
	}
	return runtime.GOMAXPROCS(0)
}

// For calls fn(worker, i) exactly once for every i in [0, n), on up to threads goroutines, the
// caller's included (threads <= 0: GOMAXPROCS), and returns when all calls have returned.
// Items are handed out one at a time in increasing order to whichever goroutine is free;
// worker is in [0, min(threads, n)) and lets fn use per-worker scratch space. With one
// goroutine, fn runs on the caller for i = 0, 1, … in order.
func For(threads, n int, fn func(worker, i int)) {
	if n <= 0 {
		return
	}
	threads = min(Workers(threads), n)
	if threads == 1 {
		for i := range n {
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

// Range calls fn(worker, lo, hi) for the fixed chunks [0, chunk), [chunk, 2·chunk), … of
// [0, n) (the last one shorter; chunk < 1 counts as 1) on up to threads goroutines, as For
// does for items. The chunks depend on n and chunk only.
func Range(threads, n, chunk int, fn func(worker, lo, hi int)) {
	if n <= 0 {
		return
	}
	chunk = max(chunk, 1)
	For(threads, NumChunks(n, chunk), func(w, c int) {
		lo := c * chunk
		fn(w, lo, min(lo+chunk, n))
	})
}

// Split cuts [0, n) into parts contiguous runs, part p being [p·n/parts, (p+1)·n/parts), and
// calls fn(p, lo, hi) for all of them at once, part 0 on the caller, the others on goroutines
// of their own; it returns when all calls have returned. parts is clamped to [1, n], so no run
// is empty; nothing is called when n <= 0. Callers that concatenate or sum per-part results
// depend on parts, so they must fix it from their inputs or combine per-index results only.
func Split(parts, n int, fn func(part, lo, hi int)) {
	if n <= 0 {
		return
	}
	parts = max(1, min(parts, n))
	var wg sync.WaitGroup
	wg.Add(parts - 1)
	for p := 1; p < parts; p++ {
		go func() {
			defer wg.Done()
			fn(p, p*n/parts, (p+1)*n/parts)
		}()
	}
	fn(0, 0, n/parts)
	wg.Wait()
}

// NumChunks returns the number of chunks of size chunk (at least 1) that cover n items.
func NumChunks(n, chunk int) int {
	if n <= 0 {
		return 0
	}
	chunk = max(chunk, 1)
	return (n + chunk - 1) / chunk
}

// Chunks hands out the fixed chunks [0, size), [size, 2·size), … of [0, n) to any number of
// goroutines, each chunk once, in increasing order: the dispenser under For and Range, for
// loops run by a persistent pool of workers. It is safe for concurrent use after Reset; the
// zero value has no chunks.
type Chunks struct {
	n, size int
	next    atomic.Int64
}

// Reset starts handing out the chunks of size (at least 1) that cover [0, n). It must not be
// called while other goroutines call Next.
func (c *Chunks) Reset(n, size int) {
	c.n, c.size = n, max(size, 1)
	c.next.Store(0)
}

// Next returns the next chunk [lo, hi), or ok false when all have been handed out.
func (c *Chunks) Next() (lo, hi int, ok bool) {
	lo = int(c.next.Add(int64(c.size))) - c.size
	if lo >= c.n {
		return 0, 0, false
	}
	return lo, min(lo+c.size, c.n), true
}
