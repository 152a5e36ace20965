package eval

import "github.com/mcompress/mcompress/internal/parallel"

// minRowsPerWorker keeps goroutines from being started for a handful of rows: scoring one row
// costs about one exponential per vocabulary entry.
const minRowsPerWorker = 8

// forRows calls f(r) for r in [0, n), splitting the rows into contiguous runs over up to
// threads goroutines. f must write only to state indexed by r; callers then combine the
// per-row results in row order, so the sums do not depend on the thread count.
func forRows(n, threads int, f func(r int)) {
	parallel.Split(min(threads, n/minRowsPerWorker), n, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			f(r)
		}
	})
}
