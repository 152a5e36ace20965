package codec

import "math"

// tq2_0 is ggml's TQ2_0 (2.0625 bits per weight), for ternary-trained models: super-blocks of
// 256 weights in 66 bytes: 64 bytes of 2-bit codes q (0, 1, 2 for -1, 0, 1; byte j+m of each
// 32-byte half holds weight j*4+n*32+m at bits 2*n, with j the half's first weight / 4), then
// F16 d. Weight value: (q-1)*d. The quantizer ignores importance weights.
type tq2_0 struct{}

func (tq2_0) BlockSize() int { return QKK }
func (tq2_0) TypeSize() int  { return tq2_0Size }

const tq2_0Size = 66

func (tq2_0) QuantizeRow(dst []byte, x, _ []float32) {
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*tq2_0Size : i*tq2_0Size+tq2_0Size]
		d := ternaryScale(xb)
		id := ternaryInverse(d)
		put16(y[64:], fp16(d))
		for j := 0; j < 64; j += 32 {
			xs := xb[4*j:]
			for m := 0; m < 32; m++ {
				var q uint8
				for n := 0; n < 4; n++ {
					q += uint8(ternaryCode(xs[m+32*n], id)&3) << (2 * n)
				}
				y[j+m] = q
			}
		}
	}
}

func (tq2_0) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*tq2_0Size : i*tq2_0Size+tq2_0Size]
		d := halfAt(b[64:])
		y := dst[i*QKK : i*QKK+QKK]
		for j := 0; j < 64; j += 32 {
			for n := 0; n < 4; n++ {
				out := y[4*j+32*n : 4*j+32*n+32]
				for m := range 32 {
					out[m] = float32(int32(b[j+m]>>(2*n)&3)-1) * d
				}
			}
		}
	}
}

// ternaryScale is the scale of the ternary types: the largest magnitude of the block.
func ternaryScale(x []float32) float32 {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	return amax
}

// ternaryInverse is 1/d, or 0 for d == 0.
func ternaryInverse(d float32) float32 {
	if d == 0 {
		return 0
	}
	return 1 / d
}

// ternaryCode is lroundf(x*id)+1: 0, 1, 2 for -1, 0, 1. math.Round rounds ties away from zero,
// as lroundf does, and is exact on the widened product.
func ternaryCode(x, id float32) int32 {
	return int32(math.Round(float64(x*id))) + 1
}
