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

// expT returns e^x: math.Exp for float64, expf for float32.
func expT[T Float](x float64) float64 {
	if isF32[T]() {
		return expf(x)
	}
	return math.Exp(x)
}

// expFunc returns the exponential suited to T, resolved once per kernel call.
func expFunc[T Float]() func(float64) float64 {
	if isF32[T]() {
		return expf
	}
	return math.Exp
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

// logSumExp returns log Σ exp(scale*x_i), accumulated in float64.
func logSumExp[T Float](x []T, scale float64, exp func(float64) float64) float64 {
	m := rowMax(x)
	if scale != 1 {
		// scale > 0 keeps the maximum where it is.
		m *= scale
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += exp(float64(v)*scale - m)
	}
	return m + math.Log(s)
}

// sigmoid returns 1/(1+e^-x) with the given exponential.
func sigmoid(x float64, exp func(float64) float64) float64 {
	if x >= 0 {
		return 1 / (1 + exp(-x))
	}
	e := exp(x)
	return e / (1 + e)
}
