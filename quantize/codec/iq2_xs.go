package codec

import "encoding/binary"

// iq2XS is ggml's IQ2_XS (2.3125 bits per weight): super-blocks of 256 weights in 74 bytes:
// F16 d, 32 little-endian uint16 (per 8 weights: a 9-bit index into the 512-point IQ2_XS grid
// and a 7-bit sign group above it; see iqSigns), then eight bytes of two 4-bit scales each
// (low nibble: the first 16 weights of a sub-block of 32, high nibble: the second). Weight
// value: d*(0.5+ls)*0.25 * grid value * sign.
type iq2XS struct{ needsImatrix }

func (iq2XS) BlockSize() int { return QKK }
func (iq2XS) TypeSize() int  { return iq2XSSize }

const iq2XSSize = 74

func (iq2XS) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq2XSSize : i*iq2XSSize+iq2XSSize]
		d := halfAt(b)
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			sc := b[66+ib]
			db := [2]float32{
				float32(d*(0.5+float32(sc&0xf))) * 0.25,
				float32(d*(0.5+float32(sc>>4))) * 0.25,
			}
			for l := 0; l < 4; l++ {
				q := binary.LittleEndian.Uint16(b[2+2*(4*ib+l):])
				g := &iq2XSGrid[q&511]
				s := iqSigns[q>>9]
				out := y[32*ib+8*l : 32*ib+8*l+8]
				for j := range 8 {
					out[j] = db[l/2] * float32(g[j]) * sign(s, j)
				}
			}
		}
	}
}
