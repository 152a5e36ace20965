package autograd

import "github.com/mcompress/mcompress/internal/parallel"

// Sum returns the sum of all elements of x as a scalar (shape []), accumulated in float64 in
// element order.
func Sum[T Float](tp *Tape[T], x *Tensor[T]) *Tensor[T] {
	return reduce(tp, opSum, x, 1)
}

// Mean returns the mean of all elements of x as a scalar (0 for an empty tensor).
func Mean[T Float](tp *Tape[T], x *Tensor[T]) *Tensor[T] {
	if x == nil || len(x.Data) == 0 {
		return reduce(tp, opMean, x, 0)
	}
	return reduce(tp, opMean, x, 1/float64(len(x.Data)))
}

func reduce[T Float](tp *Tape[T], kind opKind, x *Tensor[T], w float64) *Tensor[T] {
	shape, ok := tp.validate(kind, nil, x)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	s := 0.0
	for _, v := range x.Data {
		s += float64(v)
	}
	out.Data[0] = T(s * w)
	tp.record(kind, &reduceOp[T]{x: x, w: T(w)}, out, x)
	return out
}

// reduceOp is a recorded Sum (w = 1) or Mean (w = 1/n).
type reduceOp[T Float] struct {
	x *Tensor[T]
	w T
}

func (op *reduceOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	dx := tp.grad(op.x)
	g := op.w * out.Grad[0]
	parallel.Range(tp.threads(), len(dx), elemChunk, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			dx[i] += g
		}
	})
}
