package kernels

// Q8_0: blocks of 32 weights, 34 bytes: an F16 scale d and 32 signed bytes; w = d*q.

func dotQ8_0Go(w []byte, r *row) float32 {
	var c [4]float32
	return finishB32(&c, 0, w, 34, r)
}

func unpackQ8_0(q *[32]int8, blk []byte) {
	for i := range q {
		q[i] = int8(blk[2+i])
	}
}

// finishB32 evaluates the dot product of a row of 32-weight blocks (Q8_0 or Q4_0, told apart
// by blockBytes: 34 or 18) with Q8 activations the way every kernel of these types does,
// so that results do not depend on the kernel or the batch: the exact integer sum s_b of each
// block's products, four chains c_k = fma(s_b, d_b·dy_b, c_k) over the blocks b ≡ k (mod 4),
// and (c0+c1)+(c2+c3). c holds the chains over the blocks before from (computed by a SIMD
// kernel, or zero).
func finishB32(c *[4]float32, from int, w []byte, blockBytes int, r *row) float32 {
	var q [32]int8
	for b := from; b < len(r.d); b++ {
		blk := w[b*blockBytes : (b+1)*blockBytes]
		if blockBytes == 18 {
			unpackQ4_0(&q, blk)
		} else {
			unpackQ8_0(&q, blk)
		}
		y := r.q[b*32 : b*32+32 : b*32+32]
		var s int32
		for i, v := range q {
			s += int32(v) * int32(y[i])
		}
		c[b%4] = fma32(float32(s), f16le(blk)*r.d[b], c[b%4])
	}
	return (c[0] + c[1]) + (c[2] + c[3])
}
