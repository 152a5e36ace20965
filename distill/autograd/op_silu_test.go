package autograd

import (
	"math"
	"testing"
)

func silu[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] { return SiLU(tp, in[0]) }

var _ = addGradCases(
	newCase(opSiLU, "wide range", struct{}{}, silu[float64], silu[float32], inSpec{shape: []int{5, 7}, grad: true, scale: 8}),
)

func TestSiLUGradients(t *testing.T) { runGradCases(t, opSiLU) }

func TestSiLUValues(t *testing.T) {
	tp := &Tape[float64]{}
	x, _ := NewTensor([]float64{-50, -1, 0, 2, 50}, 5)
	y := SiLU(tp, x)
	for i, v := range x.Data {
		want := v / (1 + math.Exp(-v))
		if math.Abs(y.Data[i]-want) > 1e-14*(1+math.Abs(want)) {
			t.Errorf("silu(%v) = %v, want %v", v, y.Data[i], want)
		}
	}
}
