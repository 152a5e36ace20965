package autograd

import "testing"

// reshapeMul reshapes then multiplies, so the gradient through the view is not all ones.
func reshapeMul[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	r := Reshape(tp, in[0], 3, 2, 2)
	return Mul(tp, r, r)
}

var _ = addGradCases(
	newCase(opReshape, "view", struct{}{}, reshapeMul[float64], reshapeMul[float32], arg(4, 3)),
)

func TestReshapeGradients(t *testing.T) { runGradCases(t, opReshape) }

func TestReshapeErrors(t *testing.T) {
	tp := &Tape[float32]{}
	x, _ := NewTensor[float32](nil, 4, 3)
	if Reshape(tp, x, 5, 2) != nil || tp.Err() == nil {
		t.Fatal("12 elements reshaped to [5 2]")
	}
	tp.Reset()
	if Reshape(tp, x, -1, -12) != nil || tp.Err() == nil {
		t.Fatal("negative dimensions accepted")
	}
}
