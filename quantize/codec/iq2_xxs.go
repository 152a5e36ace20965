package codec

import "encoding/binary"

// iq2XXS is ggml's IQ2_XXS (2.0625 bits per weight): super-blocks of 256 weights in 66 bytes:
// F16 d, then for each of the eight sub-blocks of 32 two little-endian uint32: the first holds
// four 8-bit indices into the 256-point IQ2_XXS grid (one per 8 weights), the second four
// 7-bit sign groups (bits 7*l; see iqSigns) and a 4-bit scale ls in its top bits. Weight value:
// d*(0.5+ls)*0.25 * grid value * sign.
type iq2XXS struct{ needsImatrix }

func (iq2XXS) BlockSize() int { return QKK }
func (iq2XXS) TypeSize() int  { return iq2XXSSize }

const iq2XXSSize = 66

func (iq2XXS) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq2XXSSize : i*iq2XXSSize+iq2XXSSize]
		d := halfAt(b)
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			q := b[2+8*ib : 2+8*ib+8]
			aux := binary.LittleEndian.Uint32(q[4:])
			db := float32(d*(0.5+float32(aux>>28))) * 0.25
			for l := 0; l < 4; l++ {
				g := &iq2XXSGrid[q[l]]
				s := iqSigns[aux>>(7*l)&127]
				out := y[32*ib+8*l : 32*ib+8*l+8]
				for j := range 8 {
					out[j] = db * float32(g[j]) * sign(s, j)
				}
			}
		}
	}
}
