package calibrate

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/mcompress/mcompress/quantize"
	mrt "github.com/mcompress/mcompress/runtime"
)

// Gram accumulates XᵀX in float64 for every matrix input it selects (the inputs of the
// weight matrices, not the block input and output): one quantize.Gram per site and block,
// shared by the matrices that take that input. Each product x_i·x_j of float32 values is exact
// in float64 and added in row order; rows of H are spread over Threads goroutines, each element
// owned by one, so the sums do not depend on the thread count. Only the lower triangle is
// accumulated; Grams mirrors it.
type Gram struct {
	// Threads is the number of goroutines (0: GOMAXPROCS).
	Threads int
	// Select, when not nil, chooses the inputs collected by the first weight they feed
	// ("blk.3.attn_q.weight" for the attention input of block 3).
	Select func(weight string) bool

	grams map[gramKey]*quantize.Gram
	order []gramKey // in order of first observation (the forward pass's)
	x64   []float64
}

type gramKey struct {
	site  mrt.Site
	layer int
}

// gramRows is the number of rows of H one task accumulates, gramCols the columns of them it
// updates per pass over the rows of x.
const (
	gramRows = 8
	gramCols = 256
)

// Add implements Accumulator.
func (g *Gram) Add(a mrt.Activations) {
	if len(a.Weights) == 0 || (g.Select != nil && !g.Select(a.Weights[0])) {
		return
	}
	k := gramKey{a.Site, a.Layer}
	h := g.grams[k]
	if h == nil {
		if g.grams == nil {
			g.grams = map[gramKey]*quantize.Gram{}
		}
		h = &quantize.Gram{Weights: a.Weights, N: a.Cols, Sum: make([]float64, a.Cols*a.Cols)}
		g.grams[k] = h
		g.order = append(g.order, k)
	}
	if h.N != a.Cols {
		return // cannot happen for one model
	}
	n := a.Cols
	if cap(g.x64) < a.Rows*n {
		g.x64 = make([]float64, a.Rows*n)
	}
	x := g.x64[:a.Rows*n]
	for i, v := range a.X {
		x[i] = float64(v)
	}
	var next atomic.Int64
	work := func() {
		for {
			i0 := int(next.Add(gramRows)) - gramRows
			if i0 >= n {
				return
			}
			i1 := min(i0+gramRows, n)
			// Columns in blocks of gramCols keep the rows' slices of H in cache while
			// every row of x is added; each element still sums the rows in order. gramCols is a
			// multiple of gramRows, so j0 <= i0 and every row i of the task has columns j0..
			for j0 := 0; j0 < i1; j0 += gramCols {
				for r := 0; r < a.Rows; r++ {
					xr := x[r*n : (r+1)*n]
					for i := i0; i < i1; i++ {
						j1 := min(j0+gramCols, i+1)
						xi := xr[i]
						hi := h.Sum[i*n+j0 : i*n+j1]
						for j, xj := range xr[j0:j1] {
							hi[j] += xi * xj
						}
					}
				}
			}
		}
	}
	threads := g.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, (n+gramRows-1)/gramRows)
	var wg sync.WaitGroup
	for range threads - 1 {
		wg.Add(1)
		go func() { defer wg.Done(); work() }()
	}
	work()
	wg.Wait()
	h.Count += int64(a.Rows)
}

// Grams returns copies of the statistics, in the order of the forward pass, each with its
// upper triangle filled from the lower.
func (g *Gram) Grams() []*quantize.Gram {
	out := make([]*quantize.Gram, 0, len(g.order))
	for _, k := range g.order {
		h := g.grams[k]
		c := &quantize.Gram{Weights: append([]string{}, h.Weights...), N: h.N, Sum: append([]float64{}, h.Sum...), Count: h.Count}
		for i := 0; i < c.N; i++ {
			for j := 0; j < i; j++ {
				c.Sum[j*c.N+i] = c.Sum[i*c.N+j]
			}
		}
		out = append(out, c)
	}
	return out
}
