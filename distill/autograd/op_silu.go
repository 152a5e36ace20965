package autograd

// SiLU returns x·σ(x) elementwise (also called swish), σ the logistic sigmoid.
func SiLU[T Float](tp *Tape[T], x *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opSiLU, nil, x)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	exp := expFunc[T]()
	parallelRange(tp.threads(), len(x.Data), elemChunk, func(_, lo, hi int) {
		for i, v := range x.Data[lo:hi] {
			out.Data[lo+i] = T(float64(v) * sigmoid(float64(v), exp))
		}
	})
	tp.record(opSiLU, &siluOp[T]{x: x}, out, x)
	return out
}

// siluOp is a recorded SiLU; σ is recomputed in the backward pass rather than stored.
type siluOp[T Float] struct{ x *Tensor[T] }

// siluGrad returns d silu(x) / dx = σ(x)·(1 + x·(1 − σ(x))) and silu(x).
func siluGrad(x float64, exp func(float64) float64) (grad, val float64) {
	s := sigmoid(x, exp)
	return s * (1 + x*(1-s)), x * s
}

func (op *siluOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	dx := tp.grad(op.x)
	exp := expFunc[T]()
	parallelRange(tp.threads(), len(dx), elemChunk, func(_, lo, hi int) {
		for i, v := range op.x.Data[lo:hi] {
			d, _ := siluGrad(float64(v), exp)
			dx[lo+i] += T(float64(out.Grad[lo+i]) * d)
		}
	})
}
