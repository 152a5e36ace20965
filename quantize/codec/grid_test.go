package codec

import (
	"math/rand/v2"
	"testing"
)

// TestGridSnap checks every Grid against the type's dequantizer: after FitBlock, snapping
// arbitrary values stores levels that DequantizeRow decodes to exactly the values Snap
// returned, each the nearest level of the block's fixed scales (brute force over all levels).
func TestGridSnap(t *testing.T) {
	tests := []struct {
		name string
		id   uint32
	}{
		{"Q4_0", 2}, {"Q4_1", 3}, {"Q5_0", 6}, {"Q5_1", 7}, {"Q8_0", 8},
		{"Q2_K", 10}, {"Q3_K", 11}, {"Q4_K", 12}, {"Q5_K", 13}, {"Q6_K", 14},
		{"IQ4_NL", 20}, {"IQ4_XS", 23},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, ok := LookupGrid(tc.id)
			if !ok {
				t.Fatalf("no grid for %s", tc.name)
			}
			c, _ := Lookup(tc.id)
			lv := c.(leveler)
			rng := rand.New(rand.NewPCG(1, uint64(tc.id)))
			bs := g.BlockSize()
			x := make([]float32, bs)
			w := make([]float32, bs)
			got := make([]float32, bs)
			dq := make([]float32, bs)
			for trial := range 20 {
				for i := range x {
					x[i] = float32(rng.NormFloat64())
					w[i] = float32(rng.Float64() + 0.1)
				}
				b := make([]byte, g.TypeSize())
				var imat []float32
				if trial%2 == 1 {
					imat = w
				}
				g.FitBlock(b, x, imat)
				for i := range x {
					// a perturbed value, sometimes far outside the block's range
					v := x[i] + float32(rng.NormFloat64()*0.3)
					if i%17 == 0 {
						v *= 5
					}
					got[i] = g.Snap(b, i, v)
					l := lv.levelsAt(b, i)
					best := abs32(v - l.value(l.nearest(v)))
					for q := l.lo; q <= l.hi; q++ {
						if e := abs32(v - l.value(q)); e < best {
							t.Fatalf("trial %d weight %d: snapped %g to %g, but level %d (%g) is nearer", trial, i, v, got[i], q, l.value(q))
						}
					}
				}
				c.DequantizeRow(dq, b)
				for i := range dq {
					if dq[i] != got[i] {
						t.Fatalf("trial %d weight %d: Snap returned %g, the block decodes to %g", trial, i, got[i], dq[i])
					}
				}
			}
		})
	}
}

// TestGridFitMatchesQuantizer checks that FitBlock is the type's own quantizer: the bytes equal
// QuantizeRow's for the same block and weights.
func TestGridFitMatchesQuantizer(t *testing.T) {
	for _, id := range Types[uint32]() {
		g, ok := LookupGrid(id)
		if !ok {
			continue
		}
		c, _ := Lookup(id)
		rng := rand.New(rand.NewPCG(2, uint64(id)))
		x := make([]float32, g.BlockSize())
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		a, b := make([]byte, g.TypeSize()), make([]byte, g.TypeSize())
		g.FitBlock(a, x, nil)
		c.QuantizeRow(b, x, nil)
		if string(a) != string(b) {
			t.Errorf("type %d: FitBlock differs from QuantizeRow", id)
		}
	}
}

// TestSearchBlockNeverWorse checks that SearchBlock's weighted error is at most FitBlock's on
// every type, strictly lower on some blocks, and that its bytes decode to the levels Snap
// gives (a standard block).
func TestSearchBlockNeverWorse(t *testing.T) {
	for _, id := range Types[uint32]() {
		g, ok := LookupGrid(id)
		if !ok {
			continue
		}
		c, _ := Lookup(id)
		rng := rand.New(rand.NewPCG(3, uint64(id)))
		n := g.BlockSize()
		x, w, dq := make([]float32, n), make([]float32, n), make([]float32, n)
		e := make([]float64, n)
		errOf := func(b []byte) float64 {
			c.DequantizeRow(dq, b)
			searchWeights(e, x, w)
			s := 0.0
			for i := range x {
				d := float64(x[i] - dq[i])
				s += e[i] * d * d
			}
			return s
		}
		better := 0
		for trial := range 30 {
			for i := range x {
				x[i] = float32(rng.NormFloat64() * (1 + float64(i%7)))
				w[i] = float32(rng.ExpFloat64())
			}
			a, b := make([]byte, g.TypeSize()), make([]byte, g.TypeSize())
			g.FitBlock(a, x, w)
			SearchBlock(g, b, x, w)
			ea, eb := errOf(a), errOf(b)
			if eb > ea*(1+1e-6) {
				t.Fatalf("type %d trial %d: search error %g above the quantizer's %g", id, trial, eb, ea)
			}
			if eb < ea*(1-1e-6) {
				better++
			}
		}
		if better == 0 {
			t.Errorf("type %d: the search never improved on the quantizer", id)
		}
	}
}
