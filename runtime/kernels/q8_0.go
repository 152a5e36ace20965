package kernels

// Q8_0: blocks of 32 weights, 34 bytes: an F16 scale d and 32 signed bytes; w = d*q.

func dequantQ8_0(dst []float32, src []byte) {
	for b := range len(dst) / 32 {
		blk := src[b*34 : b*34+34 : b*34+34]
		d := f16le(blk)
		y := dst[b*32 : b*32+32 : b*32+32]
		for j := range 32 {
			y[j] = d * float32(int8(blk[2+j]))
		}
	}
}

func dotQ8_0Go(w []byte, r *row) float32 {
	var sum float32
	for b := range len(r.d) {
		blk := w[b*34 : b*34+34 : b*34+34]
		q := r.q[b*32 : b*32+32 : b*32+32]
		var si int32
		for j := range 32 {
			si += int32(int8(blk[2+j])) * int32(q[j])
		}
		sum += f16le(blk) * r.d[b] * float32(si)
	}
	return sum
}
