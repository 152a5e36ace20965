package autograd

import "slices"

// Reshape returns x viewed with another shape holding the same number of elements. The result
// shares x's Data (no copy).
func Reshape[T Float](tp *Tape[T], x *Tensor[T], shape ...int) *Tensor[T] {
	s, ok := tp.validate(opReshape, slices.Clone(shape), x)
	if !ok {
		return nil
	}
	out := tp.view(x, s)
	tp.record(opReshape, &reshapeOp[T]{x: x}, out, x)
	return out
}

// reshapeOp is a recorded Reshape.
type reshapeOp[T Float] struct{ x *Tensor[T] }

func (op *reshapeOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	addInto(tp, tp.grad(op.x), out.Grad)
}
