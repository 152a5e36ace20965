package codec

import "encoding/binary"

// IntUnpacker is implemented by the codecs of the 1-3-bit codebook and ternary types, whose
// 256-weight blocks are small integers times per-16 integer scales: UnpackInts stores them so
// that weight i of the block is d·sc[i/16]·q[i] (the same value DequantizeRow computes, in
// another float order), and returns d. Dot products then sum q·activation in integers per 16
// weights, as ggml's vec_dot functions do.
type IntUnpacker interface {
	UnpackInts(block []byte, q *[256]int8, sc *[16]int32) (d float32)
}

// iqSetScale32 stores scale s for the two groups of 16 of sub-block ib (of 32).
func iqSetScale32(sc *[16]int32, ib int, s int32) { sc[2*ib], sc[2*ib+1] = s, s }

// UnpackInts: IQ2_XXS weights are d/8·(2ls+1)·(grid value·sign).
func (iq2XXS) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	for ib := 0; ib < 8; ib++ {
		qs := b[2+8*ib : 2+8*ib+8]
		aux := binary.LittleEndian.Uint32(qs[4:])
		iqSetScale32(sc, ib, int32(2*(aux>>28)+1))
		for l := 0; l < 4; l++ {
			g, s := &iq2XXSGrid[qs[l]], iqSigns[aux>>(7*l)&127]
			signedGroup(q[32*ib+8*l:], g[:], s)
		}
	}
	return halfAt(b) * 0.125
}

// UnpackInts: IQ2_XS weights are d/8·(2ls+1)·(grid value·sign), one scale per 16.
func (iq2XS) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	for ib := 0; ib < 8; ib++ {
		sc[2*ib] = int32(2*(b[66+ib]&0xf) + 1)
		sc[2*ib+1] = int32(2*(b[66+ib]>>4) + 1)
		for l := 0; l < 4; l++ {
			v := binary.LittleEndian.Uint16(b[2+2*(4*ib+l):])
			signedGroup(q[32*ib+8*l:], iq2XSGrid[v&511][:], iqSigns[v>>9])
		}
	}
	return halfAt(b) * 0.125
}

// UnpackInts: IQ2_S weights are d/8·(2ls+1)·(grid value·sign), one scale per 16.
func (iq2S) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	qs, signs, qh, scales := b[2:34], b[34:66], b[66:74], b[74:82]
	for ib := 0; ib < 8; ib++ {
		sc[2*ib] = int32(2*(scales[ib]&0xf) + 1)
		sc[2*ib+1] = int32(2*(scales[ib]>>4) + 1)
		for l := 0; l < 4; l++ {
			idx := int(qs[4*ib+l]) | int(qh[ib])<<(8-2*l)&0x300
			signedGroup(q[32*ib+8*l:], iq2SGrid[idx][:], signs[4*ib+l])
		}
	}
	return halfAt(b) * 0.125
}

// UnpackInts: IQ3_XXS weights are d/4·(2ls+1)·(grid value·sign).
func (iq3XXS) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	for ib := 0; ib < 8; ib++ {
		qs := b[2+8*ib : 2+8*ib+8]
		aux := binary.LittleEndian.Uint32(b[66+4*ib:])
		iqSetScale32(sc, ib, int32(2*(aux>>28)+1))
		for l := 0; l < 4; l++ {
			var g [8]uint8
			copy(g[:4], iq3XXSGrid[qs[2*l]][:])
			copy(g[4:], iq3XXSGrid[qs[2*l+1]][:])
			signedGroup(q[32*ib+8*l:], g[:], iqSigns[aux>>(7*l)&127])
		}
	}
	return halfAt(b) * 0.25
}

// UnpackInts: IQ3_S weights are d·(2ls+1)·(grid value·sign).
func (iq3S) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	qs, qh, signs, scales := b[2:66], b[66:74], b[74:106], b[106:110]
	for ib := 0; ib < 8; ib++ {
		iqSetScale32(sc, ib, int32(1+2*(scales[ib/2]>>(4*(ib%2))&0xf)))
		for l := 0; l < 4; l++ {
			var g [8]uint8
			copy(g[:4], iq3SGrid[int(qs[8*ib+2*l])|int(qh[ib])<<(8-2*l)&256][:])
			copy(g[4:], iq3SGrid[int(qs[8*ib+2*l+1])|int(qh[ib])<<(7-2*l)&256][:])
			signedGroup(q[32*ib+8*l:], g[:], signs[4*ib+l])
		}
	}
	return halfAt(b)
}

// UnpackInts: IQ1_S weights are d/8·(2ls+1)·(8·grid value ± 1).
func (iq1S) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	for ib := 0; ib < 8; ib++ {
		qh := binary.LittleEndian.Uint16(b[34+2*ib:])
		iqSetScale32(sc, ib, int32(2*(qh>>12&7)+1))
		delta := int8(1)
		if qh&0x8000 != 0 {
			delta = -1
		}
		for l := 0; l < 4; l++ {
			g := &iq1SGrid[int(b[2+4*ib+l])|int(qh>>(3*l)&7)<<8]
			for j, v := range g {
				q[32*ib+8*l+j] = 8*v + delta
			}
		}
	}
	return halfAt(b) * 0.125
}

// UnpackInts: IQ1_M weights are d/8·(2ls+1)·(8·grid value ± 1), one scale per 16.
func (iq1M) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	qs, qh := b[0:32], b[32:48]
	for ib := 0; ib < 8; ib++ {
		s := binary.LittleEndian.Uint16(b[48+2*(ib/2):])
		shift := 6 * (ib % 2)
		sc[2*ib] = int32(2*(s>>shift&7) + 1)
		sc[2*ib+1] = int32(2*(s>>(shift+3)&7) + 1)
		for l := 0; l < 4; l++ {
			h := qh[2*ib+l/2] >> (4 * (l % 2))
			g := &iq1SGrid[int(qs[4*ib+l])|int(h&7)<<8]
			delta := int8(1)
			if h&8 != 0 {
				delta = -1
			}
			for j, v := range g {
				q[32*ib+8*l+j] = 8*v + delta
			}
		}
	}
	return iq1MScale(b) * 0.125
}

// UnpackInts: TQ1_0 weights are d·t with t in -1, 0, 1.
func (tq1_0) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	for i := range sc {
		sc[i] = 1
	}
	for n := 0; n < 5; n++ {
		for m := 0; m < 32; m++ {
			q[32*n+m] = int8(unpackTrit(b[m], n))
		}
		for m := 0; m < 16; m++ {
			q[160+16*n+m] = int8(unpackTrit(b[32+m], n))
		}
	}
	for n := 0; n < 4; n++ {
		for j := 0; j < 4; j++ {
			q[240+4*n+j] = int8(unpackTrit(b[48+j], n))
		}
	}
	return halfAt(b[52:])
}

// UnpackInts: TQ2_0 weights are d·(q-1).
func (tq2_0) UnpackInts(b []byte, q *[256]int8, sc *[16]int32) float32 {
	for i := range sc {
		sc[i] = 1
	}
	for j := 0; j < 64; j += 32 {
		for n := 0; n < 4; n++ {
			for m := 0; m < 32; m++ {
				q[4*j+32*n+m] = int8(b[j+m]>>(2*n)&3) - 1
			}
		}
	}
	return halfAt(b[64:])
}

// signedGroup stores the 8 magnitudes g with sign bit j of s negating value j.
func signedGroup(q []int8, g []uint8, s uint8) {
	for j := 0; j < 8; j++ {
		v := int8(g[j])
		if s>>j&1 != 0 {
			v = -v
		}
		q[j] = v
	}
}
