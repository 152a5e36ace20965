package autograd

import (
	"math"
	"testing"
)

// TestExpShift checks the float32 exponential (vector kernel where the CPU has one, and the
// scalar tail) against math.Exp over the whole float32 range, including underflow to 0,
// overflow to +Inf and −Inf inputs.
func TestExpShift(t *testing.T) {
	var src []float32
	for x := -120.0; x < 95; x += 0.0137 {
		src = append(src, float32(x))
	}
	src = append(src, float32(math.Inf(-1)), -1e30, 0, 1e-30)
	saved := expShiftVec
	defer func() { expShiftVec = saved }()
	for _, vec := range []bool{true, false} {
		if !vec {
			expShiftVec = nil // the scalar path
		}
		testExpShift(t, src)
	}
	t.Logf("vector exponential available: %v", saved != nil)
}

func testExpShift(t *testing.T, src []float32) {
	for _, c := range []struct{ scale, shift float64 }{{1, 0}, {0.5, 3}, {-1, 0}} {
		dst := make([]float32, len(src))
		sum := expShift(dst, src, c.scale, c.shift)
		want := 0.0
		for i, x := range src {
			w := math.Exp(float64(float32(float64(x)*c.scale)) - c.shift)
			if float32(w) == 0 || math.IsInf(float64(float32(w)), 1) {
				if d := float64(dst[i]); !(d == float64(float32(w)) || (d < 2e-38 && w < 2e-38)) {
					t.Fatalf("scale %v shift %v: exp at %v = %v, want %v", c.scale, c.shift, x, dst[i], float32(w))
				}
			} else if e := math.Abs(float64(dst[i])-w) / w; e > 3e-7+1.2e-7*math.Abs(math.Log(w)) && w > 1e-37 {
				// The argument scale·x − shift is a float32: its rounding (half an ulp,
				// 6e-8 relative) moves exp by that much times |argument|.
				t.Fatalf("scale %v shift %v: exp at %v = %v, want %v (relative error %.2g)", c.scale, c.shift, x, dst[i], w, e)
			}
			want += float64(dst[i])
		}
		if !math.IsInf(want, 1) && math.Abs(sum-want) > 1e-5*want {
			t.Errorf("sum %v, want %v", sum, want)
		}
	}
}
