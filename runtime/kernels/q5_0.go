package kernels

import "encoding/binary"

// Q5_0: blocks of 32 weights, 22 bytes: F16 scale d, a 32-bit word of high bits (bit j is the
// fifth bit of weight j), then 16 bytes of low nibbles laid out as in Q4_0; w = d*(q-16).

// unpackQ5 decodes 32 five-bit values from qh (4 bytes) and qs (16 bytes) minus offset.
func unpackQ5(q *[32]int8, p []byte, offset int8) {
	qh := binary.LittleEndian.Uint32(p)
	qs := p[4:20:20]
	for j := range 16 {
		h0 := int8((qh>>j)&1) << 4
		h1 := int8((qh>>(j+16))&1) << 4
		q[j] = (int8(qs[j]&0xF) | h0) - offset
		q[j+16] = (int8(qs[j]>>4) | h1) - offset
	}
}

func dotQ5_0Go(w []byte, r *row) float32 {
	var sum float32
	var v [32]int8
	for b := range len(r.d) {
		blk := w[b*22 : b*22+22 : b*22+22]
		unpackQ5(&v, blk[2:], 16)
		sum += f16le(blk) * r.d[b] * float32(dot32(&v, r.q[b*32:b*32+32]))
	}
	return sum
}

// dot32 is the integer dot product of 32 int8 pairs.
func dot32(v *[32]int8, q []int8) int32 {
	q = q[:32]
	var s int32
	for j := range 32 {
		s += int32(v[j]) * int32(q[j])
	}
	return s
}
