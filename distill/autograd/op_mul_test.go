package autograd

import "testing"

func mul[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] { return Mul(tp, in[0], in[1]) }

// mulSelf multiplies an input by itself: both gradient paths land in the same tensor.
func mulSelf[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return Mul(tp, in[0], in[0])
}

var _ = addGradCases(
	newCase(opMul, "same shape", struct{}{}, mul[float64], mul[float32], arg(3, 4), arg(3, 4)),
	newCase(opMul, "row vector", struct{}{}, mul[float64], mul[float32], arg(2, 3, 4), arg(4)),
	newCase(opMul, "both broadcast", struct{}{}, mul[float64], mul[float32], arg(2, 1, 4), arg(3, 1)),
	newCase(opMul, "self", struct{}{}, mulSelf[float64], mulSelf[float32], arg(5)),
)

func TestMulGradients(t *testing.T) { runGradCases(t, opMul) }
