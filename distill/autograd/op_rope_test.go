package autograd

import (
	"math"
	"testing"
)

type ropeArgs struct {
	cfg RoPEConfig
	pos []int32
}

func rope[T Float](a ropeArgs, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return RoPE(tp, in[0], a.pos, a.cfg)
}

var _ = addGradCases(
	newCase(opRoPE, "normal", ropeArgs{RoPEConfig{HeadDim: 4, Theta: 10000}, []int32{0, 1, 2, 7}},
		rope[float64], rope[float32], arg(4, 2*4)),
	newCase(opRoPE, "neox", ropeArgs{RoPEConfig{HeadDim: 6, Theta: 100, Style: RoPENeoX}, []int32{5, 3, 0}},
		rope[float64], rope[float32], arg(3, 2*6)),
	newCase(opRoPE, "freqs, sparse positions", ropeArgs{RoPEConfig{HeadDim: 4, Freqs: []float64{1, 0.25}, Style: RoPENeoX}, []int32{1000, 2}},
		rope[float64], rope[float32], arg(2, 1, 4)),
)

func TestRoPEGradients(t *testing.T) { runGradCases(t, opRoPE) }

// TestRoPEValues checks both layouts against the rotation written out by hand: one head of 4,
// position 3, theta 100: pair 0 turns by 3 rad, pair 1 by 3/10 rad.
func TestRoPEValues(t *testing.T) {
	x := []float64{1, 2, 3, 4}
	a0, a1 := 3.0, 0.3
	rot := func(u, v, a float64) (float64, float64) {
		return u*math.Cos(a) - v*math.Sin(a), u*math.Sin(a) + v*math.Cos(a)
	}
	n0, n1 := rot(x[0], x[1], a0) // normal: pairs (0,1), (2,3)
	n2, n3 := rot(x[2], x[3], a1)
	h0, h2 := rot(x[0], x[2], a0) // neox: pairs (0,2), (1,3)
	h1, h3 := rot(x[1], x[3], a1)
	for _, c := range []struct {
		style RoPEStyle
		want  []float64
	}{
		{RoPENormal, []float64{n0, n1, n2, n3}},
		{RoPENeoX, []float64{h0, h1, h2, h3}},
	} {
		tp := &Tape[float64]{}
		xt, _ := NewTensor(append([]float64(nil), x...), 1, 4)
		y := RoPE(tp, xt, []int32{3}, RoPEConfig{HeadDim: 4, Theta: 100, Style: c.style})
		if tp.Err() != nil {
			t.Fatal(tp.Err())
		}
		for i := range c.want {
			if math.Abs(y.Data[i]-c.want[i]) > 1e-12 {
				t.Errorf("style %d: got %v, want %v", c.style, y.Data, c.want)
				break
			}
		}
	}
}

func TestRoPEErrors(t *testing.T) {
	x, _ := NewTensor[float32](nil, 2, 8)
	for _, c := range []struct {
		name string
		pos  []int32
		cfg  RoPEConfig
	}{
		{"odd head", []int32{0, 1}, RoPEConfig{HeadDim: 3, Theta: 1e4}},
		{"head does not divide", []int32{0, 1}, RoPEConfig{HeadDim: 6, Theta: 1e4}},
		{"positions", []int32{0}, RoPEConfig{HeadDim: 4, Theta: 1e4}},
		{"negative position", []int32{0, -1}, RoPEConfig{HeadDim: 4, Theta: 1e4}},
		{"theta", []int32{0, 1}, RoPEConfig{HeadDim: 4}},
		{"freqs", []int32{0, 1}, RoPEConfig{HeadDim: 4, Freqs: []float64{1}}},
		{"style", []int32{0, 1}, RoPEConfig{HeadDim: 4, Theta: 1e4, Style: 7}},
	} {
		tp := &Tape[float32]{}
		if RoPE(tp, x, c.pos, c.cfg) != nil || tp.Err() == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
}
