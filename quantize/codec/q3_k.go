package codec

// q3K is ggml's Q3_K: super-blocks of 256 weights in 110 bytes: 32 bytes hmask (bit 2 of each
// level), 64 bytes of the low 2 bits, 12 bytes of 16 packed 6-bit signed sub-block scales, and
// the F16 super-scale d. Weight value: d*(sc-32)*(q-4), q in 0..7.
type q3K struct{}

func (q3K) BlockSize() int { return QKK }
func (q3K) TypeSize() int  { return 110 }

const q3KSize = 110

func (q3K) QuantizeRow(dst []byte, x, imatrix []float32) {
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*q3KSize : i*q3KSize+q3KSize]
		if imatrix == nil {
			quantizeQ3KRef(y, xb)
		} else {
			quantizeQ3KImpl(y, xb, imatrix[i*QKK:i*QKK+QKK])
		}
	}
}

// q3KSetScale stores the 6-bit biased scale l (0..63) of sub-block j.
func q3KSetScale(sc []byte, j int, l int32) {
	if j < 8 {
		sc[j] = uint8(l & 0xf)
	} else {
		sc[j-8] |= uint8((l & 0xf) << 4)
	}
	l >>= 4
	sc[j%4+8] |= uint8(l << (2 * (j / 4)))
}

// Q3KScale returns the signed 6-bit scale (-32..31) of sub-block j from a Q3_K block's 12
// scale bytes.
func Q3KScale(sc []byte, j int) int8 {
	var v uint8
	if j < 8 {
		v = sc[j] & 0xf
	} else {
		v = sc[j-8] >> 4
	}
	return int8(v|(sc[8+j%4]>>(2*(j/4))&3)<<4) - 32
}

// quantizeQ3KRef is quantize_row_q3_K_ref for one super-block.
func quantizeQ3KRef(y []byte, x []float32) {
	var L [QKK]int8
	var scales [16]float32
	var maxScale, amax float32
	for j := 0; j < 16; j++ {
		scales[j] = makeQ3Quants(16, 4, x[16*j:], L[16*j:])
		if s := abs32(scales[j]); s > amax {
			amax, maxScale = s, scales[j]
		}
	}
	sc := y[96:108]
	for j := range sc {
		sc[j] = 0
	}
	if maxScale != 0 {
		iscale := -32 / maxScale
		for j := 0; j < 16; j++ {
			l := int32(int8(nearestInt(iscale * scales[j])))
			l = clampInt(l, -32, 31) + 32
			q3KSetScale(sc, j, l)
		}
		put16(y[108:], fp16(1/iscale))
	} else {
		put16(y[108:], fp16(0))
	}
	q3KFinish(y, x, &L)
}

// quantizeQ3KImpl is quantize_row_q3_K_impl for one super-block with importance weights qw.
func quantizeQ3KImpl(y []byte, x, qw []float32) {
	var L [QKK]int8
	var scales, weight, sw [16]float32
	var Ls [16]int8
	var sumX2 float32
	for _, v := range x {
		sumX2 += float32(v * v)
	}
	sigma2 := 2 * sumX2 / QKK
	for j := 0; j < 16; j++ {
		for l := 0; l < 16; l++ {
			weight[l] = qw[16*j+l] * sqrt32(sigma2+float32(x[16*j+l]*x[16*j+l]))
		}
		var sumw float32
		for l := 0; l < 16; l++ {
			sumw += weight[l]
		}
		sw[j] = sumw
		scales[j] = makeQxQuants(16, 4, x[16*j:], L[16*j:], weight[:])
	}
	sc := y[96:108]
	for j := range sc {
		sc[j] = 0
	}
	dBlock := makeQxQuants(16, 32, scales[:], Ls[:], sw[:])
	for j := 0; j < 16; j++ {
		q3KSetScale(sc, j, int32(Ls[j]))
	}
	put16(y[108:], fp16(dBlock))
	q3KFinish(y, x, &L)
}

// q3KFinish requantizes the levels against the stored scales and packs hmask and qs.
func q3KFinish(y []byte, x []float32, L *[QKK]int8) {
	sc := y[96:108]
	d0 := halfAt(y[108:])
	for j := 0; j < 16; j++ {
		d := d0 * float32(Q3KScale(sc, j))
		if d == 0 {
			continue
		}
		for ii := 0; ii < 16; ii++ {
			l := clampInt(nearestInt(x[16*j+ii]/d), -4, 3)
			L[16*j+ii] = int8(l + 4)
		}
	}
	hmask := y[:32]
	for j := range hmask {
		hmask[j] = 0
	}
	m, hm := 0, uint8(1)
	for j := 0; j < QKK; j++ {
		if L[j] > 3 {
			hmask[m] |= hm
			L[j] -= 4
		}
		if m++; m == QKK/8 {
			m = 0
			hm <<= 1
		}
	}
	qs := y[32:96]
	for j := 0; j < QKK; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = uint8(L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6)
		}
	}
}

func (q3K) DequantizeRow(dst []float32, src []byte) {
	var scales [16]float32
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*q3KSize : i*q3KSize+q3KSize]
		dAll := halfAt(b[108:])
		hm := b[:32]
		sc := b[96:108]
		for j := range scales {
			scales[j] = dAll * float32(Q3KScale(sc, j))
		}
		y := dst[i*QKK : i*QKK+QKK]
		for n := 0; n < 2; n++ {
			q := b[32+32*n : 32+32*n+32]
			for s := 0; s < 4; s++ {
				shift := uint(2 * s)
				hshift := uint(4*n + s) // bit of hmask for this group of 32
				for half := 0; half < 2; half++ {
					dl := scales[8*n+2*s+half]
					out := y[128*n+32*s+16*half : 128*n+32*s+16*half+16]
					qs := q[16*half : 16*half+16]
					hs := hm[16*half : 16*half+16]
					for l := range out {
						// level 0..3 minus 4 where the high bit is clear, as in ggml
						v := int32(qs[l]>>shift&3) - int32((^hs[l]>>hshift)&1)<<2
						out[l] = dl * float32(v)
					}
				}
			}
		}
	}
}
