package codec

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

// TestRoundAway compares roundAway with math.Round (C's roundf) at and around every half
// integer of the Q8_0 range and beyond, at zeros and on random values.
func TestRoundAway(t *testing.T) {
	check := func(x float32) {
		if got, want := roundAway(x), int32(math.Round(float64(x))); got != want {
			t.Fatalf("roundAway(%v) = %d, want %d", x, got, want)
		}
	}
	for k := -300; k <= 300; k++ {
		for _, d := range []float32{0, 0.25, 0.5, 0.75, -0.5, 1e-6, -1e-6} {
			x := float32(k) + d
			check(x)
			check(math.Nextafter32(x, 1000))
			check(math.Nextafter32(x, -1000))
		}
	}
	for _, x := range []float32{float32(math.Copysign(0, -1)), 1e-45, -1e-45, 0.49999997, -0.49999997, 8388607.5, -8388607.5, 8388607, 4194303.5} {
		check(x)
	}
	r := &rng{s: 23}
	for i := 0; i < 1000000; i++ {
		check(float32(400 * (r.uniform() - 0.5)))
	}
}

// TestQuantLevelsMatchesGo compares the platform's quantLevels with the pure-Go definition on
// random inputs, including negative, zero, huge, tie-on-.5 and denormal products.
func TestQuantLevelsMatchesGo(t *testing.T) {
	r := &rng{s: 17}
	var xm [32]float32
	for iter := 0; iter < 20000; iter++ {
		for i := range xm {
			switch r.next() % 6 {
			case 0:
				xm[i] = -r.uniform()
			case 1:
				xm[i] = 0
			case 2:
				xm[i] = float32(r.next()%64) / 2 // exact halves: ties
			case 3:
				xm[i] = 1e-40 * r.uniform()
			default:
				xm[i] = 40 * r.uniform()
			}
		}
		iscale := 0.5 + 2*r.uniform()
		if r.next()%2 == 0 {
			iscale = -iscale
		}
		lo, hi := float32(0), []float32{3, 15, 31, 63}[r.next()%4]
		if r.next()%2 == 0 {
			lo = -hi - 1 // the symmetric ranges -nmax..nmax-1
		}
		var got, want [32]uint8
		quantLevels(&got, &xm, iscale, lo, hi)
		quantLevelsGo(&want, &xm, iscale, lo, hi)
		if got != want {
			t.Fatalf("iscale %v range [%v, %v] xm %v: got %v want %v", iscale, lo, hi, xm, got, want)
		}
		for i, v := range xm {
			l := clampInt(nearestInt(iscale*v), int32(lo), int32(hi))
			if int32(int8(want[i])) != l {
				t.Fatalf("x=%v: %d, nearestInt gives %d", iscale*v, int8(want[i]), l)
			}
		}
	}
}
