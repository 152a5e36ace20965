package kernels

// Q5_1: blocks of 32 weights, 24 bytes: F16 scale d, F16 minimum m, 32 bits of fifth bits and
// 16 bytes of low nibbles as in Q5_0; w = d*q + m.

func dotQ5_1Go(w []byte, r *row) float32 {
	var sum float32
	var v [32]int8
	for b := range len(r.d) {
		blk := w[b*24 : b*24+24 : b*24+24]
		unpackQ5(&v, blk[4:], 0)
		sum += f16le(blk)*r.d[b]*float32(dot32(&v, r.q[b*32:b*32+32])) + f16le(blk[2:])*r.d[b]*float32(r.s[b])
	}
	return sum
}
