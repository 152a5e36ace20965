package kernels

import "encoding/binary"

// Q3_K: super-blocks of 256 weights, 110 bytes: 32 bytes of high-bit masks, 64 bytes of 2-bit
// values, 12 bytes packing sixteen 6-bit scales, and an F16 super-scale d; w = d*(sc-32)*q with
// q in [-4, 3].
//
// Weight e (n = e/128, j = (e%128)/32, l = e%32) has low bits 2j..2j+1 of byte 32n+l of the
// values; when bit 4n+j of mask byte l is clear, 4 is subtracted. Its scale is number e/16.

func unpackQ3_K(q *[256]int8, sc *[16]int8, blk []byte) {
	hm := blk[0:32:32]
	qs := blk[32:96:96]
	for n := range 2 {
		for j := range 4 {
			out := q[128*n+32*j : 128*n+32*j+32 : 128*n+32*j+32]
			bit := byte(1) << (4*n + j)
			for l := range 32 {
				v := int8((qs[32*n+l] >> (2 * j)) & 3)
				if hm[l]&bit == 0 {
					v -= 4
				}
				out[l] = v
			}
		}
	}
	a0 := binary.LittleEndian.Uint32(blk[96:])
	a1 := binary.LittleEndian.Uint32(blk[100:])
	t := binary.LittleEndian.Uint32(blk[104:])
	const k1, k2 = 0x03030303, 0x0f0f0f0f
	words := [4]uint32{
		(a0 & k2) | ((t & k1) << 4),
		(a1 & k2) | (((t >> 2) & k1) << 4),
		((a0 >> 4) & k2) | (((t >> 4) & k1) << 4),
		((a1 >> 4) & k2) | (((t >> 6) & k1) << 4),
	}
	for i := range 16 {
		sc[i] = int8(byte(words[i/4]>>(8*(i%4)))) - 32
	}
}

func dotQ3_KGo(w []byte, r *row) float32 {
	var q [256]int8
	var sc [16]int8
	var sum float32
	for b := range len(r.d) {
		blk := w[b*110 : b*110+110 : b*110+110]
		unpackQ3_K(&q, &sc, blk)
		sum += r.d[b] * f16le(blk[108:]) * float32(dot256x16(&q, &sc, r.q[b*256:b*256+256]))
	}
	return sum
}

// dot256x16 returns sum over the 16 groups of 16 of sc[i] * (q . y) within the group.
func dot256x16(q *[256]int8, sc *[16]int8, y []int8) int32 {
	y = y[:256]
	var sumi int32
	for i := range 16 {
		var s int32
		for e := 16 * i; e < 16*i+16; e++ {
			s += int32(q[e]) * int32(y[e])
		}
		sumi += int32(sc[i]) * s
	}
	return sumi
}
