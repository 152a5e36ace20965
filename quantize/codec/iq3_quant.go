package codec

// The IQ3 quantizers (ggml's quantize_row_iq3_xxs_impl and quantize_row_iq3_s_impl) share the
// search below: for each sub-block of 32 weights the magnitudes are matched against the grid at
// a range of trial scales, off-grid groups of 4 snapping to their best neighbour, and the scale
// with the best weighted fit wins; groups left off the grid are then re-snapped at that scale.

// iqSubWeights fills the importance of each of n weights xb of a super-block with mean square
// sigma2/2: qw[i]*sqrt(sigma2+x²) with an imatrix, x² without, and waux with their roots.
func iqSubWeights(weight, waux, xb, qw []float32, sigma2 float32) {
	for i, v := range xb {
		if qw != nil {
			weight[i] = qw[i] * sqrt32(sigma2+float32(v*v))
		} else {
			weight[i] = v * v
		}
	}
	for i := range xb {
		waux[i] = sqrt32(weight[i])
	}
}

// iqSigma2 is ggml's sigma2 of a super-block: twice the mean square.
func iqSigma2(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return 2 * s / QKK
}

// iq3Level is ggml's nearest_int(0.5f*(id*x-1)) clamped to the levels 0..7.
func iq3Level(id, x float32) int8 {
	return int8(clampInt(nearestInt(float32(0.5*(float32(id*x)-1))), 0, 7))
}

// iqFit returns sumqx and sumq2 of levels L (values 2l+1) against xval with weights.
func iqFit(xval, weight []float32, L []int8) (sumqx, sumq2 float32) {
	for i, w := range weight {
		q := float32(2*int32(L[i]) + 1)
		sumqx += float32(float32(w*xval[i]) * q)
		sumq2 += float32(float32(w*q) * q)
	}
	return
}

// iq3SearchScale finds the levels L and the scale of one sub-block of 32 magnitudes xval (max
// their largest) over trial scales isLo..isHi. onGrid receives, per group of 4, whether its
// rounded levels were on the grid at the winning trial; onGrid starts as initial (IQ3_XXS
// counts untried groups as on the grid, IQ3_S as off it). Groups off the grid (all of them for
// IQ3_S, requantizeAll) are then snapped again at the winning scale, and the scale refitted.
func iq3SearchScale(lat *iqLattice, xval, weight, waux []float32, max float32, L []int8,
	isLo, isHi int, initial, requantizeAll bool) float32 {
	const kMaxQ = 8
	var Laux [32]int8
	var onGrid, onGridAux [8]bool
	for k := range onGrid {
		onGrid[k] = initial
	}
	var best float32
	scale := max / (2*kMaxQ - 1)
	for is := isLo; is <= isHi; is++ {
		id := (2*kMaxQ - 1 + float32(float32(is)*0.2)) / max
		thisScale := 1 / id
		for k := 0; k < 8; k++ {
			for i := 0; i < 4; i++ {
				Laux[4*k+i] = iq3Level(id, xval[4*k+i])
			}
			u := lat.pack(Laux[4*k:])
			onGridAux[k] = true
			if lat.index[u] < 0 {
				onGridAux[k] = false
				lat.bestNeighbour(u, xval[4*k:], waux[4*k:], thisScale, Laux[4*k:])
			}
		}
		sumqx, sumq2 := iqFit(xval, weight, Laux[:])
		if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
			scale = sumqx / sumq2
			best = scale * sumqx
			copy(L, Laux[:])
			onGrid = onGridAux
		}
	}
	off := 0
	for _, g := range onGrid {
		if !g {
			off++
		}
	}
	if off > 0 && scale > 0 {
		id := 1 / scale
		var lv [4]int8
		for k := 0; k < 8; k++ {
			if onGrid[k] && !requantizeAll {
				continue
			}
			for i := range lv {
				lv[i] = iq3Level(id, xval[4*k+i])
			}
			u := lat.pack(lv[:])
			gi := int(lat.index[u])
			if gi < 0 {
				gi = lat.bestNeighbour(u, xval[4*k:], waux[4*k:], scale, L[4*k:])
			}
			for i, q := range lat.pos[4*gi : 4*gi+4] {
				L[4*k+i] = (q - 1) / 2
			}
		}
		sumqx, sumq2 := iqFit(xval, weight, L)
		if sumq2 > 0 {
			scale = sumqx / sumq2
		}
	}
	return scale
}

// iqMagnitudes stores |xb| in xval and the sign bits of each group of 8 in signs (bit i set:
// weight i negative; -0 counts as positive), as the IQ3_S and IQ2_S quantizers take them.
func iqMagnitudes(xval, xb []float32, signs []uint8) {
	for k := range signs {
		var s uint8
		for i := 0; i < 8; i++ {
			v := xb[8*k+i]
			if v >= 0 {
				xval[8*k+i] = v
			} else {
				xval[8*k+i] = -v
				s |= 1 << i
			}
		}
		signs[k] = s
	}
}

// maxOf returns the largest of x (C's MAX chain from x[0]).
func maxOf(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if !(m > v) {
			m = v
		}
	}
	return m
}

// iqSubScales encodes the sub-block scales of the IQ2/IQ3 quantizers against the super-block
// scale d = maxScale/31 as nearest_int(0.5*(scale/d-1)) in 0..15, stored in out in order.
func iqSubScales(scales []float32, maxScale float32, out []uint8) {
	d := maxScale / 31
	id := 1 / d
	for ib, s := range scales {
		out[ib] = uint8(clampInt(nearestInt(float32(0.5*(float32(id*s)-1))), 0, 15))
	}
}

func (iq3XXS) QuantizeRow(dst []byte, x, imatrix []float32) {
	lat := iq3XXSLattice()
	var weight, waux, xval [32]float32
	var L [32]int8
	var scales [8]float32
	var q3 [96]byte
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		y := dst[ibl*iq3XXSSize : ibl*iq3XXSSize+iq3XXSSize]
		xbl := x[ibl*QKK : ibl*QKK+QKK]
		q3 = [96]byte{}
		var maxScale float32
		sigma2 := iqSigma2(xbl)
		for ib := 0; ib < 8; ib++ {
			xb := xbl[32*ib : 32*ib+32]
			var qw []float32
			if imatrix != nil {
				qw = imatrix[ibl*QKK+32*ib : ibl*QKK+32*ib+32]
			}
			iqSubWeights(weight[:], waux[:], xb, qw, sigma2)
			var signs [4]uint8
			for k := 0; k < 4; k++ {
				var s uint8
				nflip := 0
				for i := 0; i < 8; i++ {
					v := xb[8*k+i]
					if v >= 0 {
						xval[8*k+i] = v
					} else {
						xval[8*k+i] = -v
						nflip++
						s |= 1 << i
					}
				}
				if nflip%2 != 0 { // flip the least important weight: an even count of signs
					imin := 0
					min := float32(weight[8*k]*xb[8*k]) * xb[8*k]
					for i := 1; i < 8; i++ {
						if ax := float32(weight[8*k+i]*xb[8*k+i]) * xb[8*k+i]; ax < min {
							min, imin = ax, i
						}
					}
					xval[8*k+imin] = -xval[8*k+imin]
					s ^= 1 << imin
				}
				signs[k] = s & 127
			}
			max := maxOf(xval[:])
			L = [32]int8{}
			if max < 1e-8 { // GROUP_MAX_EPS_IQ3_XXS
				scales[ib] = 0
				continue
			}
			scale := iq3SearchScale(lat, xval[:], weight[:], waux[:], max, L[:], -15, 15, true, false)
			if scale < 0 {
				scale = -scale
				for k := range signs {
					signs[k] = ^signs[k] & 127
				}
			}
			for k := 0; k < 8; k++ {
				q3[8*ib+k] = uint8(lat.index[lat.pack(L[4*k:])])
			}
			ss := uint32(signs[0]) | uint32(signs[1])<<7 | uint32(signs[2])<<14 | uint32(signs[3])<<21
			q3[64+4*ib], q3[65+4*ib], q3[66+4*ib], q3[67+4*ib] = byte(ss), byte(ss>>8), byte(ss>>16), byte(ss>>24)
			scales[ib] = scale
			maxScale = max32(maxScale, scale)
		}
		if maxScale == 0 {
			clear(y)
			continue
		}
		d := maxScale / 31
		put16(y, fp16(d*1.0125))
		var ls [8]uint8
		iqSubScales(scales[:], maxScale, ls[:])
		for ib, l := range ls {
			q3[67+4*ib] |= l << 4
		}
		copy(y[2:], q3[:])
	}
}

func (iq3S) QuantizeRow(dst []byte, x, imatrix []float32) {
	lat := iq3SLattice()
	var weight, waux, xval [32]float32
	var L [32]int8
	var scales [8]float32
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		y := dst[ibl*iq3SSize : ibl*iq3SSize+iq3SSize]
		clear(y)
		qs, qh, signs := y[2:66], y[66:74], y[74:106]
		xbl := x[ibl*QKK : ibl*QKK+QKK]
		var maxScale float32
		sigma2 := iqSigma2(xbl)
		// ggml advances its qs and signs pointers only past sub-blocks it quantizes: a
		// sub-block of zeros leaves its slots to the next one (the file format is what ggml
		// writes, so the same bytes are written here).
		next := 0
		for ib := 0; ib < 8; ib++ {
			xb := xbl[32*ib : 32*ib+32]
			var qw []float32
			if imatrix != nil {
				qw = imatrix[ibl*QKK+32*ib : ibl*QKK+32*ib+32]
			}
			iqSubWeights(weight[:], waux[:], xb, qw, sigma2)
			var bs [4]uint8
			iqMagnitudes(xval[:], xb, bs[:])
			max := maxOf(xval[:])
			L = [32]int8{}
			if max == 0 {
				scales[ib] = 0
				continue
			}
			scale := iq3SearchScale(lat, xval[:], weight[:], waux[:], max, L[:], -9, 9, false, true)
			if scale < 0 {
				scale = -scale
				for k := range bs {
					bs[k] = ^bs[k]
				}
			}
			for k := 0; k < 8; k++ {
				gi := lat.index[lat.pack(L[4*k:])]
				qs[8*next+k] = uint8(gi)
				qh[ib] |= uint8(gi>>8) << k
			}
			copy(signs[4*next:], bs[:])
			next++
			scales[ib] = scale
			maxScale = max32(maxScale, scale)
		}
		if maxScale == 0 {
			continue
		}
		d := maxScale / 31
		put16(y, fp16(d*1.033))
		var ls [8]uint8
		iqSubScales(scales[:], maxScale, ls[:])
		for ib := 0; ib < 8; ib += 2 {
			y[106+ib/2] = ls[ib] | ls[ib+1]<<4
		}
	}
}

// max32 is C's MAX(a, b): a if a > b, else b.
func max32(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}
