package kernels

import "encoding/binary"

// IQ4_XS: super-blocks of 256 weights, 136 bytes: F16 d, a 16-bit word of scale high bits, 4
// bytes of scale low nibbles (eight 6-bit scales, one per 32 weights, offset by 32), then 128
// bytes of 4-bit indices into the IQ4_NL grid, each 16 bytes laid out as an IQ4_NL block.

func unpackIQ4_XS(q *[256]int8, sc *[8]int8, blk []byte) {
	sh := binary.LittleEndian.Uint16(blk[2:])
	for ib := range 8 {
		ls := (blk[4+ib/2]>>(4*(ib%2)))&0xF | byte((sh>>(2*ib))&3)<<4
		sc[ib] = int8(ls) - 32
		qs := blk[8+16*ib : 8+16*ib+16 : 8+16*ib+16]
		for j := range 16 {
			q[32*ib+j] = iq4nlValues[qs[j]&0xF]
			q[32*ib+16+j] = iq4nlValues[qs[j]>>4]
		}
	}
}

func dotIQ4_XSGo(w []byte, r *row) float32 {
	var q [256]int8
	var sc [8]int8
	var sum float32
	for b := range len(r.d) {
		blk := w[b*136 : b*136+136 : b*136+136]
		unpackIQ4_XS(&q, &sc, blk)
		y := r.q[b*256 : b*256+256 : b*256+256]
		var sumi int32
		for ib := range 8 {
			var s int32
			for e := 32 * ib; e < 32*ib+32; e++ {
				s += int32(q[e]) * int32(y[e])
			}
			sumi += int32(sc[ib]) * s
		}
		sum += r.d[b] * f16le(blk) * float32(sumi)
	}
	return sum
}
