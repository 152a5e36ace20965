package codec

// q6K is ggml's Q6_K: super-blocks of 256 weights in 210 bytes: 128 bytes of low nibbles, 64
// bytes of high 2-bit pairs, 16 int8 sub-block scales, F16 super-scale d. For each 128 weights,
// ql byte l holds weights l (low) and l+64 (high), ql byte l+32 weights l+32 and l+96, and qh
// byte l their upper bits at 0, 2, 4, 6. Weight value: d*sc*(q-32).
type q6K struct{}

func (q6K) BlockSize() int { return QKK }
func (q6K) TypeSize() int  { return 210 }

const q6KSize = 210

func (q6K) QuantizeRow(dst []byte, x, imatrix []float32) {
	var L [QKK]int8
	var scales [16]float32
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*q6KSize : i*q6KSize+q6KSize]
		var maxScale, maxAbsScale float32
		for ib := 0; ib < 16; ib++ {
			var qw []float32
			if imatrix != nil {
				qw = imatrix[i*QKK+16*ib : i*QKK+16*ib+16]
			}
			scale := makeQxQuants(16, 32, xb[16*ib:], L[16*ib:], qw)
			scales[ib] = scale
			if a := abs32(scale); a > maxAbsScale {
				maxAbsScale, maxScale = a, scale
			}
		}
		if maxAbsScale < groupMaxEps {
			for j := range y {
				y[j] = 0
			}
			continue
		}
		iscale := -128 / maxScale
		put16(y[208:], fp16(1/iscale))
		sc := y[192:208]
		for ib := 0; ib < 16; ib++ {
			sc[ib] = uint8(int8(min(127, nearestInt(iscale*scales[ib]))))
		}
		d0 := halfAt(y[208:])
		for j := 0; j < 16; j++ {
			d := d0 * float32(int8(sc[j]))
			if d == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := clampInt(nearestInt(xb[16*j+ii]/d), -32, 31)
				L[16*j+ii] = int8(l + 32)
			}
		}
		ql := y[:128]
		qh := y[128:192]
		for j := 0; j < QKK; j += 128 {
			for l := 0; l < 32; l++ {
				q1 := uint8(L[j+l]) & 0xf
				q2 := uint8(L[j+l+32]) & 0xf
				q3 := uint8(L[j+l+64]) & 0xf
				q4 := uint8(L[j+l+96]) & 0xf
				ql[j/2+l] = q1 | q3<<4
				ql[j/2+l+32] = q2 | q4<<4
				qh[j/4+l] = uint8(L[j+l])>>4 | uint8(L[j+l+32])>>4<<2 | uint8(L[j+l+64])>>4<<4 | uint8(L[j+l+96])>>4<<6
			}
		}
	}
}

func (q6K) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*q6KSize : i*q6KSize+q6KSize]
		d := halfAt(b[208:])
		y := dst[i*QKK : i*QKK+QKK]
		for n := 0; n < 2; n++ {
			ql := b[64*n : 64*n+64]
			qh := b[128+32*n : 128+32*n+32]
			sc := b[192+8*n : 192+8*n+8]
			out := y[128*n : 128*n+128]
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int8(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
				q2 := int8(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int8(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int8(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				out[l] = float32(d*float32(int8(sc[is]))) * float32(q1)
				out[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
				out[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
				out[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
			}
		}
	}
}
