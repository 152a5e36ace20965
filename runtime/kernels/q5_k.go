package kernels

// Q5_K: super-blocks of 256 weights, 176 bytes: F16 d, F16 dmin, 12 bytes of scales and
// minimums as in Q4_K, 32 bytes of fifth bits (bit k of byte l belongs to weight 32k+l), then
// 128 bytes of low nibbles laid out as in Q4_K; w = d*sc*q - dmin*m.

func unpackQ5_K(q *[256]int8, blk []byte) {
	qh := blk[16:48:48]
	qs := blk[48:176:176]
	for k := range 4 {
		for l := range 32 {
			lo := int8(qs[32*k+l] & 0xF)
			hi := int8(qs[32*k+l] >> 4)
			lo |= int8((qh[l]>>(2*k))&1) << 4
			hi |= int8((qh[l]>>(2*k+1))&1) << 4
			q[64*k+l] = lo
			q[64*k+32+l] = hi
		}
	}
}

func dotQ5_KGo(w []byte, r *row) float32 {
	var q [256]int8
	var sum float32
	for b := range len(r.d) {
		blk := w[b*176 : b*176+176 : b*176+176]
		unpackQ5_K(&q, blk)
		sum += dotK8(&q, blk, r.q[b*256:], r.s[b*16:b*16+16], r.d[b])
	}
	return sum
}
