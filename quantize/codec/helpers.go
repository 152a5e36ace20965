package codec

import (
	"math"

	"github.com/mcompress/mcompress/convert/dtype"
)

// The scalar arithmetic below mirrors ggml-quants.c operation by operation in float32 so that
// the quantized bytes match llama.cpp's. Products that C evaluates separately are wrapped in
// float32(...) where a fused multiply-add would otherwise be allowed: the Go specification lets
// a compiler fuse x*y+z unless the product is explicitly converted, and some ports (arm64) do.

// QK is the block size of the 32-element types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL).
const QK = 32

// QKK is the super-block size of the K-quants, IQ4_XS and Q8_K (ggml's QK_K).
const QKK = 256

// groupMaxEps is ggml's GROUP_MAX_EPS: groups whose largest magnitude is below it quantize to 0.
const groupMaxEps = 1e-15

// nearestInt rounds to the nearest integer, ties to even, with ggml's magic-number trick
// (adding 1.5*2^23). Valid for |f| <= 4194303, the range every caller stays within.
func nearestInt(f float32) int32 {
	v := f + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// roundAway is C's roundf (nearest integer, halves away from zero) for |f| < 2^23, the range
// every caller stays within, as an int32. Adding ±0.5 is exact in float64 for a float32 of that
// size and the conversion truncates toward zero, so this equals math.Round(float64(f)) for less
// work (Q8_0 quantizes one level per weight with it). The sign is copied with bit operations:
// a branch on it would be mispredicted on every other weight and cost four times math.Round.
func roundAway(f float32) int32 {
	x := float64(f)
	return int32(x + math.Copysign(0.5, x))
}

// fp16 rounds f to IEEE half precision (round to nearest even), as GGML_FP32_TO_FP16.
func fp16(f float32) uint16 { return dtype.F32ToF16(f) }

// fromFP16 widens an IEEE half value exactly, as GGML_FP16_TO_FP32.
func fromFP16(h uint16) float32 { return dtype.F16ToF32(h) }

// le16 reads a little-endian uint16.
func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

// put16 writes a little-endian uint16.
func put16(b []byte, v uint16) { b[0] = byte(v); b[1] = byte(v >> 8) }

// halfAt reads a little-endian F16 at b and widens it.
func halfAt(b []byte) float32 { return fromFP16(le16(b)) }

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

func sqrt32(f float32) float32 { return float32(math.Sqrt(float64(f))) }

func clampInt(v, lo, hi int32) int32 { return min(max(v, lo), hi) }

// makeQxQuants is ggml's make_qx_quants for rmseType 1: a symmetric scale for n <= 32 values
// with levels -nmax..nmax-1, searched over 19 candidate scales to minimise the weighted squared
// error. L receives the levels offset by nmax. qw are the weights; nil means x². A candidate
// whose levels equal the previous one's is skipped: it would leave the state unchanged.
func makeQxQuants(n int, nmax int32, x []float32, L []int8, qw []float32) float32 {
	x = x[:n]
	L = L[:n]
	var max, amax float32
	for _, v := range x {
		if ax := abs32(v); ax > amax {
			amax, max = ax, v
		}
	}
	if amax < groupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	var xs, w [32]float32
	copy(xs[:], x)
	for i, v := range x {
		if qw != nil {
			w[i] = qw[i]
		} else {
			w[i] = v * v
		}
	}
	fnmax := float32(nmax)
	lo, hi := -fnmax, fnmax-1
	iscale := -fnmax / max
	var lv [32]uint8
	quantLevels(&lv, &xs, iscale, lo, hi)
	sums := func(lv *[32]uint8) (sumlx, suml2 float32) {
		for i, v := range x {
			fl := float32(int8(lv[i]))
			sumlx += float32(float32(w[i]*v) * fl)
			suml2 += float32(float32(w[i]*fl) * fl)
		}
		return
	}
	for i := range L {
		L[i] = int8(lv[i]) + int8(nmax)
	}
	sumlx, suml2 := sums(&lv)
	scale := float32(0)
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	prev := lv
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fnmax + float32(0.1)*float32(is)) / max
		quantLevels(&lv, &xs, iscale, lo, hi)
		if lv == prev {
			continue
		}
		prev = lv
		sumlx, suml2 = sums(&lv)
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i := range L {
				L[i] = int8(lv[i]) + int8(nmax)
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// makeQ3Quants is ggml's make_q3_quants with do_rmse: symmetric levels -nmax..nmax-1 weighted
// by x², refined by up to five passes of coordinate descent. L receives levels + nmax.
func makeQ3Quants(n int, nmax int32, x []float32, L []int8) float32 {
	x = x[:n]
	L = L[:n]
	var max, amax float32
	for _, v := range x {
		if ax := abs32(v); ax > amax {
			amax, max = ax, v
		}
	}
	if amax < groupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	iscale := -float32(nmax) / max
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampInt(nearestInt(iscale*v), -nmax, nmax-1)
		L[i] = int8(l)
		w := v * v
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i, v := range x {
			w := v * v
			fl := float32(L[i])
			slx := sumlx - float32(float32(w*v)*fl)
			if slx > 0 {
				sl2 := suml2 - float32(float32(w*fl)*fl)
				newL := clampInt(nearestInt(float32(v*sl2)/slx), -nmax, nmax-1)
				if newL != int32(L[i]) {
					fn := float32(newL)
					slx += float32(float32(w*v) * fn)
					sl2 += float32(float32(w*fn) * fn)
					if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = int8(newL)
						sumlx, suml2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := range L {
		L[i] += int8(nmax)
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// makeQkx2Quants is ggml's make_qkx2_quants: an asymmetric (scale, min) fit of n <= 32 values
// to levels 0..nmax, searching nstep+1 candidate scales from rmin to rmin+nstep*rdelta and
// solving the weighted least-squares (scale, min) for each. It returns the scale and stores -min
// in *theMin. useMAD selects absolute instead of squared error.
//
// A candidate whose levels equal the previous candidate's is skipped: its sums, fit and error
// would be identical, so it cannot beat the best error the previous one left (C evaluates it
// and reaches the same state).
func makeQkx2Quants(n int, nmax int32, x, weights []float32, L, Laux []uint8, theMin *float32,
	rmin, rdelta float32, nstep int, useMAD bool) float32 {
	return makeQkxQuants(n, nmax, x, weights, L, Laux, theMin, rmin, rdelta, nstep, useMAD, false)
}

// makeQkx3Quants is ggml's make_qkx3_quants, the importance-weighted variant of makeQkx2Quants
// (weights must not be nil here; every caller passes them). It differs only in treating
// max <= min like max == min.
func makeQkx3Quants(n int, nmax int32, x, weights []float32, L, Laux []uint8, theMin *float32,
	rmin, rdelta float32, nstep int) float32 {
	return makeQkxQuants(n, nmax, x, weights, L, Laux, theMin, rmin, rdelta, nstep, false, true)
}

func makeQkxQuants(n int, nmax int32, x, weights []float32, L, Laux []uint8, theMin *float32,
	rmin, rdelta float32, nstep int, useMAD, v3 bool) float32 {
	x = x[:n]
	weights = weights[:n]
	L = L[:n]
	Laux = Laux[:n]
	min, max := x[0], x[0]
	sumW := weights[0]
	sumX := sumW * x[0]
	for i := 1; i < n; i++ {
		if x[i] < min {
			min = x[i]
		}
		if x[i] > max {
			max = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if min > 0 {
		min = 0
	}
	if max == min || (v3 && max <= min) {
		for i := range L {
			L[i] = 0
		}
		*theMin = -min
		return 0
	}
	var xm [32]float32 // x - min for the current min
	for i, v := range x {
		xm[i] = v - min
	}
	fnmax := float32(nmax)
	iscale := fnmax / (max - min)
	scale := 1 / iscale
	var bestErr float32
	for i, v := range x {
		l := clampInt(nearestInt(iscale*xm[i]), 0, nmax)
		L[i] = uint8(l)
		diff := float32(scale*float32(l)) + min - v
		if useMAD {
			diff = abs32(diff)
		} else {
			diff = diff * diff
		}
		bestErr += float32(weights[i] * diff)
	}
	if nstep < 1 {
		*theMin = -min
		return scale
	}
	var prev [32]uint8
	havePrev := false
	for is := 0; is <= nstep; is++ {
		// min changes when a candidate wins, so later candidates use the new range (as in C).
		iscale = (rmin + float32(rdelta*float32(is)) + fnmax) / (max - min)
		var cand [32]uint8
		quantLevels(&cand, &xm, iscale, 0, fnmax) // entries past n are 0 in both
		if havePrev && cand == prev {
			continue
		}
		prev = cand
		havePrev = true
		copy(Laux, cand[:n])
		var sumL, sumL2, sumXL float32
		_, _ = Laux[len(x)-1], weights[len(x)-1]
		for i, v := range x {
			fl := float32(Laux[i])
			wl := weights[i] * fl
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var cur float32
			for i, v := range x {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - v
				if useMAD {
					diff = abs32(diff)
				} else {
					diff = diff * diff
				}
				cur += float32(weights[i] * diff)
			}
			if cur < bestErr {
				copy(L, Laux)
				bestErr = cur
				scale = thisScale
				if thisMin != min {
					for i, v := range x {
						xm[i] = v - thisMin
					}
				}
				min = thisMin
			}
		}
	}
	*theMin = -min
	return scale
}

// quantLevelsGo stores, for the 32 entries of x, the level clamp(nearestInt(iscale*x), lo, hi)
// as a byte (two's complement for negative levels). lo and hi are integers with
// -64 <= lo <= 0 <= hi <= 64. Clamping the product before rounding gives the same level, and
// lets the level be read off the magic-number sum directly. quantLevels (levels_*.go) is this
// function, or an SSE2 twin on amd64 that computes the same bits four lanes at a time.
func quantLevelsGo(L *[32]uint8, x *[32]float32, iscale, lo, hi float32) {
	for i, xi := range x {
		v := iscale * xi
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		L[i] = uint8(math.Float32bits(v+12582912) - 0x4b400000)
	}
}

// makeQpQuants is ggml's make_qp_quants: quantizes n non-negative values (sub-block scales or
// mins) to levels 0..nmax with weights qw, used for the 6- and 4-bit scales of the K-quants'
// importance-weighted paths. Levels are stored as uint8 exactly as C stores them (including
// its wrap-around for out-of-range values).
func makeQpQuants(n int, nmax int32, x []float32, L []uint8, qw []float32) float32 {
	x = x[:n]
	L = L[:n]
	qw = qw[:n]
	var max float32
	for _, v := range x {
		if v > max {
			max = v
		}
	}
	if max < groupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	fnmax := float32(nmax)
	iscale := fnmax / max
	for i, v := range x {
		L[i] = uint8(nearestInt(iscale * v))
	}
	scale := 1 / iscale
	var bestMSE float32
	for i, v := range x {
		diff := v - float32(scale*float32(L[i]))
		bestMSE += float32(float32(qw[i]*diff) * diff)
	}
	for is := -4; is <= 4; is++ {
		if is == 0 {
			continue
		}
		iscaleIs := (float32(float32(0.1)*float32(is)) + fnmax) / max
		scaleIs := 1 / iscaleIs
		var mse float32
		for i, v := range x {
			l := nearestInt(iscaleIs * v)
			if l > nmax {
				l = nmax
			}
			diff := v - float32(scaleIs*float32(l))
			mse += float32(float32(qw[i]*diff) * diff)
		}
		if mse < bestMSE {
			bestMSE = mse
			iscale = iscaleIs
		}
	}
	var sumlx, suml2 float32
	for i, v := range x {
		l := nearestInt(iscale * v)
		if l > nmax {
			l = nmax
		}
		L[i] = uint8(l)
		w := qw[i]
		fl := float32(l) // C sums the int level, not the stored byte
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i, v := range x {
			w := qw[i]
			fl := float32(L[i])
			slx := sumlx - float32(float32(w*v)*fl)
			sl2 := suml2 - float32(float32(w*fl)*fl)
			if slx > 0 && sl2 > 0 {
				newL := nearestInt(float32(v*sl2) / slx)
				if newL > nmax {
					newL = nmax
				}
				if newL != int32(L[i]) {
					fn := float32(newL)
					slx += float32(float32(w*v) * fn)
					sl2 += float32(float32(w*fn) * fn)
					if float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = uint8(newL)
						sumlx, suml2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// bestIndexInt8 returns the index of the entry of the sorted table val nearest to x (ggml's
// best_index_int8). The binary search of the C code ends at the first entry greater than x;
// since the entries are integers that is the first entry greater than floor(x), which a table
// gives directly (only the IQ4NLValues table is used, so its lookup is precomputed).
func bestIndexInt8(val *[16]int8, x float32) int {
	if x <= float32(val[0]) {
		return 0
	}
	if x >= float32(val[15]) {
		return 15
	}
	if val == &IQ4NLValues {
		return iq4Index(x)
	}
	mu := 1
	for float32(val[mu]) <= x {
		mu++
	}
	if x-float32(val[mu-1]) < float32(val[mu])-x {
		return mu - 1
	}
	return mu
}

// iq4Index is bestIndexInt8(&IQ4NLValues, x), small enough to inline.
func iq4Index(x float32) int {
	if x <= -127 {
		return 0
	}
	if x >= 113 {
		return 15
	}
	mu := iq4Above[uint8(floorInt(x)+128)]
	if x-iq4Float[mu-1] < iq4Float[mu]-x {
		return int(mu - 1)
	}
	return int(mu)
}

// iq4Float holds IQ4NLValues as float32.
var iq4Float = func() (f [16]float32) {
	for i, v := range IQ4NLValues {
		f[i] = float32(v)
	}
	return
}()

// iq4Above[k+128] is the index of the first IQ4NLValues entry greater than k.
var iq4Above = func() (t [256]uint8) {
	for k := -128; k < 128; k++ {
		i := 0
		for i < 15 && int(IQ4NLValues[i]) <= k {
			i++
		}
		t[k+128] = uint8(i)
	}
	return
}()

// floorInt returns floor(x) for |x| < 2^31.
func floorInt(x float32) int32 {
	i := int32(x)
	if float32(i) > x {
		i--
	}
	return i
}
