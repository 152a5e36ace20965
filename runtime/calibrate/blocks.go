package calibrate

import (
	"math"

	"github.com/mcompress/mcompress/runtime"
)

// BlockStat is one block's layer-importance statistic: the sum over tokens of the angular
// distance 1 − cos(x_in, x_out) between the hidden state entering and leaving the block, and
// the number of tokens. Blocks with a small mean change their input little (ShortGPT's Block
// Influence) and are the first candidates to drop. It is additive.
type BlockStat struct {
	Sum   float64
	Count int64
}

// Mean returns Sum/Count (0 when nothing was summed).
func (b BlockStat) Mean() float64 {
	if b.Count == 0 {
		return 0
	}
	return b.Sum / float64(b.Count)
}

// Merge adds o to b.
func (b *BlockStat) Merge(o BlockStat) {
	b.Sum += o.Sum
	b.Count += o.Count
}

// BlockDistance accumulates, per block, the angular distance between each token's hidden
// state entering and leaving it (see BlockStat). It keeps one block input (one micro-batch)
// until the block's output arrives.
type BlockDistance struct {
	stats []BlockStat
	in    []float32
	layer int
}

// Add implements Accumulator.
func (b *BlockDistance) Add(a runtime.Activations) {
	switch a.Site {
	case runtime.SiteBlockInput:
		b.in = append(b.in[:0], a.X...)
		b.layer = a.Layer
	case runtime.SiteBlockOutput:
		if a.Layer != b.layer || len(b.in) != len(a.X) {
			return // the input was not seen (a Layers filter cannot split a block)
		}
		for a.Layer >= len(b.stats) {
			b.stats = append(b.stats, BlockStat{})
		}
		s := &b.stats[a.Layer]
		for r := 0; r < a.Rows; r++ {
			x, y := b.in[r*a.Cols:(r+1)*a.Cols], a.X[r*a.Cols:(r+1)*a.Cols]
			var xy, xx, yy float64
			for j := range x {
				xj, yj := float64(x[j]), float64(y[j])
				xy += xj * yj
				xx += xj * xj
				yy += yj * yj
			}
			cos := 1.0
			if d := math.Sqrt(xx * yy); d > 0 {
				cos = xy / d
			}
			s.Sum += 1 - cos
		}
		s.Count += int64(a.Rows)
		b.in = b.in[:0]
	}
}

// Stats returns a copy of the per-block statistics, indexed by block (blocks not observed
// are zero).
func (b *BlockDistance) Stats() []BlockStat {
	return append([]BlockStat{}, b.stats...)
}

// Capture keeps copies of the activations of one site of one block, micro-batch by
// micro-batch: the inputs of a block, for example, to run it alone while it is pruned or
// quantized. Its memory grows with the calibration tokens (Rows × Cols float32 each).
type Capture struct {
	Site  runtime.Site
	Layer int

	// Batches holds the captured micro-batches in order, each Rows × Cols row-major.
	Batches [][]float32
	// Cols is the row length of the captured activations.
	Cols int
}

// Add implements Accumulator.
func (c *Capture) Add(a runtime.Activations) {
	if a.Site != c.Site || a.Layer != c.Layer {
		return
	}
	c.Batches = append(c.Batches, append([]float32(nil), a.X...))
	c.Cols = a.Cols
}
