package codec

import "math"

// The IQ1 quantizers (ggml's quantize_row_iq1_s_impl and quantize_row_iq1_m_impl) split each
// sub-block exactly: with values -1, 0, 1 shifted by ±delta, the weighted least-squares fit is
// searched over every pair of boundaries splitting the sorted weights into three groups. Groups
// of 8 whose levels are off the 2048-point grid snap to their best neighbour.

// iq1Plus and iq1Minus are the IQ1 grid values with the delta added (ggml's x_p) and
// subtracted (x_m).
var (
	iq1Plus  = [3]float32{-1 + iq1Delta, iq1Delta, 1 + iq1Delta}
	iq1Minus = [3]float32{-1 - iq1Delta, -iq1Delta, 1 - iq1Delta}
)

// iq1Order stores in idx the positions of x sorted by value, ties in position order: glibc's
// qsort, which ggml calls with a comparison that leaves ties equal, is a stable merge sort for
// arrays this small.
func iq1Order(x []float32, idx []int) {
	for i := range idx {
		idx[i] = i
	}
	for j := 1; j < len(idx); j++ {
		k := idx[j]
		i := j - 1
		for i >= 0 && x[idx[i]] > x[k] {
			idx[i+1] = idx[i]
			i--
		}
		idx[i+1] = k
	}
}

// iq1BestNeighbour is ggml's iq1_find_best_neighbour2: among the neighbours of the off-grid
// level vector u, the grid point whose values xx (shifted by the delta) times scale are nearest
// to x in weighted squared error. It stores the point's levels in L and returns its index.
func iq1BestNeighbour(lat *iqLattice, u int, x, weight []float32, scale float32, xx *[3]float32, L []int8) int {
	best := float32(math.MaxFloat32)
	gi := -1
	for _, j := range lat.neighbours[u] {
		pg := lat.pos[int(j)*8 : int(j)*8+8]
		var d2 float32
		for i, p := range pg {
			diff := float32(scale*xx[(p-1)/2]) - x[i]
			d2 += float32(float32(weight[i]*diff) * diff)
		}
		if d2 < best {
			best, gi = d2, int(j)
		}
	}
	if gi < 0 {
		// ggml then scans the whole grid with an out-of-bounds read; finite inputs never get here.
		panic("codec: IQ1 grid search found no neighbour (non-finite input?)")
	}
	for i, p := range lat.pos[gi*8 : gi*8+8] {
		L[i] = (p - 1) / 2
	}
	return gi
}

func (iq1S) QuantizeRow(dst []byte, x, imatrix []float32) {
	lat := iq1Lattice()
	var weight [32]float32
	var L [32]int8
	var sumx, sumw [33]float32
	var idx [32]int
	var scales [8]float32
	var shifts [8]int8
	var index [4]int
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		y := dst[ibl*iq1SSize : ibl*iq1SSize+iq1SSize]
		clear(y)
		xbl := x[ibl*QKK : ibl*QKK+QKK]
		var maxScale float32
		sigma2 := iqSigma2(xbl)
		for ib := 0; ib < 8; ib++ {
			xb := xbl[32*ib : 32*ib+32]
			qw := imatrix[ibl*QKK+32*ib:]
			for i, v := range xb {
				weight[i] = qw[i] * sqrt32(sigma2+float32(v*v))
			}
			max := abs32(xb[0])
			for _, v := range xb[1:] {
				max = max32(max, abs32(v))
			}
			if max < 1e-12 { // GROUP_MAX_EPS_IQ1_S
				scales[ib], shifts[ib] = 0, 1
				continue
			}
			iq1Order(xb, idx[:])
			for j, i := range idx {
				sumx[j+1] = sumx[j] + float32(weight[i]*xb[i])
				sumw[j+1] = sumw[j] + weight[i]
			}
			bestScore := float32(-math.MaxFloat32)
			scale := max
			besti1, besti2, bestShift := -1, -1, 0
			fit := func(xx *[3]float32, i1, i2 int) (sumqx, sumq2 float32) {
				a, b, c := sumx[i1]-sumx[0], sumx[i2]-sumx[i1], sumx[32]-sumx[i2]
				sumqx = float32(float32(a*xx[0])+float32(b*xx[1])) + float32(c*xx[2])
				wa, wb, wc := sumw[i1]-sumw[0], sumw[i2]-sumw[i1], sumw[32]-sumw[i2]
				sumq2 = float32(float32(float32(wa*xx[0])*xx[0])+float32(float32(wb*xx[1])*xx[1])) + float32(float32(wc*xx[2])*xx[2])
				return
			}
			for i1 := 0; i1 <= 32; i1++ {
				for i2 := i1; i2 <= 32; i2++ {
					for _, sh := range [2]int{1, -1} {
						xx := &iq1Plus
						if sh < 0 {
							xx = &iq1Minus
						}
						sumqx, sumq2 := fit(xx, i1, i2)
						if sumq2 > 0 && float32(sumqx*sumqx) > float32(bestScore*sumq2) {
							scale = sumqx / sumq2
							bestScore = scale * sumqx
							besti1, besti2, bestShift = i1, i2, sh
						}
					}
				}
			}
			if besti1 < 0 || besti2 < 0 || bestShift == 0 {
				scales[ib], shifts[ib] = 0, 1
				continue
			}
			for j, i := range idx {
				switch {
				case j < besti1:
					L[i] = 0
				case j < besti2:
					L[i] = 1
				default:
					L[i] = 2
				}
			}
			if scale < 0 {
				for j := range L {
					L[j] = 2 - L[j]
				}
				scale, bestShift = -scale, -bestShift
			}
			xx := &iq1Plus
			if bestShift != 1 {
				xx = &iq1Minus
			}
			allOnGrid := true
			for k := 0; k < 4; k++ {
				u := lat.pack(L[8*k:])
				gi := int(lat.index[u])
				if gi < 0 {
					allOnGrid = false
					gi = iq1BestNeighbour(lat, u, xb[8*k:], weight[8*k:], scale, xx, L[8*k:])
				}
				index[k] = gi
			}
			if !allOnGrid {
				var sumqx, sumq2 float32
				for k := 0; k < 4; k++ {
					for j, p := range lat.pos[8*index[k] : 8*index[k]+8] {
						w := weight[8*k+j]
						q := xx[(p-1)/2]
						sumqx += float32(float32(w*q) * xb[8*k+j])
						sumq2 += float32(float32(w*q) * q)
					}
				}
				if sumqx > 0 && sumq2 > 0 {
					scale = sumqx / sumq2
				}
			}
			var h uint16
			for k := 0; k < 4; k++ {
				y[2+4*ib+k] = uint8(index[k])
				h |= uint16(index[k]>>8) << (3 * k)
			}
			put16(y[34+2*ib:], h)
			scales[ib], shifts[ib] = scale, int8(bestShift)
			maxScale = max32(maxScale, scale)
		}
		if maxScale == 0 {
			continue
		}
		d := maxScale / 15
		put16(y, fp16(d*1.125))
		id := 1 / d
		for ib := 0; ib < 8; ib++ {
			l := uint16(clampInt(nearestInt(float32(0.5*(float32(id*scales[ib])-1))), 0, 7))
			if shifts[ib] == -1 {
				l |= 8
			}
			put16(y[34+2*ib:], le16(y[34+2*ib:])|l<<12)
		}
	}
}

// iq1MShiftMasks are the qh delta-sign bits of IQ1_M for the four (first, second) group shift
// combinations: 0 (+,+), 1 (+,-), 2 (-,+), 3 (-,-), where - sets the bit.
var iq1MShiftMasks = [4]uint8{0x00, 0x80, 0x08, 0x88}

// iq1MValues returns the shifted values of group k (0 or 1) of an IQ1_M sub-block with shift
// combination s.
func iq1MValues(s, k int) *[3]float32 {
	if (k == 0 && s < 2) || (k == 1 && s%2 == 0) {
		return &iq1Plus
	}
	return &iq1Minus
}

func (iq1M) QuantizeRow(dst []byte, x, imatrix []float32) {
	lat := iq1Lattice()
	var weight [16]float32
	var L [16]int8
	var idx [16]int
	var scales [16]float32
	var shifts [16]int
	var index [2]int
	subWeights := func(xb []float32, ibl, ib int, sigma2 float32) {
		for i, v := range xb {
			if imatrix != nil {
				weight[i] = imatrix[ibl*QKK+16*ib+i] * sqrt32(sigma2+float32(v*v))
			} else {
				weight[i] = v * v
			}
		}
	}
	for ibl := 0; ibl < len(x)/QKK; ibl++ {
		y := dst[ibl*iq1MSize : ibl*iq1MSize+iq1MSize]
		clear(y)
		qs, qh := y[0:32], y[32:48]
		xbl := x[ibl*QKK : ibl*QKK+QKK]
		var maxScale float32
		sigma2 := iqSigma2(xbl)
		for ib := 0; ib < 16; ib++ {
			xb := xbl[16*ib : 16*ib+16]
			subWeights(xb, ibl, ib, sigma2)
			max := abs32(xb[0])
			for _, v := range xb[1:] {
				max = max32(max, abs32(v))
			}
			if max < 1e-7 { // GROUP_MAX_EPS_IQ1_M
				scales[ib], shifts[ib] = 0, 0
				continue
			}
			iq1Order(xb, idx[:])
			bestScore := float32(-math.MaxFloat32)
			scale := max
			besti1, besti2, bestK := -1, -1, -1
			for i1 := 0; i1 <= 16; i1++ {
				for i2 := i1; i2 <= 16; i2++ {
					var sumqx, sumq2 [4]float32
					for j, i := range idx {
						lv := 2
						if j < i1 {
							lv = 0
						} else if j < i2 {
							lv = 1
						}
						w, v := weight[i], xb[i]
						p, m := iq1Plus[lv], iq1Minus[lv]
						qp, qm := float32(float32(w*p)*v), float32(float32(w*m)*v)
						pp, mm := float32(float32(w*p)*p), float32(float32(w*m)*m)
						// combination k uses x_m for the first group when k >= 2 and for the
						// second when k is odd.
						if i < 8 {
							sumqx[0] += qp
							sumqx[1] += qp
							sumqx[2] += qm
							sumqx[3] += qm
							sumq2[0] += pp
							sumq2[1] += pp
							sumq2[2] += mm
							sumq2[3] += mm
						} else {
							sumqx[0] += qp
							sumqx[2] += qp
							sumqx[1] += qm
							sumqx[3] += qm
							sumq2[0] += pp
							sumq2[2] += pp
							sumq2[1] += mm
							sumq2[3] += mm
						}
					}
					for k := 0; k < 4; k++ {
						if sumq2[k] > 0 && float32(sumqx[k]*sumqx[k]) > float32(bestScore*sumq2[k]) {
							scale = sumqx[k] / sumq2[k]
							bestScore = scale * sumqx[k]
							besti1, besti2, bestK = i1, i2, k
						}
					}
				}
			}
			if besti1 < 0 || besti2 < 0 || bestK < 0 {
				scales[ib], shifts[ib] = 0, 0
				continue
			}
			for j, i := range idx {
				switch {
				case j < besti1:
					L[i] = 0
				case j < besti2:
					L[i] = 1
				default:
					L[i] = 2
				}
			}
			if scale < 0 {
				for j := range L {
					L[j] = 2 - L[j]
				}
				scale = -scale
				bestK = 3 - bestK
			}
			allOnGrid := true
			for k := 0; k < 2; k++ {
				u := lat.pack(L[8*k:])
				gi := int(lat.index[u])
				if gi < 0 {
					allOnGrid = false
					gi = iq1BestNeighbour(lat, u, xb[8*k:], weight[8*k:], scale, iq1MValues(bestK, k), L[8*k:])
				}
				index[k] = gi
			}
			if !allOnGrid {
				var sumqx, sumq2 float32
				for k := 0; k < 2; k++ {
					xx := iq1MValues(bestK, k)
					for j, p := range lat.pos[8*index[k] : 8*index[k]+8] {
						w := weight[8*k+j]
						q := xx[(p-1)/2]
						sumqx += float32(float32(w*q) * xb[8*k+j])
						sumq2 += float32(float32(w*q) * q)
					}
				}
				if sumqx > 0 && sumq2 > 0 {
					scale = sumqx / sumq2
				}
			}
			qs[2*ib] = uint8(index[0])
			qs[2*ib+1] = uint8(index[1])
			qh[ib] = uint8(index[0]>>8) | uint8(index[1]>>8)<<4
			scales[ib], shifts[ib] = scale, bestK
			maxScale = max32(maxScale, scale)
		}
		if maxScale == 0 {
			continue
		}
		var sc [4]uint16
		d := maxScale / 15
		id := 1 / d
		var sumqx, sumq2 float32
		for ib := 0; ib < 16; ib++ {
			l := clampInt(nearestInt(float32(0.5*(float32(id*scales[ib])-1))), 0, 7)
			sc[ib/4] |= uint16(l) << (3 * (ib % 4))
			qh[ib] |= iq1MShiftMasks[shifts[ib]]
			xb := xbl[16*ib : 16*ib+16]
			subWeights(xb, ibl, ib, sigma2)
			for k := 0; k < 2; k++ {
				xx := iq1MValues(shifts[ib], k)
				gi := int(qs[2*ib+k]) + int(qh[ib])<<(8-4*k)&0x700
				for j, p := range lat.pos[8*gi : 8*gi+8] {
					w := weight[8*k+j]
					q := xx[(p-1)/2] * float32(2*l+1)
					sumqx += float32(float32(w*q) * xb[8*k+j])
					sumq2 += float32(float32(w*q) * q)
				}
			}
		}
		if sumq2 > 0 {
			d = sumqx / sumq2
		}
		s := fp16(d * 1.1125)
		sc[0] |= (s & 0x000f) << 12
		sc[1] |= (s & 0x00f0) << 8
		sc[2] |= (s & 0x0f00) << 4
		sc[3] |= s & 0xf000
		for k, v := range sc {
			put16(y[48+2*k:], v)
		}
	}
}
