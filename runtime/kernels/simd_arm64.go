//go:build arm64 && !purego

package kernels

import (
	"os"

	"golang.org/x/sys/cpu"

	"github.com/mcompress/mcompress/convert/gguf"
)

// neonDotProd reports whether the NEON kernels use SDOT (the CPU's dot-product extension). It
// is off where the CPU lacks it or the environment variable MCOMPRESS_SIMD is "neon".
var neonDotProd = cpu.ARM64.HasASIMDDP && os.Getenv("MCOMPRESS_SIMD") != "neon"

// Every arm64 CPU has Advanced SIMD (NEON), so the NEON kernels are always installed: one-token
// dot products of F16, Q8_0, Q4_0, Q4_K and Q6_K weights. MatMul calls them once per token
// (there are no four-token or 16-token kernels on arm64 yet).
func init() {
	dp := 0
	simdName = "neon"
	if neonDotProd {
		dp = 1
		simdName = "neon-dotprod"
	}
	kernels[gguf.TypeF16].dot = dotF16RowNEON
	kernels[gguf.TypeQ8_0].dot = func(w []byte, r *row) float32 { return dotB32NEON(34, w, r, dp) }
	kernels[gguf.TypeQ4_0].dot = func(w []byte, r *row) float32 { return dotB32NEON(18, w, r, dp) }
	kernels[gguf.TypeQ4_K].dot = func(w []byte, r *row) float32 { return dotQ4_KNEON(w, r, dp) }
	kernels[gguf.TypeQ6_K].dot = func(w []byte, r *row) float32 { return dotQ6_KNEON(w, r, dp) }
}

// dotF16RowNEON is the F16 one-token dot product: the kernel over whole groups of 16, Go for
// the rest.
func dotF16RowNEON(w []byte, r *row) float32 {
	x := r.f
	n := len(x) &^ 15
	var s float32
	if n > 0 {
		_ = w[2*n-1]
		s = dotF16NEON(&w[0], &x[0], n)
	}
	for i := n; i < len(x); i++ {
		s += f16le(w[2*i:]) * x[i]
	}
	return s
}

// dotB32NEON is the one-token Q8_0 (bb = 34) or Q4_0 (bb = 18) dot product: the kernel computes
// the chains of finishB32 over whole groups of four blocks, finishB32 the rest, so the result
// is the pure-Go one bit for bit.
func dotB32NEON(bb int, w []byte, r *row, dp int) float32 {
	var c [4]float32
	nb4 := len(r.d) / 4
	if nb4 > 0 {
		_, _, _ = w[4*nb4*bb-1], r.q[4*nb4*QK8-1], r.d[4*nb4-1]
		if bb == 18 {
			dotQ4_0cNEON(&w[0], &r.q[0], &r.d[0], nb4, &c[0], dp)
		} else {
			dotQ8_0cNEON(&w[0], &r.q[0], &r.d[0], nb4, &c[0], dp)
		}
	}
	return finishB32(&c, 4*nb4, w, bb, r)
}

// dotQ4_KNEON is the one-token Q4_K dot product: the kernel computes the sub-block integer sums
// of up to kChunk super-blocks at a time, sumQ4_K scales them as the pure-Go twin does.
func dotQ4_KNEON(w []byte, r *row, dp int) float32 {
	var s [8 * kChunk]int32
	var sum float32
	for b0 := 0; b0 < len(r.d); b0 += kChunk {
		nb := min(kChunk, len(r.d)-b0)
		_, _ = w[(b0+nb)*144-1], r.q[(b0+nb)*QK_K-1]
		dotQ4_KsNEON(&w[b0*144], &r.q[b0*QK_K], nb, &s[0], dp)
		sum = sumQ4_K(sum, w, r, b0, s[:8*nb])
	}
	return sum
}

// dotQ6_KNEON is dotQ4_KNEON for Q6_K (group sums of 16 weights, scaled by sumQ6_K).
func dotQ6_KNEON(w []byte, r *row, dp int) float32 {
	var s [16 * kChunk]int32
	var sum float32
	for b0 := 0; b0 < len(r.d); b0 += kChunk {
		nb := min(kChunk, len(r.d)-b0)
		_, _ = w[(b0+nb)*210-1], r.q[(b0+nb)*QK_K-1]
		dotQ6_KsNEON(&w[b0*210], &r.q[b0*QK_K], nb, &s[0], dp)
		sum = sumQ6_K(sum, w, r, b0, s[:16*nb])
	}
	return sum
}
