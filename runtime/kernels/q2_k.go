package kernels

// Q2_K: super-blocks of 256 weights, 84 bytes: 16 scale bytes (low nibble a 4-bit scale, high
// nibble a 4-bit minimum, one per 16 weights), 64 bytes of 2-bit values, an F16 super-scale d
// and an F16 super-minimum dmin; w = d*sc*q - dmin*m.
//
// Weight e of a super-block (n = e/128, j = (e%128)/32, l = e%32) is bits 2j..2j+1 of byte
// 32n+l of the values; its scale is byte e/16.

func unpackQ2_K(q *[256]int8, blk []byte) {
	for n := range 2 {
		qs := blk[16+32*n : 48+32*n : 48+32*n]
		for j := range 4 {
			out := q[128*n+32*j : 128*n+32*j+32 : 128*n+32*j+32]
			for l, v := range qs {
				out[l] = int8((v >> (2 * j)) & 3)
			}
		}
	}
}

func dotQ2_KGo(w []byte, r *row) float32 {
	var q [256]int8
	var sum float32
	for b := range len(r.d) {
		blk := w[b*84 : b*84+84 : b*84+84]
		unpackQ2_K(&q, blk)
		y := r.q[b*256 : b*256+256 : b*256+256]
		var sumi, summ int32
		for i := range 16 {
			var s int32
			for e := 16 * i; e < 16*i+16; e++ {
				s += int32(q[e]) * int32(y[e])
			}
			sumi += int32(blk[i]&0xF) * s
			summ += int32(blk[i]>>4) * int32(r.s[b*16+i])
		}
		sum += r.d[b] * (f16le(blk[80:])*float32(sumi) - f16le(blk[82:])*float32(summ))
	}
	return sum
}
