package kernels

import (
	"fmt"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize/codec"
)

// The 1-3-bit codebook types (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) and the
// ternary TQ1_0 and TQ2_0 have one pure-Go dot product for now. The codec (the one home of
// their grids and bit layouts) unpacks each 256-weight super-block into small integers q and
// per-16 integer scales sc with weight = d·sc·q (codec.IntUnpacker); the products with the Q8_K
// activations are summed exactly in integers per 16 weights and per block, then scaled by d and
// the activation scale once per block, as ggml's vec_dot functions do.

// dotIntsGo returns the dot product of type t for rows of Q8_K activations.
func dotIntsGo(t gguf.TensorType) func(w []byte, r *row) float32 {
	c, ok := codec.Lookup(t)
	if !ok || c.BlockSize() != QK_K {
		panic(fmt.Sprintf("kernels: %s has no codec with %d-weight blocks", t, QK_K))
	}
	u, ok := c.(codec.IntUnpacker)
	if !ok {
		panic(fmt.Sprintf("kernels: the %s codec cannot unpack integers", t))
	}
	ts := c.TypeSize()
	return func(w []byte, r *row) float32 {
		var q [QK_K]int8
		var sc [16]int32
		var sum float32
		for b := range len(r.d) {
			d := u.UnpackInts(w[b*ts:b*ts+ts], &q, &sc)
			y := r.q[b*QK_K : b*QK_K+QK_K : b*QK_K+QK_K]
			var sumi int32
			for g := range 16 {
				var s int32
				for e := 16 * g; e < 16*g+16; e++ {
					s += int32(q[e]) * int32(y[e])
				}
				sumi += sc[g] * s
			}
			sum += r.d[b] * d * float32(sumi)
		}
		return sum
	}
}
