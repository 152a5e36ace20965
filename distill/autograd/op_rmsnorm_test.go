package autograd

import (
	"math"
	"testing"
)

func rmsNorm[T Float](eps float64, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return RMSNorm(tp, in[0], in[1], eps)
}

var _ = addGradCases(
	newCase(opRMSNorm, "rows", 1e-5, rmsNorm[float64], rmsNorm[float32], arg(4, 6), inSpec{shape: []int{6}, grad: true, shift: 1}),
	newCase(opRMSNorm, "many rows, big eps", 0.5, rmsNorm[float64], rmsNorm[float32], arg(2, 70, 3), inSpec{shape: []int{3}, grad: true, shift: 1}),
	newCase(opRMSNorm, "constant weight", 1e-6, rmsNorm[float64], rmsNorm[float32], arg(3, 5), constArg(5)),
)

func TestRMSNormGradients(t *testing.T) { runGradCases(t, opRMSNorm) }

func TestRMSNormValues(t *testing.T) {
	tp := &Tape[float64]{}
	x, _ := NewTensor([]float64{3, 4, 0, 0}, 2, 2)
	w, _ := NewTensor([]float64{1, 2}, 2)
	y := RMSNorm(tp, x, w, 1e-6)
	r := math.Sqrt(12.5 + 1e-6)
	want := []float64{3 / r, 8 / r, 0, 0}
	for i := range want {
		if math.Abs(y.Data[i]-want[i]) > 1e-12 {
			t.Fatalf("RMSNorm = %v, want %v", y.Data, want)
		}
	}
	if RMSNorm(tp, x, w, 0) != nil || tp.Err() == nil {
		t.Fatal("eps 0 accepted")
	}
}
