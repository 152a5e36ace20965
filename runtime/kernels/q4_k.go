package kernels

import "github.com/mcompress/mcompress/quantize/codec"

// Q4_K: super-blocks of 256 weights, 144 bytes: F16 super-scale d, F16 super-minimum dmin, 12
// bytes packing eight 6-bit scales and eight 6-bit minimums (one pair per 32 weights), then 128
// bytes of 4-bit values: bytes 32k..32k+31 hold sub-block 2k in their low nibbles and sub-block
// 2k+1 in their high nibbles; w = d*sc*q - dmin*m.

func unpackQ4_K(q *[256]int8, blk []byte) {
	qs := blk[16:144:144]
	for k := range 4 {
		for l := range 32 {
			q[64*k+l] = int8(qs[32*k+l] & 0xF)
			q[64*k+32+l] = int8(qs[32*k+l] >> 4)
		}
	}
}

// dotK8 is the dot product of a Q4_K or Q5_K block's unpacked values with 256 activations.
func dotK8(q *[256]int8, blk []byte, y []int8, bsums []int16, dy float32) float32 {
	y = y[:256]
	var sumi, summ int32
	for j := range 8 {
		sc, m := codec.ScaleMinK4(j, blk[4:16])
		var s int32
		for e := 32 * j; e < 32*j+32; e++ {
			s += int32(q[e]) * int32(y[e])
		}
		sumi += int32(sc) * s
		summ += int32(m) * (int32(bsums[2*j]) + int32(bsums[2*j+1]))
	}
	return finishK8(blk, sumi, summ, dy)
}

// finishK8 scales a Q4_K or Q5_K block's integer sums: sumi, the sum over sub-blocks of scale
// times values·activations, and summ, the sum of minimum times activation sums.
func finishK8(blk []byte, sumi, summ int32, dy float32) float32 {
	return dy * (f16le(blk)*float32(sumi) - f16le(blk[2:])*float32(summ))
}

// kChunk is the number of super-blocks whose integer sub-block sums the Q4_K and Q6_K dot
// products gather (in a stack buffer, by a SIMD kernel or in Go) before scaling them.
const kChunk = 16

func dotQ4_KGo(w []byte, r *row) float32 {
	var q [256]int8
	var s [8 * kChunk]int32
	var sum float32
	for b0 := 0; b0 < len(r.d); b0 += kChunk {
		nb := min(kChunk, len(r.d)-b0)
		for b := range nb {
			o := (b0 + b) * 144
			unpackQ4_K(&q, w[o:o+144:o+144])
			subDots(s[8*b:8*b+8], q[:], r.q[(b0+b)*256:(b0+b+1)*256], 32)
		}
		sum = sumQ4_K(sum, w, r, b0, s[:8*nb])
	}
	return sum
}

// sumQ4_K adds to sum the dot products of the Q4_K super-blocks b0, b0+1, ... of w with r, given
// their sub-block integer sums s (eight per block, as subDots or dotQ4_KsNEON computes them).
// Every Q4_K kernel that gathers sub-block sums ends here, so they agree bit for bit; it is
// not inlined so that the compiler fuses its floating-point operations the same way for all.
//
//go:noinline
func sumQ4_K(sum float32, w []byte, r *row, b0 int, s []int32) float32 {
	for i := range len(s) / 8 {
		b := b0 + i
		blk := w[b*144 : b*144+16 : b*144+16]
		bsums := r.s[b*16 : b*16+16 : b*16+16]
		var sumi, summ int32
		for j := range 8 {
			sc, m := codec.ScaleMinK4(j, blk[4:16])
			sumi += int32(sc) * s[8*i+j]
			summ += int32(m) * (int32(bsums[2*j]) + int32(bsums[2*j+1]))
		}
		sum += finishK8(blk, sumi, summ, r.d[b])
	}
	return sum
}

// subDots stores to dst[i] the integer dot product of q and y over elements
// width·i .. width·i+width-1.
func subDots(dst []int32, q, y []int8, width int) {
	for i := range dst {
		qs, ys := q[width*i:width*i+width], y[width*i:width*i+width]
		var s int32
		for e, v := range qs {
			s += int32(v) * int32(ys[e])
		}
		dst[i] = s
	}
}
