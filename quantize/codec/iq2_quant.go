package codec

// The IQ2_XXS and IQ2_XS quantizers (ggml's quantize_row_iq2_xxs_impl and
// quantize_row_iq2_xs_impl) need an importance matrix: ggml asserts one, and llama-quantize
// refuses these types without it. Groups of 8 magnitudes are matched against the 2-bit grid
// (levels 0..2, values 2l+1) at a range of trial scales, as the IQ3 quantizers do with groups
// of 4.

// iq2Level is ggml's nearest_int(0.5f*(id*x-1)) clamped to the levels 0..2.
func iq2Level(id, x float32) int8 {
	return int8(clampInt(nearestInt(float32(0.5*(float32(id*x)-1))), 0, 2))
}

// iq2Snap stores in L the levels of the 8 magnitudes xval at inverse scale id, replaced by their
// best grid neighbour (at scale) when off the grid, and reports whether they were on it.
func iq2Snap(lat *iqLattice, xval, waux []float32, id, scale float32, L []int8) bool {
	for i := 0; i < 8; i++ {
		L[i] = iq2Level(id, xval[i])
	}
	u := lat.pack(L)
	if lat.index[u] >= 0 {
		return true
	}
	lat.bestNeighbour(u, xval, waux, scale, L)
	return false
}

// iq2SearchScale finds the levels L and the scale of one sub-block of len(xval) magnitudes
// (groups of 8), trying inverse scales (5+0.1*is)/denom for is in isLo..isHi from the initial
// scale. With trackGrid (IQ2_XS) only groups that were off the grid at the winning trial are
// snapped again at the final scale; without (IQ2_XXS) all are.
func iq2SearchScale(lat *iqLattice, xval, weight, waux []float32, L []int8, scale, denom float32,
	isLo, isHi int, trackGrid bool) float32 {
	const kMaxQ = 3
	groups := len(xval) / 8
	var Laux [32]int8
	var onGrid, onGridAux [4]bool
	for k := range onGrid {
		onGrid[k] = true
	}
	var best float32
	for is := isLo; is <= isHi; is++ {
		id := (2*kMaxQ - 1 + float32(float32(is)*0.1)) / denom
		thisScale := 1 / id
		for k := 0; k < groups; k++ {
			onGridAux[k] = iq2Snap(lat, xval[8*k:], waux[8*k:], id, thisScale, Laux[8*k:])
		}
		sumqx, sumq2 := iqFit(xval, weight, Laux[:len(xval)])
		if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
			scale = sumqx / sumq2
			best = scale * sumqx
			copy(L, Laux[:len(xval)])
			onGrid = onGridAux
		}
	}
	off := 0
	for k := 0; k < groups; k++ {
		if !onGrid[k] || !trackGrid {
			off++
		}
	}
	if off > 0 && scale > 0 {
		id := 1 / scale
		for k := 0; k < groups; k++ {
			if trackGrid && onGrid[k] {
				continue
			}
			iq2Snap(lat, xval[8*k:], waux[8*k:], id, scale, L[8*k:])
		}
		sumqx, sumq2 := iqFit(xval, weight, L[:len(xval)])
		if sumq2 > 0 {
			scale = sumqx / sumq2
		}
	}
	return scale
}

// iq2EvenSigns stores |xb| in xval for groups of 8 and returns their 7-bit sign groups: when a
// group has an odd number of negative weights, the one with the least weight*x² is taken as
// positive's opposite (its magnitude negated in xval), so that the eighth sign is implied.
func iq2EvenSigns(xval, xb, weight []float32, signs []uint8) {
	for k := range signs {
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
		if nflip%2 != 0 {
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
}

// iq2Sigma2 is the mean square of a super-block (the IQ2 quantizers' sigma2).
func iq2Sigma2(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s / QKK
}

// iq2Weights fills weight with qw[i]*sqrt(sigma2+x²) and waux with their roots.
func iq2Weights(weight, waux, xb, qw []float32, sigma2 float32) {
	for i, v := range xb {
		weight[i] = qw[i] * sqrt32(sigma2+float32(v*v))
	}
	for i := range xb {
		waux[i] = sqrt32(weight[i])
	}
}

func (iq2XXS) QuantizeRow(dst []byte, x, imatrix []float32) {
	lat := iq2XXSLattice()
	var weight, waux, xval [32]float32
	var L [32]int8
	var scales [8]float32
	var q2 [16]uint32
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		y := dst[ibl*iq2XXSSize : ibl*iq2XXSSize+iq2XXSSize]
		xbl := x[ibl*QKK : ibl*QKK+QKK]
		q2 = [16]uint32{}
		var maxScale float32
		sigma2 := iq2Sigma2(xbl)
		for ib := 0; ib < 8; ib++ {
			xb := xbl[32*ib : 32*ib+32]
			iq2Weights(weight[:], waux[:], xb, imatrix[ibl*QKK+32*ib:], sigma2)
			var signs [4]uint8
			iq2EvenSigns(xval[:], xb, weight[:], signs[:])
			max := maxOf(xval[:])
			if max < groupMaxEps {
				scales[ib] = 0
				continue
			}
			var lq [32]uint8
			scale := makeQpQuants(32, 4, xval[:], lq[:], weight[:])
			for i, v := range lq {
				L[i] = int8(v)
			}
			effMax := float32(scale * 3)
			if effMax <= 0 {
				scales[ib] = 0
				continue
			}
			scale = iq2SearchScale(lat, xval[:], weight[:], waux[:], L[:], scale, effMax, -6, 6, false)
			if scale < 0 {
				scale = -scale
				for k := range signs {
					signs[k] = ^signs[k] & 127
				}
			}
			for k := 0; k < 4; k++ {
				gi := uint32(lat.index[lat.pack(L[8*k:])])
				q2[2*ib] |= gi << (8 * k)
				q2[2*ib+1] |= uint32(signs[k]) << (7 * k)
			}
			scales[ib] = scale
			maxScale = max32(maxScale, scale)
		}
		clear(y)
		if maxScale == 0 {
			continue
		}
		d := maxScale / 31
		put16(y, fp16(d))
		var ls [8]uint8
		iqSubScales(scales[:], maxScale, ls[:])
		for ib, l := range ls {
			q2[2*ib+1] |= uint32(l) << 28
		}
		for i, v := range q2 {
			y[2+4*i], y[3+4*i], y[4+4*i], y[5+4*i] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		}
	}
}

func (iq2XS) QuantizeRow(dst []byte, x, imatrix []float32) {
	lat := iq2XSLattice()
	var weight, waux, xval [16]float32
	var L [16]int8
	var scales [16]float32
	var q2 [32]uint16
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		y := dst[ibl*iq2XSSize : ibl*iq2XSSize+iq2XSSize]
		xbl := x[ibl*QKK : ibl*QKK+QKK]
		q2 = [32]uint16{}
		var maxScale float32
		sigma2 := iq2Sigma2(xbl)
		for ib := 0; ib < 16; ib++ {
			xb := xbl[16*ib : 16*ib+16]
			iq2Weights(weight[:], waux[:], xb, imatrix[ibl*QKK+16*ib:], sigma2)
			var signs [2]uint8
			iq2EvenSigns(xval[:], xb, weight[:], signs[:])
			max := maxOf(xval[:])
			L = [16]int8{}
			if max < groupMaxEps {
				scales[ib] = 0
				continue
			}
			scale := iq2SearchScale(lat, xval[:], weight[:], waux[:], L[:], max/5, max, -9, 9, true)
			if scale < 0 {
				scale = -scale
				for k := range signs {
					signs[k] = ^signs[k] & 127
				}
			}
			for k := 0; k < 2; k++ {
				gi := uint16(lat.index[lat.pack(L[8*k:])])
				q2[2*ib+k] = gi | uint16(signs[k])<<9
			}
			scales[ib] = scale
			maxScale = max32(maxScale, scale)
		}
		clear(y)
		if maxScale == 0 {
			continue
		}
		d := maxScale / 31
		put16(y, fp16(d))
		var ls [16]uint8
		iqSubScales(scales[:], maxScale, ls[:])
		for ib := 0; ib < 16; ib += 2 {
			y[66+ib/2] = ls[ib] | ls[ib+1]<<4
		}
		for i, v := range q2 {
			put16(y[2+2*i:], v)
		}
	}
}

func (iq2S) QuantizeRow(dst []byte, x, imatrix []float32) {
	lat := iq2SLattice()
	var weight, waux, xval [16]float32
	var L [16]int8
	var scales [16]float32
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		y := dst[ibl*iq2SSize : ibl*iq2SSize+iq2SSize]
		clear(y)
		qs, signs, qh := y[2:34], y[34:66], y[66:74]
		xbl := x[ibl*QKK : ibl*QKK+QKK]
		var maxScale float32
		sigma2 := iqSigma2(xbl)
		for ib := 0; ib < 16; ib++ {
			xb := xbl[16*ib : 16*ib+16]
			if imatrix != nil {
				iq2Weights(weight[:], waux[:], xb, imatrix[ibl*QKK+16*ib:], sigma2)
			} else {
				for i, v := range xb {
					weight[i] = float32(0.25*sigma2) + float32(v*v)
					waux[i] = sqrt32(weight[i])
				}
			}
			var bs [2]uint8
			iqMagnitudes(xval[:], xb, bs[:])
			max := maxOf(xval[:])
			L = [16]int8{}
			if max < 1e-8 { // GROUP_MAX_EPS_IQ2_S
				scales[ib] = 0
				continue
			}
			scale := iq2SearchScale(lat, xval[:], weight[:], waux[:], L[:], max/5, max, -9, 9, true)
			if scale < 0 {
				scale = -scale
				for k := range bs {
					bs[k] = ^bs[k]
				}
			}
			for k := 0; k < 2; k++ {
				gi := lat.index[lat.pack(L[8*k:])]
				i8 := 2*ib + k
				qs[i8] = uint8(gi)
				qh[i8/4] |= uint8(gi>>8) << (2 * (i8 % 4))
				signs[i8] = bs[k]
			}
			scales[ib] = scale
			maxScale = max32(maxScale, scale)
		}
		if maxScale == 0 {
			continue
		}
		d := maxScale / 31
		put16(y, fp16(d*0.9875))
		var ls [16]uint8
		iqSubScales(scales[:], maxScale, ls[:])
		for ib := 0; ib < 16; ib += 2 {
			y[74+ib/2] = ls[ib] | ls[ib+1]<<4
		}
	}
}
