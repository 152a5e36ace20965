package parallel

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// cases covers the edges: no items, fewer items than threads, one thread, thread counts that
// do not divide n, and "threads <= 0" (GOMAXPROCS).
var cases = []struct{ threads, n int }{
	{1, 0}, {4, 0}, {0, 0}, {-1, 0},
	{1, 1}, {8, 1}, {8, 3}, {3, 8}, {1, 100}, {2, 100}, {7, 100}, {0, 100}, {-3, 100}, {64, 1000},
}

// TestForEachOnce checks that For calls fn once per index and keeps worker indices in range.
func TestForEachOnce(t *testing.T) {
	for _, c := range cases {
		t.Run(fmt.Sprintf("threads=%d/n=%d", c.threads, c.n), func(t *testing.T) {
			calls := make([]atomic.Int32, c.n)
			maxW := min(Workers(c.threads), max(c.n, 1))
			For(c.threads, c.n, func(w, i int) {
				if w < 0 || w >= maxW {
					t.Errorf("worker %d out of [0, %d)", w, maxW)
				}
				calls[i].Add(1)
			})
			for i := range calls {
				if n := calls[i].Load(); n != 1 {
					t.Errorf("index %d called %d times", i, n)
				}
			}
		})
	}
}

// TestForOneThreadInOrder checks that one thread runs the items on the caller, in order.
func TestForOneThreadInOrder(t *testing.T) {
	var got []int
	For(1, 5, func(w, i int) { got = append(got, i) }) // no lock: must be the caller alone
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// rangesOf records the ranges fn receives, sorted.
func rangesOf(call func(fn func(lo, hi int))) [][2]int {
	var mu sync.Mutex
	var got [][2]int
	call(func(lo, hi int) {
		mu.Lock()
		got = append(got, [2]int{lo, hi})
		mu.Unlock()
	})
	slices.SortFunc(got, func(a, b [2]int) int { return a[0] - b[0] })
	return got
}

// TestRangeFixedChunks checks that Range's chunks depend on n and chunk only, not on the
// thread count, and cover [0, n) exactly.
func TestRangeFixedChunks(t *testing.T) {
	for _, chunk := range []int{-1, 0, 1, 3, 16, 1000} {
		for _, c := range cases {
			got := rangesOf(func(fn func(lo, hi int)) {
				Range(c.threads, c.n, chunk, func(_, lo, hi int) { fn(lo, hi) })
			})
			want := rangesOf(func(fn func(lo, hi int)) {
				size := max(chunk, 1)
				for lo := 0; lo < c.n; lo += size {
					fn(lo, min(lo+size, c.n))
				}
			})
			if !slices.Equal(got, want) {
				t.Errorf("threads %d, n %d, chunk %d: ranges %v, want %v", c.threads, c.n, chunk, got, want)
			}
			if len(got) != NumChunks(c.n, chunk) {
				t.Errorf("threads %d, n %d, chunk %d: %d ranges, NumChunks says %d", c.threads, c.n, chunk, len(got), NumChunks(c.n, chunk))
			}
		}
	}
}

// TestSplitParts checks Split's contiguous, non-empty runs and its part numbering.
func TestSplitParts(t *testing.T) {
	for _, c := range []struct {
		parts, n int
		want     [][2]int
	}{
		{4, 0, nil},
		{0, 3, [][2]int{{0, 3}}},
		{1, 5, [][2]int{{0, 5}}},
		{2, 5, [][2]int{{0, 2}, {2, 5}}},
		{3, 10, [][2]int{{0, 3}, {3, 6}, {6, 10}}},
		{8, 3, [][2]int{{0, 1}, {1, 2}, {2, 3}}},
	} {
		var mu sync.Mutex
		got := make([][2]int, max(0, min(max(c.parts, 1), c.n)))
		seen := 0
		Split(c.parts, c.n, func(p, lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			got[p] = [2]int{lo, hi}
			seen++
		})
		if seen != len(c.want) || !slices.Equal(got, c.want) {
			t.Errorf("Split(%d, %d): %v (%d calls), want %v", c.parts, c.n, got, seen, c.want)
		}
	}
}

// TestReductionIndependentOfThreads is the contract in action: per-chunk float32 sums
// combined in chunk order give the same bits for every thread count.
func TestReductionIndependentOfThreads(t *testing.T) {
	xs := make([]float32, 10007)
	for i := range xs {
		xs[i] = 1 / float32(i%97+1) * float32(1+i%3)
	}
	sum := func(threads int) float32 {
		const chunk = 64
		parts := make([]float32, NumChunks(len(xs), chunk))
		Range(threads, len(xs), chunk, func(_, lo, hi int) {
			var s float32
			for _, v := range xs[lo:hi] {
				s += v
			}
			parts[lo/chunk] = s
		})
		var s float32
		for _, p := range parts {
			s += p
		}
		return s
	}
	want := sum(1)
	for _, threads := range []int{0, 2, 3, 8, 200} {
		if got := sum(threads); got != want {
			t.Errorf("%d threads: sum %v, one thread %v", threads, got, want)
		}
	}
}

// TestChunks checks the dispenser alone and after Reset, including its zero value.
func TestChunks(t *testing.T) {
	var c Chunks
	if _, _, ok := c.Next(); ok {
		t.Error("zero Chunks handed out a chunk")
	}
	for _, tc := range []struct{ n, size int }{{0, 4}, {10, 4}, {12, 4}, {5, 0}, {3, 100}} {
		c.Reset(tc.n, tc.size)
		var got [][2]int
		for {
			lo, hi, ok := c.Next()
			if !ok {
				break
			}
			got = append(got, [2]int{lo, hi})
		}
		size := max(tc.size, 1)
		var want [][2]int
		for lo := 0; lo < tc.n; lo += size {
			want = append(want, [2]int{lo, min(lo+size, tc.n)})
		}
		if !slices.Equal(got, want) {
			t.Errorf("Reset(%d, %d): %v, want %v", tc.n, tc.size, got, want)
		}
	}
}
