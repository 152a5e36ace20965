package autograd

import "math"

// expf returns e^x for a float32 result with a relative error below 1e-7 (well under float32's
// half-ulp of 6e-8 plus rounding), several times faster than math.Exp. Inputs below -104 give
// 0 (float32 underflow, also for -Inf), above 89 give +Inf; NaN gives NaN.
func expf(x float64) float64 {
	if x < -104 {
		return 0
	}
	if !(x <= 89) {
		if x != x {
			return x
		}
		return math.Inf(1)
	}
	// x = n*ln2 + r, |r| <= ln2/2; e^x = 2^n * e^r.
	const (
		log2e = 1.44269504088896340736
		ln2hi = 6.93147180369123816490e-01
		ln2lo = 1.90821492927058770002e-10
		magic = 6755399441055744.0 // 1.5*2^52: adding it rounds to an integer
	)
	t := x*log2e + magic
	n := t - magic
	r := x - n*ln2hi - n*ln2lo
	// Taylor series of e^r to degree 7: error below r^8/8! < 6e-9 for |r| <= 0.35.
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// rowMax returns the largest element of x (−Inf for an empty row).
func rowMax[T Float](x []T) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		if float64(v) > m {
			m = float64(v)
		}
	}
	return m
}

// logSumExp returns log Σ exp(scale·x_i) for scale > 0, using tmp (len ≥ len(x)) as scratch.
func logSumExp[T Float](x, tmp []T, scale float64) float64 {
	m := rowMax(x) * scale
	if math.IsInf(m, -1) {
		return m
	}
	return m + math.Log(expShift(tmp, x, scale, m))
}

// sigmoidRow sets dst[i] = σ(src[i]) = 1/(1 + e^−src[i]) (dst may be src).
func sigmoidRow[T Float](dst, src []T) {
	expShift(dst, src, -1, 0)
	for i, e := range dst[:len(src)] {
		dst[i] = 1 / (1 + e)
	}
}

// expShiftVec is the vector kernel behind expShift for float32 (nil: scalar code). It handles
// the first len(src)&^15 elements and returns their sum.
var expShiftVec func(dst, src []float32, scale, shift float32) float32

// expShift sets dst[i] = exp(scale·src[i] − shift) and returns Σ dst (dst may be src). For
// float32 it uses the vector kernel when the CPU has one (relative error about 1e-7, sum
// accumulated in float32 lanes), else expf; for float64, math.Exp and a float64 sum.
func expShift[T Float](dst, src []T, scale, shift float64) float64 {
	dst = dst[:len(src)]
	s := 0.0
	i := 0
	if d32, ok := any(dst).([]float32); ok {
		s32 := src32(src)
		if expShiftVec != nil && len(s32) >= 16 {
			i = len(s32) &^ 15
			s = float64(expShiftVec(d32[:i], s32[:i], float32(scale), float32(shift)))
		}
		for ; i < len(s32); i++ {
			e := float32(expf(float64(s32[i]*float32(scale) - float32(shift))))
			d32[i] = e
			s += float64(e)
		}
		return s
	}
	for j, v := range src {
		e := math.Exp(float64(v)*scale - shift)
		dst[j] = T(e)
		s += e
	}
	return s
}

// src32 returns s as []float32 (the caller checked T is float32).
func src32[T Float](s []T) []float32 {
	v, _ := any(s).([]float32)
	return v
}
