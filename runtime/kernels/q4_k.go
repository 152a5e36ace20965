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
	return dy * (f16le(blk)*float32(sumi) - f16le(blk[2:])*float32(summ))
}

func dotQ4_KGo(w []byte, r *row) float32 {
	var q [256]int8
	var sum float32
	for b := range len(r.d) {
		blk := w[b*144 : b*144+144 : b*144+144]
		unpackQ4_K(&q, blk)
		sum += dotK8(&q, blk, r.q[b*256:], r.s[b*16:b*16+16], r.d[b])
	}
	return sum
}
