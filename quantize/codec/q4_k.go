package codec

// q4K is ggml's Q4_K: super-blocks of 256 weights in 144 bytes: F16 d, F16 dmin, 12 bytes of
// eight packed 6-bit (scale, min) pairs (see ScaleMinK4), and 128 bytes of 4-bit levels (for
// each 64 weights, 32 bytes: weight l in the low nibble, weight l+32 in the high nibble).
// Weight value: d*sc*q - dmin*m.
type q4K struct{}

func (q4K) BlockSize() int { return QKK }
func (q4K) TypeSize() int  { return 144 }

const q4KSize = 144

func (q4K) QuantizeRow(dst []byte, x, imatrix []float32) {
	var L [QKK]uint8
	for i := 0; i < len(x)/QKK; i++ {
		xb := x[i*QKK : i*QKK+QKK]
		y := dst[i*q4KSize : i*q4KSize+q4KSize]
		if imatrix == nil {
			kScalesRef(y[:4], y[4:16], xb, &L, 15, -1, 0.1, 20)
		} else {
			kScalesImpl(y[:4], y[4:16], xb, imatrix[i*QKK:i*QKK+QKK], &L, 15, false)
		}
		kRequantize(y[:4], y[4:16], xb, &L, 15)
		qs := y[16:]
		for j := 0; j < QKK; j += 64 {
			for l := 0; l < 32; l++ {
				qs[j/2+l] = L[j+l] | L[j+l+32]<<4
			}
		}
	}
}

// ScaleMinK4 returns the 6-bit scale and min of sub-block j (0..7) from the 12 packed scale
// bytes q of a Q4_K or Q5_K block (ggml's get_scale_min_k4).
func ScaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// kPackScales stores the 6-bit scale ls and min lm of sub-block j into the 12 scale bytes.
func kPackScales(sc []byte, j int, ls, lm uint8) {
	if j < 4 {
		sc[j] = ls
		sc[j+4] = lm
	} else {
		sc[j+4] = ls&0xf | (lm&0xf)<<4
		sc[j-4] |= (ls >> 4) << 6
		sc[j] |= (lm >> 4) << 6
	}
}

// kScalesRef is the scale search of quantize_row_q4_K_ref / quantize_row_q5_K_ref for one
// super-block: make_qkx2_quants per sub-block of 32 with weights av_x + |x|, then 6-bit
// quantization of scales and mins relative to their maxima. dm receives d and dmin.
func kScalesRef(dm, sc []byte, x []float32, L *[QKK]uint8, nmax int32, rmin, rdelta float32, nstep int) {
	var Laux [32]uint8
	var weights [32]float32
	var mins, scales [8]float32
	var maxScale, maxMin float32
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := sqrt32(sumX2 / 32)
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j] = makeQkx2Quants(32, nmax, xs, weights[:], L[32*j:], Laux[:], &mins[j], rmin, rdelta, nstep, false)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	for j := 0; j < 8; j++ {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		kPackScales(sc, j, ls, lm)
	}
	put16(dm, fp16(maxScale/63))
	put16(dm[2:], fp16(maxMin/63))
}

// kScalesImpl is the scale search of quantize_row_q4_K_impl / quantize_row_q5_K_impl for one
// super-block with importance weights qw: make_qkx3_quants per sub-block, then make_qp_quants
// for the 6-bit scales and mins. clamp applies Q5_K's MIN(63, ...) to the levels (Q4_K stores
// them as they come).
func kScalesImpl(dm, sc []byte, x, qw []float32, L *[QKK]uint8, nmax int32, clamp bool) {
	var Laux [32]uint8
	var weights [32]float32
	var mins, scales, sw [8]float32
	var Ls, Lm [8]uint8
	var sumX2 float32
	for _, v := range x {
		sumX2 += float32(v * v)
	}
	sigma2 := 2 * sumX2 / QKK
	for j := 0; j < 8; j++ {
		xs := x[32*j : 32*j+32]
		q := qw[32*j : 32*j+32]
		for l, v := range xs {
			weights[l] = q[l] * sqrt32(sigma2+float32(v*v))
		}
		var sumw float32
		for _, w := range weights {
			sumw += w
		}
		sw[j] = sumw
		scales[j] = makeQkx3Quants(32, nmax, xs, weights[:], L[32*j:], Laux[:], &mins[j], -0.9, 0.05, 36)
	}
	dBlock := makeQpQuants(8, 63, scales[:], Ls[:], sw[:])
	mBlock := makeQpQuants(8, 63, mins[:], Lm[:], sw[:])
	for j := 0; j < 8; j++ {
		ls, lm := Ls[j], Lm[j]
		if clamp {
			ls, lm = min(63, ls), min(63, lm)
		}
		kPackScales(sc, j, ls, lm)
	}
	put16(dm, fp16(dBlock))
	put16(dm[2:], fp16(mBlock))
}

// kRequantize recomputes the levels 0..nmax of a Q4_K/Q5_K super-block against the stored
// scales and mins.
func kRequantize(dm, sc []byte, x []float32, L *[QKK]uint8, nmax int32) {
	d0, m0 := halfAt(dm), halfAt(dm[2:])
	for j := 0; j < 8; j++ {
		s, m := ScaleMinK4(j, sc)
		d := d0 * float32(s)
		if d == 0 {
			continue
		}
		dmj := m0 * float32(m)
		for ii := 0; ii < 32; ii++ {
			L[32*j+ii] = uint8(clampInt(nearestInt((x[32*j+ii]+dmj)/d), 0, nmax))
		}
	}
}

func (q4K) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QKK; i++ {
		b := src[i*q4KSize : i*q4KSize+q4KSize]
		d, dmin := halfAt(b), halfAt(b[2:])
		sc := b[4:16]
		q := b[16:]
		y := dst[i*QKK : i*QKK+QKK]
		for j := 0; j < 4; j++ {
			s1, m1 := ScaleMinK4(2*j, sc)
			s2, m2 := ScaleMinK4(2*j+1, sc)
			d1, dm1 := d*float32(s1), dmin*float32(m1)
			d2, dm2 := d*float32(s2), dmin*float32(m2)
			qq := q[32*j : 32*j+32]
			out := y[64*j : 64*j+64]
			for l := 0; l < 32; l++ {
				out[l] = float32(d1*float32(qq[l]&0xf)) - dm1
				out[l+32] = float32(d2*float32(qq[l]>>4)) - dm2
			}
		}
	}
}
