package runtime

import (
	"math"
	"testing"

	"github.com/mcompress/mcompress/convert"
)

// TestRoPEFrequencies pins the frequencies to ggml's formulas for every scaling the runtime
// and distill support (none, linear, llama3 factors, YaRN), and checks that distill's folded
// form agrees with the runtime's angle: exactly without YaRN, to rounding with it.
func TestRoPEFrequencies(t *testing.T) {
	base := convert.Config{RopeDim: 64, RopeTheta: 500000, ContextLength: 8192}
	withScaling := func(typ string, factor float64) convert.Config {
		c := base
		c.RopeScaling = convert.RopeScaling{Type: typ, Factor: factor, OriginalContext: 4096}
		return c
	}
	factors := make([]float32, 32)
	for i := range factors {
		factors[i] = 1 + float32(i%4)
	}
	factors[5] = 0 // ignored
	pow := func(i int) float64 { return math.Pow(base.RopeTheta, -2*float64(i)/64) }
	for _, c := range []struct {
		name    string
		cfg     convert.Config
		factors []float32
		want    func(i int) float64 // Inv[i]
		yarn    bool
	}{
		{"plain", base, nil, pow, false},
		{"linear", withScaling("linear", 4), nil, func(i int) float64 { return pow(i) * 0.25 }, false},
		{"llama3", base, factors, func(i int) float64 {
			if i == 5 {
				return pow(i)
			}
			return pow(i) / float64(factors[i])
		}, false},
		{"yarn", withScaling("yarn", 4), nil, pow, true},
		{"yarn-factor-1", withScaling("yarn", 1), nil, pow, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := NewRoPEFrequencies(c.cfg, c.factors)
			if len(f.Inv) != 32 {
				t.Fatalf("%d pairs, want 32", len(f.Inv))
			}
			for i, v := range f.Inv {
				if w := c.want(i); v != w {
					t.Errorf("Inv[%d] = %v, want %v", i, v, w)
				}
			}
			if (f.YaRNMix != nil) != c.yarn {
				t.Fatalf("YaRNMix %v, YaRN %v", f.YaRNMix, c.yarn)
			}
			per := f.PerPosition()
			if !c.yarn {
				if f.MScale != 1 {
					t.Errorf("MScale %v without YaRN", f.MScale)
				}
				for i := range per {
					if per[i] != f.Inv[i] || f.angle(i, 1000) != 1000*f.Inv[i] {
						t.Errorf("pair %d: per position %v, angle %v; Inv %v", i, per[i], f.angle(i, 1000), f.Inv[i])
					}
				}
				return
			}
			if want := 1 + 0.1*math.Log(4); f.MScale != want {
				t.Errorf("MScale %v, want %v", f.MScale, want)
			}
			if f.YaRNMix[0] != 1 || f.YaRNMix[31] != 0 {
				t.Errorf("YaRN mix runs from %v to %v, want 1 (fast pairs unscaled) to 0", f.YaRNMix[0], f.YaRNMix[31])
			}
			for i := range per {
				if a, b := f.angle(i, 1000), 1000*per[i]; math.Abs(a-b) > 1e-12*math.Abs(a) {
					t.Errorf("pair %d: runtime angle %v, distill's %v", i, a, b)
				}
			}
		})
	}
}
