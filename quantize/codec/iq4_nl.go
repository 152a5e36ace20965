package codec

// IQ4NLValues is the non-linear 4-bit codebook of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl).
var IQ4NLValues = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// iq4NL is ggml's IQ4_NL: blocks of 32 weights in 18 bytes: F16 scale d and 16 bytes of 4-bit
// indices into IQ4NLValues (weight j low nibble, weight j+16 high nibble). Value d*values[q].
type iq4NL struct{}

func (iq4NL) BlockSize() int { return QK }
func (iq4NL) TypeSize() int  { return 18 }

func (iq4NL) QuantizeRow(dst []byte, x, imatrix []float32) {
	var s iq4Scratch
	for ib := 0; ib < len(x)/QK; ib++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[ib*QK : ib*QK+QK]
		}
		y := dst[ib*18 : ib*18+18]
		quantizeIQ4(&s, QK, x[ib*QK:ib*QK+QK], y[0:2], y[2:18], nil, nil, qw, 7)
	}
}

func (iq4NL) DequantizeRow(dst []float32, src []byte) {
	for i := 0; i < len(dst)/QK; i++ {
		b := src[i*18 : i*18+18]
		d := halfAt(b)
		y := dst[i*QK : i*QK+QK]
		for j := 0; j < 16; j++ {
			y[j] = d * float32(IQ4NLValues[b[2+j]&0xf])
			y[j+16] = d * float32(IQ4NLValues[b[2+j]>>4])
		}
	}
}

// iq4Scratch holds the working arrays of quantizeIQ4. L persists across calls, as the static
// buffer of quantize_iq4_nl/quantize_iq4_xs does in ggml (a zero block leaves it untouched).
type iq4Scratch struct {
	L      [QKK]uint8
	scales [QKK / 32]float32
	weight [32]float32
}

// quantizeIQ4 is ggml's quantize_row_iq4_nl_impl for one super-block of n weights (32 for
// IQ4_NL, 256 for IQ4_XS) in sub-blocks of 32: dh receives the F16 scale, q4 the nibbles,
// scalesH/scalesL the IQ4_XS sub-block scales (nil for IQ4_NL).
func quantizeIQ4(s *iq4Scratch, n int, x []float32, dh, q4, scalesH, scalesL []byte, qw []float32, ntry int) {
	values := &IQ4NLValues
	var sigma2 float32
	for _, v := range x[:n] {
		sigma2 += float32(v * v)
	}
	sigma2 *= 2 / float32(n)
	for j := range q4[:n/2] {
		q4[j] = 0
	}
	put16(dh, fp16(0))
	nb := n / 32
	var maxScale, amaxScale float32
	for ib := 0; ib < nb; ib++ {
		xb := x[ib*32 : ib*32+32]
		Lb := s.L[ib*32 : ib*32+32]
		weight := &s.weight
		if qw != nil {
			q := qw[ib*32 : ib*32+32]
			for j, v := range xb {
				weight[j] = q[j] * sqrt32(sigma2+float32(v*v))
			}
		} else {
			for j, v := range xb {
				weight[j] = v * v
			}
		}
		var amax, max float32
		for _, v := range xb {
			if a := abs32(v); a > amax {
				amax, max = a, v
			}
		}
		if amax < groupMaxEps {
			s.scales[ib] = 0
			continue
		}
		v0 := float32(values[0])
		d := max / v0
		if ntry > 0 {
			d = -max / v0
		}
		id := 1 / d
		var sumqx, sumq2 float32
		for j, v := range xb {
			al := id * v
			l := iq4Index(al)
			Lb[j] = uint8(l)
			q := iq4Float[l]
			w := weight[j]
			sumqx += float32(float32(w*q) * v)
			sumq2 += float32(float32(w*q) * q)
		}
		d = 0
		if sumq2 > 0 {
			d = sumqx / sumq2
		}
		best := d * sumqx
		for itry := -ntry; itry <= ntry; itry++ {
			id = float32(itry+int(values[0])) / max
			sumqx, sumq2 = 0, 0
			for j, v := range xb {
				al := id * v
				l := iq4Index(al)
				q := iq4Float[l]
				w := weight[j]
				sumqx += float32(float32(w*q) * v)
				sumq2 += float32(float32(w*q) * q)
			}
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				d = sumqx / sumq2
				best = d * sumqx
			}
		}
		s.scales[ib] = d
		if a := abs32(d); a > amaxScale {
			amaxScale, maxScale = a, d
		}
	}
	if nb > 1 {
		scalesH[0], scalesH[1] = 0, 0
		var sh uint16
		d := -maxScale / 32
		put16(dh, fp16(d))
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for ib := 0; ib < nb; ib++ {
			l := clampInt(nearestInt(id*s.scales[ib]), -32, 31)
			dl := d * float32(l)
			var idl float32
			if dl != 0 {
				idl = 1 / dl
			}
			Lb := s.L[ib*32 : ib*32+32]
			xb := x[ib*32 : ib*32+32]
			for j, v := range xb {
				Lb[j] = uint8(iq4Index(idl * v))
			}
			l += 32
			lLow := uint8(l & 0xf)
			lHigh := uint16(l >> 4)
			if ib%2 == 0 {
				scalesL[ib/2] = lLow
			} else {
				scalesL[ib/2] |= lLow << 4
			}
			sh |= lHigh << (2 * (ib % 8))
		}
		put16(scalesH, sh)
	} else {
		put16(dh, fp16(s.scales[0]))
		if ntry > 0 {
			var id float32
			if s.scales[0] != 0 {
				id = 1 / s.scales[0]
			}
			for j, v := range x[:n] {
				s.L[j] = uint8(iq4Index(id * v))
			}
		}
	}
	for i := 0; i < n/32; i++ {
		for j := 0; j < 16; j++ {
			q4[16*i+j] = s.L[32*i+j] | s.L[32*i+16+j]<<4
		}
	}
}
