package kernels

// Q6_K: super-blocks of 256 weights, 210 bytes: 128 bytes of low nibbles, 64 bytes of high
// 2-bit pairs, 16 signed 8-bit scales (one per 16 weights) and an F16 super-scale d;
// w = d*sc*(q-32).
//
// In each half n of 128 weights (low nibbles at 64n, high bits at 128+32n), weight
// 128n+32g+l (g < 4, l < 32) takes the low nibble of byte l (g = 0), l+32 (g = 1), or the high
// nibble of byte l (g = 2), l+32 (g = 3), and bits 2g..2g+1 of high byte l.

func unpackQ6_K(q *[256]int8, blk []byte) {
	for n := range 2 {
		ql := blk[64*n : 64*n+64 : 64*n+64]
		qh := blk[128+32*n : 128+32*n+32 : 128+32*n+32]
		for l := range 32 {
			h := qh[l]
			q[128*n+l] = int8(ql[l]&0xF|(h&3)<<4) - 32
			q[128*n+32+l] = int8(ql[l+32]&0xF|((h>>2)&3)<<4) - 32
			q[128*n+64+l] = int8(ql[l]>>4|((h>>4)&3)<<4) - 32
			q[128*n+96+l] = int8(ql[l+32]>>4|((h>>6)&3)<<4) - 32
		}
	}
}

func scalesQ6_K(sc *[16]int8, blk []byte) {
	for i := range 16 {
		sc[i] = int8(blk[192+i])
	}
}

func dotQ6_KGo(w []byte, r *row) float32 {
	var q [256]int8
	var s [16 * kChunk]int32
	var sum float32
	for b0 := 0; b0 < len(r.d); b0 += kChunk {
		nb := min(kChunk, len(r.d)-b0)
		for b := range nb {
			o := (b0 + b) * 210
			unpackQ6_K(&q, w[o:o+210:o+210])
			subDots(s[16*b:16*b+16], q[:], r.q[(b0+b)*256:(b0+b+1)*256], 16)
		}
		sum = sumQ6_K(sum, w, r, b0, s[:16*nb])
	}
	return sum
}

// sumQ6_K adds to sum the dot products of the Q6_K super-blocks b0, b0+1, ... of w with r, given
// the integer sums s of their groups of 16 (sixteen per block, as subDots or dotQ6_KsNEON
// computes them). Every Q6_K kernel that gathers group sums ends here (see sumQ4_K).
//
//go:noinline
func sumQ6_K(sum float32, w []byte, r *row, b0 int, s []int32) float32 {
	var sc [16]int8
	for i := range len(s) / 16 {
		b := b0 + i
		blk := w[b*210 : b*210+210 : b*210+210]
		scalesQ6_K(&sc, blk)
		var sumi int32
		for g, v := range sc {
			sumi += int32(v) * s[16*i+g]
		}
		sum += r.d[b] * f16le(blk[208:]) * float32(sumi)
	}
	return sum
}
