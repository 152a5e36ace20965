package codec

import "encoding/binary"

// iq1Delta is ggml's IQ1S_DELTA (and IQ1M_DELTA): the shift added to every ternary grid value
// of a group of 8, negated by the group's (IQ1_M) or sub-block's (IQ1_S) delta sign bit.
const iq1Delta = 0.125

// iq1S is ggml's IQ1_S (1.5625 bits per weight): super-blocks of 256 weights in 50 bytes: F16 d,
// 32 bytes of low index bits (one per 8 weights), then per sub-block of 32 a little-endian
// uint16 qh: bits 3*l the high three bits of group l's 11-bit index into the 2048-point IQ1
// grid (values -1, 0, 1), bits 12-14 a 3-bit scale ls and bit 15 the sign of the delta.
// Weight value: d*(2*ls+1) * (grid value ± 0.125).
type iq1S struct{ needsImatrix }

func (iq1S) BlockSize() int { return QKK }
func (iq1S) TypeSize() int  { return iq1SSize }

const iq1SSize = 50

func (iq1S) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq1SSize : i*iq1SSize+iq1SSize]
		d := halfAt(b)
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			qh := binary.LittleEndian.Uint16(b[34+2*ib:])
			dl := d * float32(2*(qh>>12&7)+1)
			delta := float32(iq1Delta)
			if qh&0x8000 != 0 {
				delta = -iq1Delta
			}
			for l := 0; l < 4; l++ {
				g := &iq1SGrid[int(b[2+4*ib+l])|int(qh>>(3*l)&7)<<8]
				out := y[32*ib+8*l : 32*ib+8*l+8]
				for j := range 8 {
					out[j] = dl * (float32(g[j]) + delta)
				}
			}
		}
	}
}
