package calibrate

import (
	"sort"

	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
)

// ColumnSquares accumulates, for every weight matrix it selects, the sum over activation
// vectors of the square of each input column, and the number of vectors summed: llama-imatrix's
// statistics (in_sum2 and counts) and Wanda's squared column norms ‖X_j‖². Matrices that share
// an input each get their own entry, as in an imatrix file. The sums are exact (ExactSum) and
// rounded to float64 only by Stats, so collections over parts of the data (shards) merged with
// Merge give the same statistics, bit for bit, as one collection over all of it.
type ColumnSquares struct {
	// MinRows skips micro-batches of fewer rows (llama-imatrix skips fewer than 16).
	MinRows int
	// Select, when not nil, chooses the weights collected by GGUF name.
	Select func(weight string) bool

	entries map[string]*columnSums
}

type columnSums struct {
	sums  []ExactSum
	count int64
}

// Add implements Accumulator.
func (c *ColumnSquares) Add(a runtime.Activations) {
	if a.Rows < c.MinRows {
		return
	}
	for _, w := range a.Weights {
		if c.Select != nil && !c.Select(w) {
			continue
		}
		if c.entries == nil {
			c.entries = map[string]*columnSums{}
		}
		e := c.entries[w]
		if e == nil {
			e = &columnSums{sums: make([]ExactSum, a.Cols)}
			c.entries[w] = e
		}
		if len(e.sums) != a.Cols {
			continue // cannot happen for one model: a different model's tensor of that name
		}
		for r := 0; r < a.Rows; r++ {
			for j, v := range a.X[r*a.Cols : (r+1)*a.Cols] {
				e.sums[j].Add(float64(v) * float64(v))
			}
		}
		e.count += int64(a.Rows)
	}
}

// Names returns the weights collected so far, in sorted order.
func (c *ColumnSquares) Names() []string {
	names := make([]string, 0, len(c.entries))
	for n := range c.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Stats returns a copy of the statistics (without datasets or chunk counts, which the caller
// knows).
func (c *ColumnSquares) Stats() *quantize.ImatrixStats {
	s := &quantize.ImatrixStats{Entries: make(map[string]quantize.ColumnStats, len(c.entries))}
	for n, e := range c.entries {
		sums := make([]float64, len(e.sums))
		for j, v := range e.sums {
			sums[j] = v.Float64()
		}
		s.Entries[n] = quantize.ColumnStats{Sums: sums, Counts: []int64{e.count}}
	}
	return s
}
