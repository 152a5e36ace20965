package autograd

import (
	"math"
	"testing"
)

func logSoftmax[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return LogSoftmax(tp, in[0])
}

var _ = addGradCases(
	newCase(opLogSoftmax, "rows", struct{}{}, logSoftmax[float64], logSoftmax[float32], inSpec{shape: []int{3, 7}, grad: true, scale: 5}),
	newCase(opLogSoftmax, "3d", struct{}{}, logSoftmax[float64], logSoftmax[float32], arg(2, 2, 4)),
)

func TestLogSoftmaxGradients(t *testing.T) { runGradCases(t, opLogSoftmax) }

func TestLogSoftmaxValues(t *testing.T) {
	tp := &Tape[float32]{}
	// Large logits: a naive exp would overflow float32.
	x, _ := NewTensor([]float32{1000, 1000, 999}, 1, 3)
	y := LogSoftmax(tp, x)
	l := math.Log(2 + math.Exp(-1))
	want := []float64{-l, -l, -1 - l}
	for i := range want {
		if math.Abs(float64(y.Data[i])-want[i]) > 1e-6 {
			t.Fatalf("LogSoftmax = %v, want %v", y.Data, want)
		}
	}
}
