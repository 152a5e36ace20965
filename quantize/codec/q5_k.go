package codec

// q5K is ggml's Q5_K: super-blocks of 256 weights in 176 bytes: F16 d, F16 dmin, 12 bytes of
// packed 6-bit (scale, min) pairs (see ScaleMinK4), 32 bytes qh (bit 4 of the levels: for the
// n-th group of 64 weights, bit 2n for weight l and bit 2n+1 for weight l+32 of byte l), and
// 128 bytes of low nibbles laid out as Q4_K. Weight value: d*sc*q - dmin*m, q in 0..31.
type q5K struct{}

func (q5K) BlockSize() int { return QKK }
func (q5K) TypeSize() int  { return 176 }

const q5KSize = 176

func (q5K) QuantizeRow(dst []byte, x, imatrix []float32) {
	var L [QKK]uint8
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*q5KSize : i*q5KSize+q5KSize]
		if imatrix == nil {
			kScalesRef(y[:4], y[4:16], xb, &L, 31, -0.5, 0.1, 15)
		} else {
			kScalesImpl(y[:4], y[4:16], xb, imatrix[i*QKK:i*QKK+QKK], &L, 31, true)
		}
		kRequantize(y[:4], y[4:16], xb, &L, 31)
		qh := y[16:48]
		ql := y[48:]
		for j := range qh {
			qh[j] = 0
		}
		m1, m2 := uint8(1), uint8(2)
		for n := 0; n < QKK; n += 64 {
			for j := 0; j < 32; j++ {
				l1 := L[n+j]
				if l1 > 15 {
					l1 -= 16
					qh[j] |= m1
				}
				l2 := L[n+j+32]
				if l2 > 15 {
					l2 -= 16
					qh[j] |= m2
				}
				ql[n/2+j] = l1 | l2<<4
			}
			m1 <<= 2
			m2 <<= 2
		}
	}
}

func (q5K) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*q5KSize : i*q5KSize+q5KSize]
		d, dmin := halfAt(b), halfAt(b[2:])
		sc := b[4:16]
		qh := b[16:48]
		ql := b[48:]
		y := dst[i*QKK : i*QKK+QKK]
		for j := 0; j < 4; j++ {
			s1, m1 := ScaleMinK4(2*j, sc)
			s2, m2 := ScaleMinK4(2*j+1, sc)
			d1, dm1 := d*float32(s1), dmin*float32(m1)
			d2, dm2 := d*float32(s2), dmin*float32(m2)
			qq := ql[32*j : 32*j+32]
			out := y[64*j : 64*j+64]
			sh := uint(2 * j)
			for l := 0; l < 32; l++ {
				h1 := (qh[l] >> sh & 1) << 4
				h2 := (qh[l] >> (sh + 1) & 1) << 4
				out[l] = float32(d1*float32(qq[l]&0xf|h1)) - dm1
				out[l+32] = float32(d2*float32(qq[l]>>4|h2)) - dm2
			}
		}
	}
}
