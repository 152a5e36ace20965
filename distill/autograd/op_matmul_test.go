package autograd

import "testing"

type mmArgs struct{ ta, tb bool }

func mm[T Float](a mmArgs, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return MatMul(tp, in[0], in[1], a.ta, a.tb)
}

// mmTwice applies one weight to two inputs: its gradient accumulates from both products.
func mmTwice[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	a := MatMul(tp, in[0], in[2], false, true)
	b := MatMul(tp, in[1], in[2], false, true)
	return Add(tp, Sum(tp, Mul(tp, a, a)), Sum(tp, b))
}

var _ = addGradCases(
	newCase(opMatMul, "2d", mmArgs{}, mm[float64], mm[float32], arg(3, 4), arg(4, 5)),
	newCase(opMatMul, "transA", mmArgs{ta: true}, mm[float64], mm[float32], arg(4, 3), arg(4, 5)),
	newCase(opMatMul, "transB", mmArgs{tb: true}, mm[float64], mm[float32], arg(3, 4), arg(5, 4)),
	newCase(opMatMul, "transA+transB", mmArgs{true, true}, mm[float64], mm[float32], arg(4, 3), arg(5, 4)),
	newCase(opMatMul, "batched", mmArgs{}, mm[float64], mm[float32], arg(2, 3, 4), arg(2, 4, 5)),
	newCase(opMatMul, "batched transA+transB", mmArgs{true, true}, mm[float64], mm[float32], arg(2, 2, 4, 3), arg(2, 2, 5, 4)),
	newCase(opMatMul, "shared weight", mmArgs{tb: true}, mm[float64], mm[float32], arg(2, 3, 4), arg(5, 4)),
	newCase(opMatMul, "shared weight transA", mmArgs{ta: true}, mm[float64], mm[float32], arg(2, 4, 3), arg(4, 5)),
	newCase(opMatMul, "shared weight transA+transB", mmArgs{true, true}, mm[float64], mm[float32], arg(3, 4, 2), arg(5, 4)),
	newCase(opMatMul, "weight used twice", struct{}{}, mmTwice[float64], mmTwice[float32], arg(3, 4), arg(2, 4), arg(5, 4)),
	newCase(opMatMul, "constant weight", mmArgs{tb: true}, mm[float64], mm[float32], arg(3, 4), constArg(5, 4)),
	newCase(opMatMul, "constant input", mmArgs{}, mm[float64], mm[float32], constArg(3, 4), arg(4, 5)),
	// Larger than one micro-tile and one task tile in every direction, with ragged edges.
	newCase(opMatMul, "tiles", mmArgs{tb: true}, mm[float64], mm[float32], arg(67, 9), arg(261, 9)),
)

func TestMatMulGradients(t *testing.T) { runGradCases(t, opMatMul) }

func TestMatMulShapeErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		a, b   []int
		ta, tb bool
	}{
		{"inner", []int{3, 4}, []int{5, 6}, false, false},
		{"inner transB", []int{3, 4}, []int{4, 6}, false, true},
		{"vector", []int{4}, []int{4, 6}, false, false},
		{"batch", []int{2, 3, 4}, []int{3, 4, 5}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := &Tape[float32]{}
			a, _ := NewTensor[float32](nil, c.a...)
			b, _ := NewTensor[float32](nil, c.b...)
			if out := MatMul(tp, a, b, c.ta, c.tb); out != nil {
				t.Fatalf("got a result %v for incompatible shapes", out)
			}
			if tp.Err() == nil {
				t.Fatal("no error recorded")
			}
			t.Log(tp.Err())
		})
	}
}
