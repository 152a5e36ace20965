//go:build arm64 && !purego

package kernels

// Declarations of the hand-written NEON kernels in kernels_arm64.s. A dp argument of 1 selects
// the SDOT path (the CPU must have the dot-product extension), 0 the plain Advanced SIMD one.

// dotF16NEON returns the dot product of n F16 values at w with n floats at x; n is a positive
// multiple of 16.
//
//go:noescape
func dotF16NEON(w *byte, x *float32, n int) float32

// dotQ8_0cNEON stores to c[k] the chain over blocks b ≡ k (mod 4), b < 4·nb4, of
// fma(s_b, d_b·dy_b) for Q8_0 weights at w and Q8 activations q, d (see finishB32); nb4 > 0.
//
//go:noescape
func dotQ8_0cNEON(w *byte, q *int8, d *float32, nb4 int, c *float32, dp int)

// dotQ4_0cNEON is dotQ8_0cNEON for Q4_0 weights.
//
//go:noescape
func dotQ4_0cNEON(w *byte, q *int8, d *float32, nb4 int, c *float32, dp int)

// dotQ4_KsNEON stores to s[8b+j] the integer dot product of sub-block j of Q4_K super-block b
// (its 4-bit values, before scales and minimums) with its Q8_K activations, for nb > 0 blocks.
//
//go:noescape
func dotQ4_KsNEON(w *byte, q *int8, nb int, s *int32, dp int)

// dotQ6_KsNEON stores to s[16b+i] the integer dot product of group i (16 weights, 6-bit values
// minus 32, before scales) of Q6_K super-block b with its Q8_K activations, for nb > 0 blocks.
//
//go:noescape
func dotQ6_KsNEON(w *byte, q *int8, nb int, s *int32, dp int)
