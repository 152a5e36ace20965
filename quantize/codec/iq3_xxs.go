package codec

import "encoding/binary"

// iq3XXS is ggml's IQ3_XXS (3.0625 bits per weight): super-blocks of 256 weights in 98 bytes:
// F16 d, 64 bytes of indices into the 256-point IQ3_XXS grid (one per 4 weights), then per
// sub-block of 32 a little-endian uint32 with four 7-bit sign groups (bits 7*l, each covering
// 8 weights; see iqSigns) and a 4-bit scale ls in its top bits. Weight value:
// d*(0.5+ls)*0.5 * grid value * sign.
type iq3XXS struct{}

func (iq3XXS) BlockSize() int { return QKK }
func (iq3XXS) TypeSize() int  { return iq3XXSSize }

const iq3XXSSize = 98

func (iq3XXS) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq3XXSSize : i*iq3XXSSize+iq3XXSSize]
		d := halfAt(b)
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			qs := b[2+8*ib : 2+8*ib+8]
			aux := binary.LittleEndian.Uint32(b[66+4*ib:])
			db := float32(d*(0.5+float32(aux>>28))) * 0.5
			for l := 0; l < 4; l++ {
				s := iqSigns[aux>>(7*l)&127]
				g1, g2 := &iq3XXSGrid[qs[2*l]], &iq3XXSGrid[qs[2*l+1]]
				out := y[32*ib+8*l : 32*ib+8*l+8]
				for j := range 4 {
					out[j] = db * float32(g1[j]) * sign(s, j)
					out[j+4] = db * float32(g2[j]) * sign(s, j+4)
				}
			}
		}
	}
}
