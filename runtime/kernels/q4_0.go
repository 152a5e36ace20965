package kernels

// Q4_0: blocks of 32 weights, 18 bytes: an F16 scale d, then 16 bytes of 4-bit values; byte j
// holds weight j in its low nibble and weight j+16 in its high nibble; w = d*(q-8).

func dotQ4_0Go(w []byte, r *row) float32 {
	var c [4]float32
	return finishB32(&c, 0, w, 18, r)
}

func unpackQ4_0(q *[32]int8, blk []byte) {
	for j := range 16 {
		q[j] = int8(blk[2+j]&0xF) - 8
		q[j+16] = int8(blk[2+j]>>4) - 8
	}
}
