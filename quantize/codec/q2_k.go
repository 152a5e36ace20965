package codec

// q2K is ggml's Q2_K: super-blocks of 256 weights in 84 bytes: 16 bytes of sub-block scales
// (low nibble: scale, high nibble: min, for 16 sub-blocks of 16), 64 bytes of 2-bit levels, F16
// super-scale d and F16 super-min dmin. Weight value: d*sc*q - dmin*m.
type q2K struct{}

func (q2K) BlockSize() int { return QKK }
func (q2K) TypeSize() int  { return 84 }

const q2KSize = 84

func (q2K) QuantizeRow(dst []byte, x, imatrix []float32) {
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*q2KSize : i*q2KSize+q2KSize]
		if imatrix == nil {
			quantizeQ2KRef(y, xb)
		} else {
			quantizeQ2KImpl(y, xb, imatrix[i*QKK:i*QKK+QKK])
		}
	}
}

// quantizeQ2KRef is quantize_row_q2_K_ref for one super-block.
func quantizeQ2KRef(y []byte, x []float32) {
	var L [QKK]uint8
	var Laux [16]uint8
	var weights [16]float32
	var mins, scales [16]float32
	const q4scale = 15
	var maxScale, maxMin float32
	for j := 0; j < 16; j++ {
		for l := 0; l < 16; l++ {
			weights[l] = abs32(x[16*j+l])
		}
		scales[j] = makeQkx2Quants(16, 3, x[16*j:], weights[:], L[16*j:], Laux[:], &mins[j], -0.5, 0.1, 15, true)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	sc := y[:16]
	if maxScale > 0 {
		iscale := q4scale / maxScale
		for j := 0; j < 16; j++ {
			sc[j] = uint8(nearestInt(iscale * scales[j]))
		}
		put16(y[80:], fp16(maxScale/q4scale))
	} else {
		for j := range sc {
			sc[j] = 0
		}
		put16(y[80:], fp16(0))
	}
	if maxMin > 0 {
		iscale := q4scale / maxMin
		for j := 0; j < 16; j++ {
			sc[j] |= uint8(nearestInt(iscale*mins[j]) << 4)
		}
		put16(y[82:], fp16(maxMin/q4scale))
	} else {
		put16(y[82:], fp16(0))
	}
	q2KRequantize(y, x, &L)
	q2KPack(y, &L)
}

// quantizeQ2KImpl is quantize_row_q2_K_impl for one super-block with importance weights qw.
func quantizeQ2KImpl(y []byte, x, qw []float32) {
	var L [QKK]uint8
	var Laux [16]uint8
	var mins, scales, sw, weight [16]float32
	var Ls, Lm [16]uint8
	var sumX2 float32
	for _, v := range x {
		sumX2 += float32(v * v)
	}
	sigma2 := sumX2 / QKK
	for j := 0; j < 16; j++ {
		for l := 0; l < 16; l++ {
			weight[l] = qw[16*j+l] * sqrt32(sigma2+float32(x[16*j+l]*x[16*j+l]))
		}
		for l := 0; l < 16; l++ {
			sw[j] += weight[l]
		}
		scales[j] = makeQkx3Quants(16, 3, x[16*j:], weight[:], L[16*j:], Laux[:], &mins[j], -0.9, 0.05, 36)
	}
	dm := makeQpQuants(16, 15, scales[:], Ls[:], sw[:])
	mm := makeQpQuants(16, 15, mins[:], Lm[:], sw[:])
	put16(y[80:], fp16(dm))
	put16(y[82:], fp16(mm))
	for j := 0; j < 16; j++ {
		y[j] = Ls[j] | Lm[j]<<4
	}
	q2KRequantize(y, x, &L)
	q2KPack(y, &L)
}

// q2KRequantize recomputes the levels against the stored (F16-rounded) scales and mins.
func q2KRequantize(y []byte, x []float32, L *[QKK]uint8) {
	d0, m0 := halfAt(y[80:]), halfAt(y[82:])
	for j := 0; j < 16; j++ {
		d := d0 * float32(y[j]&0x0f)
		if d == 0 {
			continue
		}
		dm := m0 * float32(y[j]>>4)
		for ii := 0; ii < 16; ii++ {
			l := clampInt(nearestInt((x[16*j+ii]+dm)/d), 0, 3)
			L[16*j+ii] = uint8(l)
		}
	}
}

// q2KPack stores the 2-bit levels: byte 32*h+l holds levels 128*h+l+32*s at bits 2s.
func q2KPack(y []byte, L *[QKK]uint8) {
	qs := y[16:80]
	for j := 0; j < QKK; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
		}
	}
}

func (q2K) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*q2KSize : i*q2KSize+q2KSize]
		d, dmin := halfAt(b[80:]), halfAt(b[82:])
		y := dst[i*QKK : i*QKK+QKK]
		is := 0
		for n := 0; n < 2; n++ {
			q := b[16+32*n : 16+32*n+32]
			for s := 0; s < 4; s++ {
				shift := uint(2 * s)
				for half := 0; half < 2; half++ {
					sc := b[is]
					is++
					dl := d * float32(sc&0x0f)
					ml := dmin * float32(sc>>4)
					out := y[128*n+32*s+16*half:]
					for l := 0; l < 16; l++ {
						out[l] = float32(dl*float32(q[16*half+l]>>shift&3)) - ml
					}
				}
			}
		}
	}
}
