package kernels

// Q4_1: blocks of 32 weights, 20 bytes: F16 scale d and F16 minimum m, then 16 bytes of 4-bit
// values laid out as in Q4_0; w = d*q + m.

func dotQ4_1Go(w []byte, r *row) float32 {
	var sum float32
	for b := range len(r.d) {
		blk := w[b*20 : b*20+20 : b*20+20]
		q := r.q[b*32 : b*32+32 : b*32+32]
		var si int32
		for j := range 16 {
			si += int32(blk[4+j]&0xF)*int32(q[j]) + int32(blk[4+j]>>4)*int32(q[j+16])
		}
		sum += f16le(blk)*r.d[b]*float32(si) + f16le(blk[2:])*r.d[b]*float32(r.s[b])
	}
	return sum
}
