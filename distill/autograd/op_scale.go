package autograd

import "github.com/mcompress/mcompress/internal/parallel"

// Scale returns c·x, for weighting terms of a loss (for example alpha·T²·KL).
func Scale[T Float](tp *Tape[T], x *Tensor[T], c float64) *Tensor[T] {
	shape, ok := tp.validate(opScale, c, x)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	s := T(c)
	parallel.Range(tp.threads(), len(out.Data), elemChunk, func(_, lo, hi int) {
		for i, v := range x.Data[lo:hi] {
			out.Data[lo+i] = s * v
		}
	})
	tp.record(opScale, &scaleOp[T]{x: x, c: s}, out, x)
	return out
}

// scaleOp is a recorded Scale.
type scaleOp[T Float] struct {
	x *Tensor[T]
	c T
}

func (op *scaleOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	dx := tp.grad(op.x)
	parallel.Range(tp.threads(), len(dx), elemChunk, func(_, lo, hi int) {
		for i, g := range out.Grad[lo:hi] {
			dx[lo+i] += op.c * g
		}
	})
}
