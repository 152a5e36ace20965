package kernels

import (
	"fmt"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize/codec"
)

// The 1-3-bit codebook types (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) and the
// ternary TQ1_0 and TQ2_0 have one pure-Go dot product for now: each 256-weight super-block is
// expanded to float32 by the type's codec (the one home of their grids and bit layouts) and
// multiplied with the Q8_K activations of the block, summed in float32 and scaled by the
// activations' block scale, as ggml's dot products scale by y.d once per block.

// dotDequantGo returns the dot product of type t for rows of Q8_K activations.
func dotDequantGo(t gguf.TensorType) func(w []byte, r *row) float32 {
	c, ok := codec.Lookup(t)
	if !ok || c.BlockSize() != QK_K {
		panic(fmt.Sprintf("kernels: %s has no codec with %d-weight blocks", t, QK_K))
	}
	ts := c.TypeSize()
	return func(w []byte, r *row) float32 {
		var wf [QK_K]float32
		var sum float32
		for b := range len(r.d) {
			c.DequantizeRow(wf[:], w[b*ts:b*ts+ts])
			y := r.q[b*QK_K : b*QK_K+QK_K : b*QK_K+QK_K]
			var s float32
			for i, v := range wf {
				s += v * float32(y[i])
			}
			sum += r.d[b] * s
		}
		return sum
	}
}
