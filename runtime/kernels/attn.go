package kernels

import (
	"fmt"
	"math"
)

// The float32 kernels of attention and the feed-forward activation: small matrix products,
// the exponential of a softmax row and SwiGLU. Their pure-Go versions follow the SIMD ones
// operation for operation (fused multiply-adds through math.FMA, the same polynomial, the same
// summation order), so both give the same bits.

// SIMD versions, installed by the architecture files (nil when absent).
var (
	gemmF32Tiles []gemmTile
	softmaxSIMD  func(x *float32, n int) float32
	swigluSIMD   func(g, u *float32, n int)
)

// gemmTile is a kernel for an mr × nr block of a float32 matrix product.
type gemmTile struct {
	mr, nr int
	fn     func(k int, a *float32, lda int, b *float32, ldb int, c *float32, ldc int)
}

// GemmF32 stores into c (m rows of n values, row i at c[i*ldc:]) the product of a (m rows of k
// values, row i at a[i*lda:]) and b (k rows of n values, row p at b[p*ldb:]). Each element is
// one chain of fused multiply-adds over p = 0..k-1 from zero, whichever kernel computes it, so
// the result does not depend on how the matrices are tiled.
func GemmF32(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m <= 0 || n <= 0 {
		return
	}
	if k <= 0 {
		for i := range m {
			clear(c[i*ldc : i*ldc+n])
		}
		return
	}
	if len(a) < (m-1)*lda+k || len(b) < (k-1)*ldb+n || len(c) < (m-1)*ldc+n || lda < k || ldc < n || ldb < n {
		panic(fmt.Sprintf("kernels: GemmF32 %dx%dx%d: slices too short for their strides", m, n, k))
	}
	c0 := 0
	if !UsePureGo {
		for _, t := range gemmF32Tiles {
			for ; c0+t.nr <= n && m >= t.mr; c0 += t.nr {
				r := 0
				for ; r+t.mr <= m; r += t.mr {
					t.fn(k, &a[r*lda], 4*lda, &b[c0], 4*ldb, &c[r*ldc+c0], 4*ldc)
				}
				gemmF32Go(r, m, c0, c0+t.nr, k, a, lda, b, ldb, c, ldc)
			}
		}
	}
	gemmF32Go(0, m, c0, n, k, a, lda, b, ldb, c, ldc)
}

// gemmF32Go computes rows r0..r1 and columns c0..c1 of GemmF32's product.
func gemmF32Go(r0, r1, c0, c1, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if c0 >= c1 {
		return
	}
	for i := r0; i < r1; i++ {
		ci := c[i*ldc+c0 : i*ldc+c1]
		clear(ci)
		ai := a[i*lda : i*lda+k]
		for p, av := range ai {
			bp := b[p*ldb+c0 : p*ldb+c1]
			for j, bv := range bp {
				ci[j] = float32(math.FMA(float64(av), float64(bv), float64(ci[j])))
			}
		}
	}
}

// The exponential shared by SoftmaxExp and SwiGLU (see expf32).
const (
	expLo = -104
	expHi = 88.7
	expC1 = 0.693359375
	expC2 = -2.12194440e-4
	log2e = 1.44269504088896341
)

var expPoly = [6]float32{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1}

// fma32 is the float32 fused multiply-add x*y+z (one rounding).
func fma32(x, y, z float32) float32 { return float32(math.FMA(float64(x), float64(y), float64(z))) }

// expf32 is e^x in float32 as the SIMD kernels compute it: x clamped to [-104, 88.7],
// n = round(x·log2 e) (ties to even), r = x − n·ln 2 with ln 2 in two parts, e^r from Cephes'
// degree-7 polynomial (relative error about 1e-7), times 2^n (0 below the range). NaN is
// taken as the bottom of the range, as VMAXPS does.
func expf32(x float32) float32 {
	if !(x >= expLo) {
		x = expLo
	}
	x = min(x, expHi)
	k := float32(math.RoundToEven(float64(x * log2e)))
	r := fma32(-expC1, k, x)
	r = fma32(-expC2, k, r)
	p := expPoly[0]
	for _, c := range expPoly[1:] {
		p = fma32(p, r, c)
	}
	p = fma32(p, r*r, r) + 1
	return float32(math.Ldexp(float64(p), int(k)))
}

// hsum16 adds 16 lanes in the order of the SIMD kernels' horizontal sum.
func hsum16(l *[16]float32) float32 {
	var a [8]float32
	for i := range a {
		a[i] = l[i+8] + l[i]
	}
	var b [4]float32
	for i := range b {
		b[i] = a[i+4] + a[i]
	}
	return (b[0] + b[2]) + (b[1] + b[3])
}

// SoftmaxExp replaces x (at least one value) with exp(x − max x) and returns the sum of the
// new values: a softmax without the final division, which callers fold into what they compute
// next.
func SoftmaxExp(x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	if softmaxSIMD != nil && !UsePureGo {
		return softmaxSIMD(&x[0], len(x))
	}
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v)
	}
	var lanes [16]float32
	for i, v := range x {
		e := expf32(v - m)
		x[i] = e
		lanes[i%16] += e
	}
	return hsum16(&lanes)
}

// SwiGLU replaces gate with silu(gate)·up = gate/(1+exp(−gate))·up, element by element.
func SwiGLU(gate, up []float32) {
	if len(gate) == 0 {
		return
	}
	up = up[:len(gate)]
	if swigluSIMD != nil && !UsePureGo {
		swigluSIMD(&gate[0], &up[0], len(gate))
		return
	}
	for i, g := range gate {
		gate[i] = g / (1 + expf32(-g)) * up[i]
	}
}
