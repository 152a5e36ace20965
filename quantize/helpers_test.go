package quantize

import (
	"math"
	"testing"
)

// bestIndexSearch is ggml's best_index_int8 written as its binary search, the reference for the
// table lookup.
func bestIndexSearch(val *[16]int8, x float32) int {
	if x <= float32(val[0]) {
		return 0
	}
	if x >= float32(val[15]) {
		return 15
	}
	ml, mu := 0, 15
	for mu-ml > 1 {
		mav := (ml + mu) / 2
		if x < float32(val[mav]) {
			mu = mav
		} else {
			ml = mav
		}
	}
	if x-float32(val[mu-1]) < float32(val[mu])-x {
		return mu - 1
	}
	return mu
}

func TestBestIndexInt8(t *testing.T) {
	other := [16]int8{-100, -90, -50, -49, -10, -1, 0, 1, 2, 3, 20, 40, 41, 80, 100, 120}
	r := &rng{s: 3}
	check := func(x float32) {
		for _, v := range []*[16]int8{&IQ4NLValues, &other} {
			if got, want := bestIndexInt8(v, x), bestIndexSearch(v, x); got != want {
				t.Fatalf("x=%v: %d, want %d", x, got, want)
			}
		}
	}
	for k := -130; k <= 130; k++ {
		for _, d := range []float32{0, 0.25, 0.5, 0.75, -0.5, 1e-6, -1e-6} {
			x := float32(k) + d
			check(x)
			check(math.Nextafter32(x, 200))
			check(math.Nextafter32(x, -200))
		}
	}
	for i := 0; i < 100000; i++ {
		check(300 * (r.uniform() - 0.5))
	}
}

func TestNearestInt(t *testing.T) {
	for _, tc := range []struct {
		in   float32
		want int32
	}{{0, 0}, {0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2}, {3.49, 3}, {-3.51, -4}, {4194303, 4194303}, {-4194303, -4194303}} {
		if got := nearestInt(tc.in); got != tc.want {
			t.Errorf("nearestInt(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
