package codec

// iq3S is ggml's IQ3_S (3.4375 bits per weight): super-blocks of 256 weights in 110 bytes: F16
// d, 64 bytes of low index bits (one per 4 weights), 8 bytes qh with the ninth index bit of
// each (bit k of qh[ib] for group k of sub-block ib), 32 bytes of signs (bit j of a byte
// negates weight j of its 8), and 4 bytes of two 4-bit scales (one per sub-block of 32).
// Indices point into the 512-point IQ3_S grid. Weight value: d*(1+2*ls) * grid value * sign.
type iq3S struct{}

func (iq3S) BlockSize() int { return QKK }
func (iq3S) TypeSize() int  { return iq3SSize }

const iq3SSize = 110

func (iq3S) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq3SSize : i*iq3SSize+iq3SSize]
		d := halfAt(b)
		qs, qh, signs, scales := b[2:66], b[66:74], b[74:106], b[106:110]
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			ls := scales[ib/2] >> (4 * (ib % 2)) & 0xf
			db := d * float32(1+2*int32(ls))
			for l := 0; l < 4; l++ {
				g1 := &iq3SGrid[int(qs[8*ib+2*l])|int(qh[ib])<<(8-2*l)&256]
				g2 := &iq3SGrid[int(qs[8*ib+2*l+1])|int(qh[ib])<<(7-2*l)&256]
				s := signs[4*ib+l]
				out := y[32*ib+8*l : 32*ib+8*l+8]
				for j := range 4 {
					out[j] = db * float32(g1[j]) * sign(s, j)
					out[j+4] = db * float32(g2[j]) * sign(s, j+4)
				}
			}
		}
	}
}
