package autograd

import "testing"

func addBias[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return AddBias(tp, in[0], in[1])
}

var _ = addGradCases(
	newCase(opAddBias, "2d", struct{}{}, addBias[float64], addBias[float32], arg(5, 3), arg(3)),
	// 130 rows: more than one fixed chunk of the bias-gradient reduction.
	newCase(opAddBias, "3d many rows", struct{}{}, addBias[float64], addBias[float32], arg(2, 65, 2), arg(2)),
)

func TestAddBiasGradients(t *testing.T) { runGradCases(t, opAddBias) }

func TestAddBiasShapeError(t *testing.T) {
	tp := &Tape[float32]{}
	x, _ := NewTensor[float32](nil, 4, 3)
	b, _ := NewTensor[float32](nil, 4)
	if AddBias(tp, x, b) != nil || tp.Err() == nil {
		t.Fatal("bias [4] accepted for x [4 3]")
	}
}
