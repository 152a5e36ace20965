package codec

// iq4XS is ggml's IQ4_XS: super-blocks of 256 weights in 136 bytes: F16 d, uint16 scales_h
// (bits 4-5 of the eight 6-bit sub-block scales, 2 bits each), 4 bytes scales_l (their low
// nibbles, two per byte) and 128 bytes of 4-bit indices into IQ4NLValues (per sub-block of
// 32: weight j low nibble, j+16 high). Weight value: d*(ls-32)*values[q].
type iq4XS struct{}

func (iq4XS) BlockSize() int { return QKK }
func (iq4XS) TypeSize() int  { return 136 }

const iq4XSSize = 136

func (iq4XS) QuantizeRow(dst []byte, x, imatrix []float32) {
	var s iq4Scratch
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[ibl*QKK : ibl*QKK+QKK]
		}
		y := dst[ibl*iq4XSSize : ibl*iq4XSSize+iq4XSSize]
		quantizeIQ4(&s, QKK, x[ibl*QKK:ibl*QKK+QKK], y[0:2], y[8:136], y[2:4], y[4:8], qw, 7)
	}
}

// IQ4XSScale returns the signed scale (-32..31) of sub-block ib (0..7) of an IQ4_XS block.
func IQ4XSScale(block []byte, ib int) int32 {
	sh := le16(block[2:])
	ls := int32(block[4+ib/2]>>(4*(ib%2))&0xf) | int32(sh>>(2*ib)&3)<<4
	return ls - 32
}

func (iq4XS) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*iq4XSSize : i*iq4XSSize+iq4XSSize]
		d := halfAt(b)
		y := dst[i*QKK : i*QKK+QKK]
		for ib := 0; ib < 8; ib++ {
			dl := d * float32(IQ4XSScale(b, ib))
			qs := b[8+16*ib : 8+16*ib+16]
			out := y[32*ib : 32*ib+32]
			for j := 0; j < 16; j++ {
				out[j] = dl * float32(IQ4NLValues[qs[j]&0xf])
				out[j+16] = dl * float32(IQ4NLValues[qs[j]>>4])
			}
		}
	}
}
