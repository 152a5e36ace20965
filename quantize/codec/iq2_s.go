package codec

// iq2S is ggml's IQ2_S (2.5625 bits per weight): super-blocks of 256 weights in 82 bytes: F16
// d, 32 bytes of low index bits and 32 bytes of signs (one of each per 8 weights), 8 bytes qh
// holding the top two bits of the four 10-bit indices of each sub-block of 32 (bits 2*l), and 8
// bytes of two 4-bit scales each, as in IQ2_XS. Indices point into the 1024-point IQ2_S grid;
// sign bit j set negates weight j. Weight value: d*(0.5+ls)*0.25 * grid value * sign.
type iq2S struct{}

func (iq2S) BlockSize() int { return QKK }
func (iq2S) TypeSize() int  { return iq2SSize }

const iq2SSize = 82

func (iq2S) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq2SSize : i*iq2SSize+iq2SSize]
		d := halfAt(b)
		qs, signs, qh, scales := b[2:34], b[34:66], b[66:74], b[74:82]
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			db := [2]float32{
				float32(d*(0.5+float32(scales[ib]&0xf))) * 0.25,
				float32(d*(0.5+float32(scales[ib]>>4))) * 0.25,
			}
			for l := 0; l < 4; l++ {
				idx := int(qs[4*ib+l]) | int(qh[ib])<<(8-2*l)&0x300
				g := &iq2SGrid[idx]
				s := signs[4*ib+l]
				out := y[32*ib+8*l : 32*ib+8*l+8]
				for j := range 8 {
					out[j] = db[l/2] * float32(g[j]) * sign(s, j)
				}
			}
		}
	}
}
